package oauthwire_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/oauthwire"
)

// fakeJWT is a compact JWT with the given payload and a junk signature:
// the wire layer reads the sub, it verifies nothing.
func fakeJWT(payload string) string {
	b := base64.RawURLEncoding
	return b.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + b.EncodeToString([]byte(payload)) + ".c2ln"
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func TestParseClientAssertion(t *testing.T) {
	jwt := fakeJWT(`{"iss":"svc","sub":"svc","aud":"x"}`)
	form := func(kv ...string) string {
		var parts []string
		for i := 0; i < len(kv); i += 2 {
			parts = append(parts, kv[i]+"="+kv[i+1])
		}
		return strings.Join(parts, "&")
	}
	runParseCases(t, []parseCase{
		{
			name:   "assertion with client_id",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_id", "svc", "client_assertion_type", assertionType, "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc", AuthMethod: auth.AuthPrivateKeyJWT, ClientAssertion: jwt},
		},
		{
			name:   "assertion without client_id: the client is its sub",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_assertion_type", assertionType, "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc", AuthMethod: auth.AuthPrivateKeyJWT, ClientAssertion: jwt},
		},
		{
			name:   "assertion in JSON",
			header: hdr("Content-Type", jsonType),
			body:   `{"grant_type":"client_credentials","client_assertion_type":"` + assertionType + `","client_assertion":"` + jwt + `"}`,
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc", AuthMethod: auth.AuthPrivateKeyJWT, ClientAssertion: jwt},
		},
		{
			name:   "assertion without its type",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials"},
			code:   "invalid_request", desc: "client_assertion_type",
		},
		{
			name:   "type without assertion",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_id", "svc", "client_assertion_type", assertionType),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc"},
			code:   "invalid_request", desc: "client_assertion is missing",
		},
		{
			name:   "unsupported assertion type",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_id", "svc", "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc"},
			code:   "invalid_request", desc: "unsupported client_assertion_type",
		},
		{
			name:   "assertion and secret",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_id", "svc", "client_secret", "s", "client_assertion_type", assertionType, "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc", ClientSecret: "s", AuthMethod: auth.AuthClientSecretPost},
			code:   "invalid_request", desc: "exactly one method",
		},
		{
			name:   "assertion and Basic",
			header: hdr("Content-Type", formType, "Authorization", basic("svc:s")),
			body:   form("grant_type", "client_credentials", "client_assertion_type", assertionType, "client_assertion", jwt),
			want:   auth.TokenRequest{GrantType: "client_credentials", ClientID: "svc", ClientSecret: "s", AuthMethod: auth.AuthClientSecretBasic},
			code:   "invalid_request", desc: "exactly one method",
		},
		{
			name:   "not a JWT and no client_id",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_assertion_type", assertionType, "client_assertion", "abc"),
			want:   auth.TokenRequest{GrantType: "client_credentials"},
			code:   "invalid_request", desc: "not a JWT",
		},
		{
			name:   "repeated assertion",
			header: hdr("Content-Type", formType),
			body:   form("grant_type", "client_credentials", "client_assertion_type", assertionType, "client_assertion", jwt, "client_assertion", jwt),
			code:   "invalid_request", desc: "client_assertion is repeated",
		},
	})
}

func TestParseTokenOperation(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		body   string
		token  string
		hint   string
		client auth.TokenRequest
		code   string
		desc   string
	}{
		{
			name:   "form with Basic and hint",
			header: hdr("Content-Type", formType, "Authorization", basic("rs:secret")),
			body:   "token=abc.def.ghi&token_type_hint=access_token",
			token:  "abc.def.ghi", hint: "access_token",
			client: auth.TokenRequest{ClientID: "rs", ClientSecret: "secret", AuthMethod: auth.AuthClientSecretBasic},
		},
		{
			name:   "JSON with body credentials",
			header: hdr("Content-Type", jsonType),
			body:   `{"token":"t","client_id":"rs","client_secret":"secret"}`,
			token:  "t",
			client: auth.TokenRequest{ClientID: "rs", ClientSecret: "secret", AuthMethod: auth.AuthClientSecretPost},
		},
		{
			name:   "no token",
			header: hdr("Content-Type", formType, "Authorization", basic("rs:secret")),
			body:   "token_type_hint=access_token",
			hint:   "access_token",
			client: auth.TokenRequest{ClientID: "rs", ClientSecret: "secret", AuthMethod: auth.AuthClientSecretBasic},
			code:   "invalid_request", desc: "token parameter is required",
		},
		{
			name:   "oversized token",
			header: hdr("Content-Type", formType, "Authorization", basic("rs:secret")),
			body:   "token=" + strings.Repeat("a", oauthwire.MaxTokenLength+1),
			token:  strings.Repeat("a", oauthwire.MaxTokenLength+1),
			client: auth.TokenRequest{ClientID: "rs", ClientSecret: "secret", AuthMethod: auth.AuthClientSecretBasic},
			code:   "invalid_request", desc: "longer than",
		},
		{
			name:   "repeated token",
			header: hdr("Content-Type", formType, "Authorization", basic("rs:secret")),
			body:   "token=a&token=b",
			client: auth.TokenRequest{ClientID: "rs", ClientSecret: "secret", AuthMethod: auth.AuthClientSecretBasic},
			code:   "invalid_request", desc: "token is repeated",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/auth/introspect", strings.NewReader(tc.body))
			r.Header = tc.header.Clone()
			op, err := oauthwire.ParseTokenOperation(r)
			checkOAuthError(t, err, tc.code, tc.desc)
			if op.Token != tc.token || op.TokenTypeHint != tc.hint || !reflect.DeepEqual(op.Client, tc.client) {
				t.Errorf("got %+v, want token %q hint %q client %+v", op, tc.token, tc.hint, tc.client)
			}
		})
	}
}
