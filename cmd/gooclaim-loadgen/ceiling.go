package main

// This file is the ceiling: the least any token endpoint of RFC 6749 §4.4
// must do — read the request, authenticate the client, sign RFC 9068
// claims, write the answer — written with the standard library only, so
// that nothing of this module (its parser, its signer, its router) is in
// the figure it sets. TestCeilingImportsStandardLibraryOnly keeps it so:
// it fails on any import with a dot in its first path element and on any
// name this file uses but does not declare.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ceilingCommand is the hidden subcommand that runs the ceiling server.
const ceilingCommand = "ceiling-server"

// ceilingClient is one entry of the ceiling's --clients file: what the
// parent knows of each client. The incarnation is optional; the service
// signs it as client_incarnation, so the ceiling does too when it is given.
// Reuse marks a client whose token is given again while more than half its
// lifetime is left, as the service does for a client with token_reuse on:
// the least a server that reuses tokens must do (--reuse measures both).
type ceilingClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Incarnation  string `json:"client_incarnation,omitempty"`
	Reuse        bool   `json:"reuse,omitempty"`
}

// ceilingEntry is a client as the ceiling holds it: the SHA-256 of its
// secret (never the secret), its incarnation and whether it reuses tokens.
type ceilingEntry struct {
	secretHash  [32]byte
	incarnation string
	reuse       bool
}

// ceilingKept is the token kept for a reusing client.
type ceilingKept struct {
	token    string
	iat, exp int64
}

// runCeiling is the hidden ceiling-server subcommand.
func runCeiling(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(ceilingCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "PKCS #8 PEM private key to sign with (required)")
	kid := fs.String("kid", "", "the key's ID, the tokens' kid (required)")
	clientsFile := fs.String("clients", "", `JSON array of {"client_id","client_secret","client_incarnation"} (required)`)
	listen := fs.String("listen", "127.0.0.1:0", "address of the token endpoint")
	opsListen := fs.String("ops-listen", "", "address of the plain-HTTP GET /readyz and GET /debug/mallocs (empty: on --listen only)")
	iss := fs.String("issuer", "http://localhost:8080", "the tokens' iss")
	audience := fs.String("audience", "", "the tokens' aud (required)")
	scope := fs.String("scope", "", "the tokens' scope when the request names none, and the only scope granted (required)")
	ttl := fs.Duration("token-ttl", time.Hour, "the tokens' lifetime")
	tlsCert := fs.String("tls-cert", "", "PEM certificate to serve HTTPS with (with --tls-key; http.Server's TLS defaults)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *kid == "" || *clientsFile == "" || *audience == "" || *scope == "" {
		return errors.New("--key, --kid, --clients, --audience and --scope are required")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	h, err := newCeilingHandler(*keyFile, *kid, *clientsFile)
	if err != nil {
		return err
	}
	h.issuer, h.audience, h.scope, h.ttl = *iss, *audience, *scope, *ttl

	mux := http.NewServeMux()
	mux.Handle("POST /v1/auth/token", h)
	mux.HandleFunc("GET /readyz", ceilingReady)
	ops := http.NewServeMux()
	ops.HandleFunc("GET /readyz", ceilingReady)
	ops.HandleFunc("GET /debug/mallocs", serveMallocs)
	if *opsListen == "" {
		mux.HandleFunc("GET /debug/mallocs", serveMallocs)
	}
	// No timeouts beyond the defaults, no limiter, no log: the bare minimum.
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	done := make(chan error, 2)
	var opsSrv *http.Server
	if *opsListen != "" {
		oln, err := net.Listen("tcp", *opsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--ops-listen %s: %w", *opsListen, err)
		}
		opsSrv = &http.Server{Handler: ops}
		go func() { done <- opsSrv.Serve(oln) }()
	}
	scheme := "http"
	go func() {
		if *tlsCert != "" {
			// http.Server's defaults: session tickets on with keys random to
			// this process, Go's default curves (the post-quantum hybrid first).
			done <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
			return
		}
		done <- srv.Serve(ln)
	}()
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stderr, "ceiling-server listening on %s://%s, signing with %s key %s, %d clients\n", scheme, ln.Addr(), h.alg, *kid, len(h.clients))
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if opsSrv != nil {
		opsSrv.Shutdown(sctx)
	}
	return nil
}

func ceilingReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ready"}`)
}

// serveMallocs answers the process's cumulative count of heap allocations,
// as a decimal number: the same sum as the go_memstats_mallocs_total the
// service's /metrics shows (Prometheus's Go collector adds the tiny
// allocations to the others), so that allocations per token compare.
func serveMallocs(w http.ResponseWriter, _ *http.Request) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, strconv.FormatUint(n, 10)+"\n")
}

// ceilingHandler is the token endpoint.
type ceilingHandler struct {
	clients  map[string]ceilingEntry
	alg      string
	header   string // base64url of {"alg":…,"typ":"at+jwt","kid":…}
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	rsa      *rsa.PrivateKey
	issuer   string
	audience string
	scope    string
	ttl      time.Duration

	mu   sync.Mutex
	kept map[string]ceilingKept // by client_id, for the clients with reuse
}

// newCeilingHandler reads the key and the clients the parent wrote.
func newCeilingHandler(keyFile, kid, clientsFile string) (*ceilingHandler, error) {
	h := &ceilingHandler{}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("--key %s: want a PEM block PRIVATE KEY (PKCS #8)", keyFile)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", keyFile, err)
	}
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("--key %s: an ECDSA key on %s; ES256 needs P-256", keyFile, k.Curve.Params().Name)
		}
		h.alg, h.ec = "ES256", k
	case ed25519.PrivateKey:
		h.alg, h.ed = "EdDSA", k
	case *rsa.PrivateKey:
		h.alg, h.rsa = "RS256", k
	default:
		return nil, fmt.Errorf("--key %s: a %T; the ceiling signs with P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256) keys only", keyFile, priv)
	}
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{h.alg, "at+jwt", kid})
	if err != nil {
		return nil, err
	}
	h.header = base64.RawURLEncoding.EncodeToString(hdr)

	b, err := os.ReadFile(clientsFile)
	if err != nil {
		return nil, fmt.Errorf("--clients: %w", err)
	}
	var list []ceilingClient
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("--clients %s: want a JSON array of {\"client_id\",\"client_secret\"}: %w", clientsFile, err)
	}
	h.clients = make(map[string]ceilingEntry, len(list))
	h.kept = make(map[string]ceilingKept)
	for _, c := range list {
		h.clients[c.ClientID] = ceilingEntry{secretHash: sha256.Sum256([]byte(c.ClientSecret)), incarnation: c.Incarnation, reuse: c.Reuse}
	}
	return h, nil
}

// ceilingClaims are the claims the service signs (RFC 9068 §2.2), in its order.
type ceilingClaims struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	Audience    string `json:"aud"`
	ClientID    string `json:"client_id"`
	Scope       string `json:"scope,omitempty"`
	IssuedAt    int64  `json:"iat"`
	Expiry      int64  `json:"exp"`
	JWTID       string `json:"jti"`
	Incarnation string `json:"client_incarnation,omitempty"`
}

// ceilingToken is the token response (RFC 6749 §5.1).
type ceilingToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// ceilingRequest is a JSON token request's members the ceiling reads.
type ceilingRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
}

func (h *ceilingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		ceilingError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	var req ceilingRequest
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if json.Unmarshal(body, &req) != nil {
			ceilingError(w, http.StatusBadRequest, "invalid_request")
			return
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			ceilingError(w, http.StatusBadRequest, "invalid_request")
			return
		}
		req = ceilingRequest{GrantType: form.Get("grant_type"), ClientID: form.Get("client_id"),
			ClientSecret: form.Get("client_secret"), Scope: form.Get("scope")}
	}
	if id, secret, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both parts are form-url-encoded before base64.
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			ceilingError(w, http.StatusUnauthorized, "invalid_client")
			return
		}
		req.ClientID, req.ClientSecret = id, secret
	}
	if req.GrantType != "client_credentials" {
		ceilingError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	c, known := h.clients[req.ClientID]
	given := sha256.Sum256([]byte(req.ClientSecret))
	// Compared even for an unknown client, so that both take the same time.
	if subtle.ConstantTimeCompare(given[:], c.secretHash[:]) != 1 || !known {
		ceilingError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if req.Scope != "" && req.Scope != h.scope {
		ceilingError(w, http.StatusBadRequest, "invalid_scope")
		return
	}
	now := time.Now()
	if c.reuse {
		h.mu.Lock()
		k, ok := h.kept[req.ClientID]
		h.mu.Unlock()
		// Given again while more than half its lifetime is left.
		if left := k.exp - now.Unix(); ok && 2*left > k.exp-k.iat {
			h.answer(w, k.token, left)
			return
		}
	}
	var jti [16]byte
	rand.Read(jti[:])
	payload, err := json.Marshal(&ceilingClaims{
		Issuer: h.issuer, Subject: req.ClientID, Audience: h.audience, ClientID: req.ClientID, Scope: h.scope,
		IssuedAt: now.Unix(), Expiry: now.Add(h.ttl).Unix(), JWTID: base64.RawURLEncoding.EncodeToString(jti[:]),
		Incarnation: c.incarnation,
	})
	if err != nil {
		ceilingError(w, http.StatusInternalServerError, "server_error")
		return
	}
	token, err := h.sign(payload)
	if err != nil {
		ceilingError(w, http.StatusInternalServerError, "server_error")
		return
	}
	if c.reuse {
		h.mu.Lock()
		h.kept[req.ClientID] = ceilingKept{token: token, iat: now.Unix(), exp: now.Add(h.ttl).Unix()}
		h.mu.Unlock()
	}
	h.answer(w, token, int64(h.ttl/time.Second))
}

// answer writes the token response (RFC 6749 §5.1).
func (h *ceilingHandler) answer(w http.ResponseWriter, token string, expiresIn int64) {
	out, err := json.Marshal(&ceilingToken{AccessToken: token, TokenType: "Bearer", ExpiresIn: expiresIn, Scope: h.scope})
	if err != nil {
		ceilingError(w, http.StatusInternalServerError, "server_error")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.Write(out)
}

// sign returns the JWS compact serialization (RFC 7515 §7.1) of payload.
func (h *ceilingHandler) sign(payload []byte) (string, error) {
	b64 := base64.RawURLEncoding
	signingInput := h.header + "." + b64.EncodeToString(payload)
	var sig []byte
	switch {
	case h.ec != nil: // RFC 7518 §3.4: R||S, 32 bytes each
		digest := sha256.Sum256([]byte(signingInput))
		der, err := ecdsa.SignASN1(rand.Reader, h.ec, digest[:])
		if err != nil {
			return "", err
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
			return "", fmt.Errorf("ECDSA signature: %v", err)
		}
		sig = make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
	case h.ed != nil: // RFC 8037 §3.1
		sig = ed25519.Sign(h.ed, []byte(signingInput))
	default: // RFC 7518 §3.3
		digest := sha256.Sum256([]byte(signingInput))
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, h.rsa, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	}
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// ceilingError writes an RFC 6749 §5.2 error.
func ceilingError(w http.ResponseWriter, status int, code string) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":"`+code+`"}`)
}
