package client_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The server side of federation and token exchange (issue 15) lands
// separately; until then the kit is tested against federationServer, a
// token endpoint that enforces what a real one requires of these requests
// and records what it received.

const (
	jwtBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// subjectToken is one of the server's access tokens, as a delegation's
// subject sees it.
type subjectToken struct {
	sub, scope string
	act        string // the actor of an earlier delegation, if any
}

// federationServer is a strict fake token endpoint.
type federationServer struct {
	*httptest.Server
	t testing.TB

	// federated maps a workload's token to the client bound to its subject.
	federated map[string]string
	// secrets maps client IDs to secrets.
	secrets map[string]string
	// accessTokens are the subject tokens a delegation may exchange.
	accessTokens map[string]subjectToken
	// exchangeAudiences lists, per client, the audiences it may delegate to.
	exchangeAudiences map[string][]string

	// before, if set, answers a request first (a 503, say); it returns
	// whether it did.
	before func(n int, w http.ResponseWriter) bool

	n        atomic.Int32
	mu       sync.Mutex
	received []received
}

// received is a request as the fake read it.
type received struct {
	params        map[string]string
	authorization string
	contentType   string
}

func newFederationServer(t testing.TB) *federationServer {
	t.Helper()
	f := &federationServer{t: t, federated: map[string]string{}, secrets: map[string]string{},
		accessTokens: map[string]subjectToken{}, exchangeAudiences: map[string][]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *federationServer) tokenURL() string { return f.URL + tokenPath }

// requests returns what the fake received, in order.
func (f *federationServer) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.received...)
}

func (f *federationServer) last() received {
	r := f.requests()
	if len(r) == 0 {
		f.t.Fatal("the token endpoint received no request")
	}
	return r[len(r)-1]
}

func (f *federationServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.n.Add(1))
	if r.Method != http.MethodPost || r.URL.Path != tokenPath {
		writeError(w, http.StatusNotFound, "not_found", r.Method+" "+r.URL.Path)
		return
	}
	params, problem := readParams(r)
	f.mu.Lock()
	f.received = append(f.received, received{params: params, authorization: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type")})
	f.mu.Unlock()
	if problem != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", problem)
		return
	}
	if f.before != nil && f.before(n, w) {
		return
	}

	// Client authentication: at most one method (RFC 6749 §2.3).
	methods := 0
	for _, present := range []bool{r.Header.Get("Authorization") != "", params["client_secret"] != "", params["client_assertion"] != ""} {
		if present {
			methods++
		}
	}
	if methods > 1 {
		writeError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
		return
	}
	clientID, authenticated := "", false
	switch {
	case r.Header.Get("Authorization") != "":
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || f.secrets[id] == "" || f.secrets[id] != secret {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		clientID, authenticated = id, true
	case params["client_secret"] != "":
		id := params["client_id"]
		if f.secrets[id] == "" || f.secrets[id] != params["client_secret"] {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		clientID, authenticated = id, true
	case params["client_assertion"] != "":
		if params["client_assertion_type"] != jwtBearer {
			writeError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+jwtBearer)
			return
		}
		id, ok := f.federated[params["client_assertion"]]
		if !ok || (params["client_id"] != "" && params["client_id"] != id) {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		clientID, authenticated = id, true
	case params["client_assertion_type"] != "":
		writeError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type without client_assertion")
		return
	}

	switch params["grant_type"] {
	case "client_credentials":
		if !authenticated {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		for _, name := range []string{"subject_token", "subject_token_type"} {
			if params[name] != "" {
				writeError(w, http.StatusBadRequest, "invalid_request", name+" is not a parameter of client_credentials")
				return
			}
		}
		f.issue(w, n, clientID, clientID, params["scope"], "", false)
	case tokenExchange:
		f.exchange(w, n, params, clientID, authenticated)
	case "":
		writeError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", params["grant_type"])
	}
}

// exchange answers a token exchange (RFC 8693 §2.1) as issue 15 says.
func (f *federationServer) exchange(w http.ResponseWriter, n int, params map[string]string, actor string, authenticated bool) {
	subject, typ := params["subject_token"], params["subject_token_type"]
	if subject == "" || typ == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "subject_token and subject_token_type are required")
		return
	}
	if params["actor_token"] != "" || params["requested_token_type"] != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "actor_token and requested_token_type are not supported")
		return
	}
	if params["resource"] != "" && params["audience"] != "" && params["resource"] != params["audience"] {
		writeError(w, http.StatusBadRequest, "invalid_target", "resource and audience differ")
		return
	}
	aud := params["resource"] + params["audience"]
	if params["resource"] != "" && params["audience"] != "" {
		aud = params["resource"]
	}
	switch typ {
	case "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token":
		// Federation: the subject token names the client.
		if authenticated {
			writeError(w, http.StatusBadRequest, "invalid_request", "a federated subject token authenticates the client by itself")
			return
		}
		id, ok := f.federated[subject]
		if !ok {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		f.issue(w, n, id, id, params["scope"], "", true)
	case "urn:ietf:params:oauth:token-type:access_token":
		// Delegation: the authenticated client acts for the subject.
		if !authenticated {
			writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		st, ok := f.accessTokens[subject]
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_grant", "the subject token is not active")
			return
		}
		if aud == "" || !slices.Contains(f.exchangeAudiences[actor], aud) {
			writeError(w, http.StatusBadRequest, "invalid_target", "not one of the client's exchange audiences")
			return
		}
		scope := st.scope
		if params["scope"] != "" {
			for _, s := range strings.Fields(params["scope"]) {
				if !slices.Contains(strings.Fields(st.scope), s) {
					writeError(w, http.StatusBadRequest, "invalid_scope", s+" is not in the subject token")
					return
				}
			}
			scope = params["scope"]
		}
		act := actor
		if st.act != "" {
			act += "<" + st.act
		}
		f.issue(w, n, st.sub, actor, scope, act, true)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "unsupported subject_token_type")
	}
}

// issue answers with a token whose text says whom it is for:
// "sub=…;client_id=…;act=…;n=…".
func (f *federationServer) issue(w http.ResponseWriter, n int, sub, clientID, scope, act string, exchange bool) {
	resp := map[string]any{
		"access_token": fmt.Sprintf("sub=%s;client_id=%s;act=%s;n=%d", sub, clientID, act, n),
		"token_type":   "Bearer", "expires_in": 3600,
	}
	if scope != "" {
		resp["scope"] = scope
	}
	if exchange {
		resp["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

// readParams reads a form or JSON body as a real token endpoint does: a
// repeated parameter is an error (RFC 6749 §3.2).
func readParams(r *http.Request) (map[string]string, string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, err.Error()
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	p := map[string]string{}
	switch mt {
	case "application/json":
		d := json.NewDecoder(bytes.NewReader(body))
		if err := d.Decode(&p); err != nil {
			return nil, "not a JSON object of strings: " + err.Error()
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err.Error()
		}
		for k, vs := range v {
			if len(vs) > 1 {
				return nil, "repeated parameter " + k
			}
			p[k] = vs[0]
		}
	default:
		return nil, "unsupported Content-Type " + mt
	}
	for k, v := range p {
		if v == "" {
			delete(p, k) // empty counts as absent (RFC 6749 §3.2)
		}
	}
	return p, ""
}

// workloadToken returns a JWT-shaped token of an external issuer for sub;
// the fake compares it as a string, so its signature need not verify.
func workloadToken(iss, sub string, n int) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "kid": "k8s-1"}) + "." +
		enc(map[string]any{"iss": iss, "sub": sub, "aud": "https://auth.gooclaim.com", "n": n}) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("signature-%d", n)))
}
