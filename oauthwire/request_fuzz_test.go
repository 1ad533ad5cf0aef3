package oauthwire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/oauthwire"
)

// The fuzz targets of the token endpoint's wire format. Their seeds are in
// testdata/fuzz/<FuzzName>; go test replays them, scripts/fuzz explores.

func fuzzRequest(contentType, authorization string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", bytes.NewReader(body))
	if contentType != "" {
		r.Header["Content-Type"] = []string{contentType}
	}
	if authorization != "" {
		r.Header["Authorization"] = []string{authorization}
	}
	return r
}

func isVSCHAR(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkParseError checks an error of ParseTokenRequest: an *auth.OAuthError
// of a client-error code (invalid_request: 400 or 413; invalid_client: 401)
// whose description says something and holds no raw control character.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	oe, ok := err.(*auth.OAuthError)
	if !ok {
		t.Fatalf("error %T %v, want *auth.OAuthError", err, err)
	}
	if oe.Code != auth.ErrInvalidRequest.Code && oe.Code != auth.ErrInvalidClient.Code {
		t.Fatalf("error code %q: a malformed request is invalid_request or invalid_client (4xx)", oe.Code)
	}
	if oe.Description == "" {
		t.Fatalf("error %q without a description", oe.Code)
	}
	if !utf8.ValidString(oe.Description) {
		t.Fatalf("description is not UTF-8: %q", oe.Description)
	}
	for _, r := range oe.Description {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("description holds control character %U: %q", r, oe.Description)
		}
	}
}

// FuzzParseTokenRequest: any request either fails with a described
// client error, or gives a request whose fields are as documented.
func FuzzParseTokenRequest(f *testing.F) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-a:s3cr%25t"))
	f.Add("application/json", "", []byte(`{"grant_type":"client_credentials","client_id":"svc-a","client_secret":"s3cret","scope":"read write","audience":"https://api"}`))
	f.Add("application/x-www-form-urlencoded", "", []byte("grant_type=client_credentials&client_id=svc-a&client_secret=s3cret&scope=read+write"))
	f.Add("application/x-www-form-urlencoded; charset=UTF-8", basic, []byte("grant_type=client_credentials"))
	f.Add("application/json", basic, []byte(`{"grant_type":"client_credentials","client_id":"svc-a"}`))
	f.Add("application/json", "", []byte(`{"grant_type":"client_credentials","grant_type":"client_credentials"}`))
	f.Add("application/json", "", []byte(`{"client_id":1e999999,"x":[[[[[[[[[[[[{}]]]]]]]]]]]]}`))
	f.Add("application/json", "", []byte("{\"client_id\":\"svc\xff\"}"))
	f.Add("application/x-www-form-urlencoded", "", []byte("client_id=%ff%fe&grant_type=client_credentials;x=1"))
	f.Add("text/plain", "Bearer abc", []byte("grant_type=client_credentials"))
	f.Add("application/x-www-form-urlencoded", "", []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMtYSJ9.c2ln&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"))
	f.Add("application/json", basic, []byte(`{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"x","subject_token_type":"urn:ietf:params:oauth:token-type:access_token","actor_token":"y","actor_token_type":"z","requested_token_type":"w"}`))
	f.Add("application/x-www-form-urlencoded", "", []byte("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2s4cyIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpuczpzYSJ9.c2ln"))
	f.Add("application/x-www-form-urlencoded", "", []byte("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMtYSIsImlzcyI6InN2Yy1hIn0.c2ln"))
	f.Fuzz(func(t *testing.T, contentType, authorization string, body []byte) {
		req, err := oauthwire.ParseTokenRequest(fuzzRequest(contentType, authorization, body))
		// The same request parses the same way again (the body buffers are pooled).
		req2, err2 := oauthwire.ParseTokenRequest(fuzzRequest(contentType, authorization, body))
		if !reflect.DeepEqual(req, req2) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("two parses differ: %+v %v / %+v %v", req, err, req2, err2)
		}
		if len(req.ClientID) > oauthwire.MaxClientIDLength {
			t.Fatalf("client_id of %d bytes returned, even with an error", len(req.ClientID))
		}
		if err != nil {
			checkParseError(t, err)
			return
		}
		for name, v := range map[string]string{"grant_type": req.GrantType, "scope": req.Scope, "resource": req.Resource,
			"audience": req.Audience, "client_assertion": req.ClientAssertion, "subject_token": req.SubjectToken,
			"subject_token_type": req.SubjectTokenType, "actor_token": req.ActorToken, "requested_token_type": req.RequestedTokenType} {
			if !utf8.ValidString(v) {
				t.Fatalf("%s is not UTF-8: %q", name, v)
			}
		}
		if !isVSCHAR(req.ClientID) || !isVSCHAR(req.ClientSecret) {
			t.Fatalf("client_id %q or client_secret %q is not VSCHAR", req.ClientID, req.ClientSecret)
		}
		switch req.AuthMethod {
		case auth.AuthClientSecretBasic:
			if authorization == "" || req.ClientID == "" || req.ClientAssertion != "" {
				t.Fatalf("Basic authentication without a header, or without a client: %+v", req)
			}
		case auth.AuthClientSecretPost:
			if authorization != "" || req.ClientSecret == "" || req.ClientAssertion != "" {
				t.Fatalf("client_secret_post with a header, or without a secret: %+v", req)
			}
		case auth.AuthPrivateKeyJWT:
			// ClientID may be empty: an assertion whose iss is not its sub
			// may be a trusted issuer's token, whose client the issuer finds.
			if authorization != "" || req.ClientSecret != "" || req.ClientAssertion == "" {
				t.Fatalf("private_key_jwt with a secret, or without an assertion: %+v", req)
			}
		case auth.AuthNone:
			if authorization != "" || req.ClientSecret != "" || req.ClientAssertion != "" {
				t.Fatalf("no authentication method, but credentials: %+v", req)
			}
		default:
			t.Fatalf("unknown authentication method %q", req.AuthMethod)
		}
	})
}

// FuzzTokenRequestEncodings: a request sent as JSON and the same request
// form-encoded parse to the same thing (or fail with the same code).
func FuzzTokenRequestEncodings(f *testing.F) {
	f.Add("client_credentials", "svc-a", "s3cret", "read write", "", "https://api")
	f.Add("client_credentials", "svc a+b%", "p@ss:w/rd", "", "https://r.example/x?y=1&z", "")
	f.Add("password", "", "", "a\x00b", "", "")
	f.Add("client_credentials", "svc\u00e9", "s\u2028", "é", "r", "a")
	f.Add("", strings.Repeat("x", 257), "", "", "", "")
	f.Fuzz(func(t *testing.T, grantType, clientID, secret, scope, resource, audience string) {
		for _, s := range []string{grantType, clientID, secret, scope, resource, audience} {
			if !utf8.ValidString(s) {
				return // JSON cannot carry invalid UTF-8 (json.Marshal would replace it)
			}
		}
		fields := [][2]string{{"grant_type", grantType}, {"client_id", clientID}, {"client_secret", secret},
			{"scope", scope}, {"resource", resource}, {"audience", audience}}
		obj := map[string]string{}
		form := url.Values{}
		for _, kv := range fields {
			obj[kv[0]] = kv[1]
			form.Set(kv[0], kv[1])
		}
		js, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		jreq, jerr := oauthwire.ParseTokenRequest(fuzzRequest("application/json", "", js))
		freq, ferr := oauthwire.ParseTokenRequest(fuzzRequest("application/x-www-form-urlencoded", "", []byte(form.Encode())))
		if !reflect.DeepEqual(jreq, freq) {
			t.Fatalf("JSON gives %+v, the form %+v", jreq, freq)
		}
		if (jerr == nil) != (ferr == nil) || (jerr != nil && !errors.Is(jerr, ferr)) {
			t.Fatalf("JSON gives error %v, the form %v", jerr, ferr)
		}
		if jerr != nil {
			checkParseError(t, jerr)
			checkParseError(t, ferr)
		}
	})
}

// FuzzBasicRoundTrip: credentials encoded as RFC 6749 §2.3.1 says (form-url-
// encoded, then Basic) read back as the same pair.
func FuzzBasicRoundTrip(f *testing.F) {
	f.Add("svc-a", "s3cret")
	f.Add("svc:a", "p%41ss+word")
	f.Add("a", "")
	f.Add("~!@#$%^&*()_+", " :; \"'")
	f.Add(strings.Repeat("i", 256), "s")
	f.Fuzz(func(t *testing.T, id, secret string) {
		if id == "" || !isVSCHAR(id) || !isVSCHAR(secret) {
			return
		}
		encodings := []string{url.QueryEscape(id) + ":" + url.QueryEscape(secret)}
		if !strings.ContainsAny(id+secret, "%+") && !strings.Contains(id, ":") {
			// Clients that skip the form-encoding (as many do) work when nothing needs it.
			encodings = append(encodings, id+":"+secret)
		}
		for _, cred := range encodings {
			h := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
			req, err := oauthwire.ParseTokenRequest(fuzzRequest("application/x-www-form-urlencoded", h, []byte("grant_type=client_credentials")))
			if len(id) > oauthwire.MaxClientIDLength {
				if err == nil {
					t.Fatalf("client_id of %d bytes accepted", len(id))
				}
				checkParseError(t, err)
				continue
			}
			if err != nil {
				t.Fatalf("Basic %q (%q, %q): %v", cred, id, secret, err)
			}
			if req.ClientID != id || req.ClientSecret != secret || req.AuthMethod != auth.AuthClientSecretBasic {
				t.Fatalf("Basic %q gives (%q, %q, %s), want (%q, %q)", cred, req.ClientID, req.ClientSecret, req.AuthMethod, id, secret)
			}
		}
	})
}

// FuzzAssertionSubject: the client an assertion names for the rate limit is
// the one the assertion verifier reads (clientauth.Subject), when it reads
// one; and a subject is never empty.
func FuzzAssertionSubject(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"iss":"svc-a","sub":"svc-a","aud":"https://auth"}`)) + ".c2ln")
	f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"iss":"svc-a","sub":"svc-a","aud":"https://auth","Sub":"svc-b"}`)) + ".c2ln")
	f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"sub":"a","sub":"b"}`)) + ".c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, assertion string) {
		got, ok := oauthwire.AssertionSubject(assertion)
		if ok && got == "" {
			t.Fatal("an empty subject reported as found")
		}
		if !ok && got != "" {
			t.Fatalf("subject %q reported as not found", got)
		}
		if want, wok := clientauth.Subject(assertion); wok && (!ok || got != want) {
			t.Fatalf("AssertionSubject gives (%q, %v); the verifier reads sub %q", got, ok, want)
		}
	})
}
