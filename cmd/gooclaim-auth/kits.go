package main

import (
	"bufio"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/verify"
)

// The `token` and `verify` commands are the two kits on the command line:
// they speak HTTP to a running service, like any client or resource server,
// and never open the database.

type tokenFlags struct {
	issuer, tokenURL string
	clientID         string
	secretFile       string
	scopes           []string
	audience         string
	authMethod       string
	privateKeyFile   string
	keyID            string
	output           string

	federatedTokenFile string
	exchange           bool
	subjectTokenFile   string
	subjectTokenType   string

	dpopKeyFile             string
	tlsCertFile, tlsKeyFile string
}

func newTokenCmd(e *env) *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Fetch an access token (client credentials or token exchange) and print it",
		Long: `Fetch an access token from a running Gooclaim Auth (or any OAuth 2.0
authorization server) with the client credentials grant, using the client kit,
and print it, for example:

  curl -H "Authorization: Bearer $(gooclaim-auth token --issuer http://localhost:8080 \
      --client-id gooclaim_app_… --client-secret-file secret.txt)" https://api.example/…

The secret is read from a file (or - for standard input), never from a flag,
so that it does not show in the process list or the shell history. Instead of
a secret: --private-key-file (private_key_jwt), or --federated-token-file, a
workload's token of a trusted issuer such as a Kubernetes service account
token (federated_jwt; --client-id is then optional).

With --exchange it makes a token exchange (RFC 8693) instead: the token in
--subject-token-file is exchanged, either as a delegation (an access token of
this server; the credentials above are the actor's) or, with no credentials,
as a workload's token (--subject-token-type jwt) that names its client:

  gooclaim-auth token --exchange --issuer https://auth.gooclaim.com \
      --client-id gooclaim_app_… --client-secret-file secret.txt \
      --subject-token-file caller.jwt --audience https://files.gooclaim.com`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{envScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runToken(cmd, e, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.issuer, "issuer", "", "issuer URL; the token endpoint is read from its metadata (RFC 8414)")
	fl.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL, instead of --issuer")
	fl.StringVar(&f.clientID, "client-id", "", "client_id (required)")
	fl.StringVar(&f.secretFile, "client-secret-file", "", "file holding the client_secret, or - for standard input (required)")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scopes to request, space-separated; repeatable (default: all the client's scopes)")
	fl.StringVar(&f.audience, "audience", "", "audience (resource, RFC 8707) to request (default: the client's default)")
	fl.StringVar(&f.authMethod, "auth-method", "client_secret_basic", "client authentication: client_secret_basic, client_secret_post, private_key_jwt (set by --private-key-file), federated_jwt (set by --federated-token-file), tls_client_auth (set by --tls-cert alone) or self_signed_tls_client_auth")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "PEM private key (PKCS #8, or SEC 1 EC) to sign private_key_jwt assertions with, instead of a secret")
	fl.StringVar(&f.keyID, "key-id", "", "kid of the key in the client's registered JWK Set (with --private-key-file)")
	fl.StringVar(&f.federatedTokenFile, "federated-token-file", "", "file holding a workload's token of a trusted issuer (a Kubernetes service account token, say) to authenticate with, instead of a secret (federated_jwt)")
	fl.BoolVar(&f.exchange, "exchange", false, "make a token exchange (RFC 8693) of --subject-token-file instead of a client credentials request")
	fl.StringVar(&f.subjectTokenFile, "subject-token-file", "", "with --exchange: file holding the subject token, or - for standard input")
	fl.StringVar(&f.subjectTokenType, "subject-token-type", "", "with --exchange: access_token (a delegation; the default with credentials), jwt (a workload's token; the default without) or id_token")
	fl.StringVar(&f.dpopKeyFile, "dpop-key", "", "PEM private key (PKCS #8, or SEC 1 EC) to bind the token to with DPoP (RFC 9449): the request carries a proof of it and the token's type is DPoP")
	fl.StringVar(&f.tlsCertFile, "tls-cert", "", "PEM client certificate presented to the token endpoint (mutual TLS, RFC 8705): with --client-id alone it authenticates (tls_client_auth), and the token is bound to it")
	fl.StringVar(&f.tlsKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVarP(&f.output, "output", "o", "token", "output: token (the access token alone) or json (the whole response)")
	return cmd
}

func runToken(cmd *cobra.Command, e *env, f *tokenFlags) error {
	if (f.issuer == "") == (f.tokenURL == "") {
		return errors.New("give exactly one of --issuer and --token-url")
	}
	if f.output != "token" && f.output != "json" {
		return fmt.Errorf("--output %q: use token or json", f.output)
	}
	var creds []string
	for _, c := range [][2]string{{"--client-secret-file", f.secretFile}, {"--private-key-file", f.privateKeyFile}, {"--federated-token-file", f.federatedTokenFile}} {
		if c[1] != "" {
			creds = append(creds, c[0])
		}
	}
	if len(creds) > 1 {
		return fmt.Errorf("give one of %s, not %s", strings.Join(creds, ", "), strings.Join(creds, " and "))
	}
	if !f.exchange && (f.subjectTokenFile != "" || f.subjectTokenType != "") {
		return errors.New("--subject-token-file and --subject-token-type are for a token exchange: add --exchange")
	}
	if (f.tlsCertFile == "") != (f.tlsKeyFile == "") {
		return errors.New("give --tls-cert and --tls-key together: the client certificate and its private key")
	}
	switch {
	case f.privateKeyFile != "":
		f.authMethod = "private_key_jwt"
	case f.federatedTokenFile != "":
		f.authMethod = "federated_jwt"
	case f.secretFile != "":
	case f.tlsCertFile != "":
		if !cmd.Flags().Changed("auth-method") {
			f.authMethod = "tls_client_auth"
		}
	case f.exchange && cmd.Flags().Changed("auth-method"):
		return fmt.Errorf("--auth-method %s needs credentials: --client-secret-file, --private-key-file or --federated-token-file", f.authMethod)
	case f.exchange:
		f.authMethod = "none" // a workload's token that names its client, or an error below
	default:
		return errors.New("--client-secret-file is required (use - to read the secret from standard input), or --private-key-file for private_key_jwt, --federated-token-file for a workload's token, or --tls-cert and --tls-key for mutual TLS")
	}
	if f.clientID == "" && f.authMethod != "federated_jwt" && f.authMethod != "none" {
		return errors.New("--client-id is required")
	}
	cfg := &client.Config{
		Issuer: f.issuer, TokenURL: f.tokenURL, ClientID: f.clientID,
		Audience: f.audience, Scopes: splitScopes(f.scopes),
	}
	switch f.authMethod {
	case "client_secret_basic", "basic":
		cfg.AuthStyle = client.AuthBasic
	case "client_secret_post", "post":
		cfg.AuthStyle = client.AuthPost
	case "private_key_jwt":
		if f.privateKeyFile == "" {
			return errors.New("--auth-method private_key_jwt needs --private-key-file")
		}
		cfg.AuthStyle = client.AuthPrivateKeyJWT
	case "federated_jwt":
		if f.federatedTokenFile == "" {
			return errors.New("--auth-method federated_jwt needs --federated-token-file")
		}
		// The file is read by the kit, on every attempt, as a workload would.
		cfg.AuthStyle, cfg.FederatedTokenFile = client.AuthFederatedJWT, f.federatedTokenFile
	case "tls_client_auth", "self_signed_tls_client_auth":
		if f.tlsCertFile == "" {
			return fmt.Errorf("--auth-method %s needs --tls-cert and --tls-key", f.authMethod)
		}
		cfg.AuthStyle = client.AuthTLSClientAuth
		if f.authMethod == "self_signed_tls_client_auth" {
			cfg.AuthStyle = client.AuthSelfSignedTLSClientAuth
		}
	case "none":
		if !f.exchange || cmd.Flags().Changed("auth-method") {
			return fmt.Errorf("--auth-method %q: use client_secret_basic, client_secret_post, private_key_jwt or federated_jwt", f.authMethod)
		}
		if f.clientID != "" {
			return errors.New("--client-id without credentials: give the actor's --client-secret-file, --private-key-file or --federated-token-file, or drop --client-id to exchange a workload's token that names its client")
		}
		cfg.AuthStyle = client.AuthNone
	default:
		return fmt.Errorf("--auth-method %q: use client_secret_basic, client_secret_post, private_key_jwt, federated_jwt, tls_client_auth or self_signed_tls_client_auth", f.authMethod)
	}
	switch {
	case f.privateKeyFile != "":
		key, err := readPrivateKey(f.privateKeyFile)
		if err != nil {
			return err
		}
		cfg.PrivateKey, cfg.KeyID = key, f.keyID
	case f.secretFile != "":
		if f.exchange && f.secretFile == "-" && f.subjectTokenFile == "-" {
			return errors.New("--client-secret-file and --subject-token-file cannot both be - (standard input): put one in a file")
		}
		secret, err := readSecretFile(e, f.secretFile)
		if err != nil {
			return err
		}
		cfg.ClientSecret = secret
	}
	if f.tlsCertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCertFile, f.tlsKeyFile)
		if err != nil {
			return fmt.Errorf("load the client certificate (--tls-cert, --tls-key): %w", err)
		}
		cfg.TLSCertificate = &cert
	}
	if f.dpopKeyFile != "" {
		key, err := readPrivateKey(f.dpopKeyFile)
		if err != nil {
			return fmt.Errorf("--dpop-key: %w", err)
		}
		cfg.DPoPKey = key
	}

	var tok *oauth2.Token
	var err error
	if f.exchange {
		req, rerr := exchangeRequest(e, f, cfg.AuthStyle == client.AuthNone)
		if rerr != nil {
			return rerr
		}
		tok, err = cfg.Exchange(cmd.Context(), req)
	} else {
		tok, err = cfg.Token(cmd.Context())
	}
	if err != nil {
		return err
	}
	if f.output == "token" {
		_, err := fmt.Fprintln(e.stdout, tok.AccessToken)
		return err
	}
	out := map[string]any{"access_token": tok.AccessToken, "token_type": tok.TokenType}
	if tok.ExpiresIn > 0 {
		out["expires_in"] = tok.ExpiresIn
		out["expires_at"] = tok.Expiry.UTC().Format(time.RFC3339)
	}
	if s, ok := tok.Extra("scope").(string); ok {
		out["scope"] = s
	}
	if s, ok := tok.Extra("issued_token_type").(string); ok {
		out["issued_token_type"] = s
	}
	return writeJSON(e.stdout, out)
}

// subjectTokenTypes are --subject-token-type's short names (RFC 8693 §3).
var subjectTokenTypes = map[string]string{
	"access_token": client.TokenTypeAccessToken,
	"jwt":          client.TokenTypeJWT,
	"id_token":     client.TokenTypeIDToken,
}

// exchangeRequest reads the subject token and builds the exchange of
// --exchange. Without credentials (unauthenticated) only a workload's token
// can be exchanged: a delegation needs the actor to authenticate.
func exchangeRequest(e *env, f *tokenFlags, unauthenticated bool) (client.ExchangeRequest, error) {
	if f.subjectTokenFile == "" {
		return client.ExchangeRequest{}, errors.New("--exchange needs --subject-token-file (use - to read the subject token from standard input)")
	}
	typ := f.subjectTokenType
	if typ == "" {
		typ = "access_token"
		if unauthenticated {
			typ = "jwt"
		}
	}
	urn, ok := subjectTokenTypes[typ]
	if !ok {
		for _, u := range subjectTokenTypes {
			if typ == u {
				urn, ok = u, true
			}
		}
	}
	if !ok {
		return client.ExchangeRequest{}, fmt.Errorf("--subject-token-type %q: use access_token, jwt or id_token", typ)
	}
	if unauthenticated && urn == client.TokenTypeAccessToken {
		return client.ExchangeRequest{}, errors.New("a delegation (--subject-token-type access_token) needs the actor's credentials: --client-id with --client-secret-file or --private-key-file, or --federated-token-file")
	}
	subject, err := readTokenFile(e, f.subjectTokenFile, "the subject token")
	if err != nil {
		return client.ExchangeRequest{}, err
	}
	return client.ExchangeRequest{SubjectToken: subject, SubjectTokenType: urn, Resource: f.audience, Scopes: splitScopes(f.scopes)}, nil
}

// maxTokenFile bounds what is read as a token (the token endpoint takes at
// most 64 KiB of body).
const maxTokenFile = 32 << 10

// readTokenFile reads a token from a file or standard input ("-"): its
// first line, without surrounding white space, "Bearer " removed.
func readTokenFile(e *env, path, what string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s from %s: %w", what, path, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("read %s from %s: over %d bytes; is it the right file?", what, path, maxTokenFile)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Bearer "))
	if tok == "" {
		return "", fmt.Errorf("read %s from %s: it is empty", what, path)
	}
	return tok, nil
}

// maxSecretFile bounds what is read as a secret, so that pointing the flag
// at a large file by mistake fails fast.
const maxSecretFile = 4 << 10

// readSecretFile reads a secret from a file or standard input ("-"): its first
// line, without surrounding white space.
func readSecretFile(e *env, path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read the client secret: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("read the client secret: %w", err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("read the client secret from %s: over %d bytes; is it the right file?", path, maxSecretFile)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	secret := strings.TrimSpace(line)
	if secret == "" {
		return "", fmt.Errorf("read the client secret from %s: it is empty", path)
	}
	return secret, nil
}

// readPrivateKey reads a PEM private key: PKCS #8 (any type), or SEC 1 for EC.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the private key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a PEM %q block; want PRIVATE KEY (PKCS #8)", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return signer, nil
}

type verifyFlags struct {
	issuer, audience string
	jwksURL          string
	scopes           []string
	algorithms       []string
	leeway           time.Duration

	dpopProof, method, url string
}

func newVerifyCmd(e *env) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify [TOKEN | -]",
		Short: "Verify an access token as a resource server would, and print its claims",
		Long: `Verify an access token with the verification kit, exactly as a resource server
using it would: signature against the issuer's published keys, typ at+jwt, iss,
aud, exp/nbf/iat, and any --scope required. On success the claims are printed
as JSON and the exit status is 0; otherwise the reason is printed and the exit
status is 1.

The token is the argument, or read from standard input when it is - or
absent, so that it need not be in the shell history:

  gooclaim-auth token … | gooclaim-auth verify --issuer http://localhost:8080`,
		Args:        cobra.MaximumNArgs(1),
		Annotations: map[string]string{envScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.issuer, "issuer", "", "issuer URL the token must come from (required)")
	fl.StringVar(&f.audience, "audience", issuer.DefaultAudience, "audience the token must be for")
	fl.StringVar(&f.jwksURL, "jwks-url", "", "JWK Set URL (default: the jwks_uri of the issuer's metadata)")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scopes the token must grant, space-separated; repeatable")
	fl.StringSliceVar(&f.algorithms, "algorithms", nil, "signing algorithms accepted (default: ES256, EdDSA, RS256)")
	fl.DurationVar(&f.leeway, "leeway", verify.DefaultLeeway, "clock skew tolerated on exp, nbf and iat")
	fl.StringVar(&f.dpopProof, "dpop-proof", "", "the DPoP proof sent with a DPoP-bound token (RFC 9449), to check with --method and --url: the token's key, ath, htm, htu, iat")
	fl.StringVar(&f.method, "method", "GET", "with --dpop-proof: the request's HTTP method")
	fl.StringVar(&f.url, "url", "", "with --dpop-proof: the request's URL, as the resource server is called")
	return cmd
}

func runVerify(cmd *cobra.Command, e *env, f *verifyFlags, args []string) error {
	if f.issuer == "" {
		return errors.New("--issuer is required")
	}
	token := "-"
	if len(args) == 1 {
		token = args[0]
	}
	if token == "-" {
		line, err := bufio.NewReaderSize(e.stdin, verify.MaxTokenSize+2).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the token from standard input: %w", err)
		}
		token = line
	}
	token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	if token == "" {
		return errors.New("no token: give it as the argument or on standard input")
	}
	cfg := verify.Config{
		Issuer: f.issuer, Audience: f.audience, JWKSURL: f.jwksURL,
		RequiredScopes: splitScopes(f.scopes), Algorithms: f.algorithms, Leeway: f.leeway,
	}
	if (f.dpopProof == "") != (f.url == "") {
		return errors.New("give --dpop-proof and --url together (and --method unless GET): the proof and the request it was made for")
	}
	if f.dpopProof == "" {
		v, err := verify.New(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		claims, err := v.Verify(cmd.Context(), token)
		if err != nil {
			return err
		}
		if c := claims.Confirmation; c != nil && c.JKT != "" {
			fmt.Fprintf(e.stderr, "the token is DPoP-bound (cnf.jkt %s): a resource server accepts it only with a proof of that key; give --dpop-proof, --method and --url to check one\n", c.JKT)
		}
		if c := claims.Confirmation; c != nil && c.X5TS256 != "" {
			fmt.Fprintf(e.stderr, "the token is certificate-bound (cnf x5t#S256 %s): a resource server accepts it only over mutual TLS with that certificate\n", c.X5TS256)
		}
		return writeJSON(e.stdout, claims.Raw)
	}
	// A request as the resource server at --url would receive it.
	req, err := http.NewRequestWithContext(cmd.Context(), f.method, f.url, nil)
	if err != nil || req.URL.Host == "" {
		return fmt.Errorf("--url %q is not an absolute URL", f.url)
	}
	cfg.DPoP = &verify.DPoP{ExternalURL: req.URL.Scheme + "://" + req.URL.Host}
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", strings.TrimSpace(f.dpopProof))
	v, err := verify.New(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	claims, err := v.VerifyRequest(req)
	if err != nil {
		return err
	}
	return writeJSON(e.stdout, claims.Raw)
}
