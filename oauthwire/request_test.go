package oauthwire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/oauthwire"
)

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"

	// seedBody is the seed's token request, byte for byte.
	seedBody = "{\n  \"grant_type\": \"client_credentials\",\n  \"client_id\": \"gooclaim_app_12345\",\n  \"client_secret\": \"S3cureP@ssw0rd!\"\n}"

	// acceptedTypes is what every Content-Type error must name.
	acceptedTypes = "application/json or application/x-www-form-urlencoded"
)

// parseCase is one token request and what ParseTokenRequest must make of it.
// The returned request is compared with want whether or not there is an
// error: on error it must hold what was parsed so far (the Basic client_id
// the rate limit is charged to) and nothing from a body that failed.
type parseCase struct {
	name   string
	header http.Header
	body   string
	want   auth.TokenRequest
	code   string // the OAuth error code; "" for success
	desc   string // a fragment of the error description
}

// hdr builds a header from name/value pairs; a name may repeat.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// basic returns an Authorization value carrying raw (already form-encoded
// "id:secret") in base64.
func basic(raw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(tc.body))
			r.Header = tc.header.Clone()
			got, err := oauthwire.ParseTokenRequest(r)
			checkOAuthError(t, err, tc.code, tc.desc)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("request\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// checkOAuthError checks that err is an *auth.OAuthError with the code and a
// description containing desc, or nil when code is "".
func checkOAuthError(t *testing.T, err error, code, desc string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var oe *auth.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T), want an *auth.OAuthError %s", err, err, code)
	}
	if oe.Code != code {
		t.Errorf("error code %q (%v), want %q", oe.Code, oe, code)
	}
	if !strings.Contains(oe.Description, desc) {
		t.Errorf("error description %q does not contain %q", oe.Description, desc)
	}
}

func TestParseTokenRequestJSON(t *testing.T) {
	ct := hdr("Content-Type", jsonType)
	seed := auth.TokenRequest{
		GrantType:    "client_credentials",
		ClientID:     "gooclaim_app_12345",
		ClientSecret: "S3cureP@ssw0rd!",
		AuthMethod:   auth.AuthClientSecretPost,
	}
	gt := auth.TokenRequest{GrantType: "client_credentials"}
	const notString = "must be a string, not a"
	runParseCases(t, []parseCase{
		{name: "seed body", header: ct, body: seedBody, want: seed},
		{name: "charset utf-8", header: hdr("Content-Type", "application/json; charset=utf-8"), body: seedBody, want: seed},
		{name: "charset UTF-8", header: hdr("Content-Type", "application/json; charset=UTF-8"), body: seedBody, want: seed},
		{name: "charset quoted", header: hdr("Content-Type", `application/json;charset="utf-8"`), body: seedBody, want: seed},
		{name: "media type case-insensitive", header: hdr("Content-Type", "Application/JSON"), body: seedBody, want: seed},
		{name: "charset latin1", header: hdr("Content-Type", "application/json; charset=latin1"), body: seedBody,
			code: "invalid_request", desc: `unsupported charset "latin1"`},
		{name: "all members", header: ct,
			body: `{"grant_type":"client_credentials","client_id":"app","client_secret":"s","scope":"a b","resource":"https://r.example","audience":"https://r.example"}`,
			want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "app", ClientSecret: "s", AuthMethod: auth.AuthClientSecretPost,
				Scope: "a b", Resource: "https://r.example", Audience: "https://r.example"}},
		{name: "client_id without secret is no authentication", header: ct, body: `{"client_id":"app"}`,
			want: auth.TokenRequest{ClientID: "app"}},
		{name: "empty client_secret counts as absent", header: ct, body: `{"client_id":"app","client_secret":""}`,
			want: auth.TokenRequest{ClientID: "app"}},
		{name: "escapes decoded", header: ct, body: `{"client_id":"gooclaim\u005fapp","scope":"a\/b"}`,
			want: auth.TokenRequest{ClientID: "gooclaim_app", Scope: "a/b"}},
		{name: "unknown members of any type ignored", header: ct,
			body: `{"x":{"a":[1,2,{"b":null}],"c":{}},"grant_type":"client_credentials","y":[1,"2",[true]],"z":1e999,` +
				`"w":123456789012345678901234567890123456789,"v":true,"u":null,"t":"s","n":-0.5e-999}`,
			want: gt},
		{name: "null known member is absent", header: ct, body: `{"grant_type":"client_credentials","client_id":null,"scope":null}`, want: gt},
		{name: "duplicate unknown member ignored", header: ct, body: `{"x":1,"grant_type":"client_credentials","x":[2]}`, want: gt},
		{name: "keys are case-sensitive", header: ct, body: `{"grant_type":"client_credentials","Client_ID":"app","CLIENT_SECRET":"s"}`, want: gt},
		{name: "surrounding whitespace", header: ct, body: " \r\n\t{\"grant_type\":\"client_credentials\"}\n\n", want: gt},

		{name: "client_id number", header: ct, body: `{"client_id":12345}`,
			code: "invalid_request", desc: "client_id " + notString + " number"},
		{name: "client_id huge number", header: ct, body: `{"client_id":1e999}`,
			code: "invalid_request", desc: "client_id " + notString + " number"},
		{name: "client_id boolean", header: ct, body: `{"client_id":true}`,
			code: "invalid_request", desc: "client_id " + notString + " boolean"},
		{name: "client_id object", header: ct, body: `{"client_id":{"id":"app"}}`,
			code: "invalid_request", desc: "client_id " + notString + "n object"},
		{name: "client_id array", header: ct, body: `{"client_id":["app"]}`,
			code: "invalid_request", desc: "client_id " + notString + "n array"},
		{name: "scope array", header: ct, body: `{"scope":["a","b"]}`,
			code: "invalid_request", desc: "scope " + notString + "n array"},
		{name: "duplicate known member", header: ct, body: `{"client_id":"a","client_id":"a"}`,
			code: "invalid_request", desc: "member client_id appears more than once"},
		{name: "duplicate known member after null", header: ct, body: `{"grant_type":null,"grant_type":"client_credentials"}`,
			code: "invalid_request", desc: "member grant_type appears more than once"},

		{name: "array", header: ct, body: `[{"grant_type":"client_credentials"}]`, code: "invalid_request", desc: "must be an object"},
		{name: "string", header: ct, body: `"grant_type=client_credentials"`, code: "invalid_request", desc: "must be an object"},
		{name: "number", header: ct, body: `42`, code: "invalid_request", desc: "must be an object"},
		{name: "null", header: ct, body: `null`, code: "invalid_request", desc: "must be an object"},
		{name: "empty body", header: ct, body: ``, code: "invalid_request", desc: "empty or ends too early"},
		{name: "whitespace only", header: ct, body: " \n ", code: "invalid_request", desc: "empty or ends too early"},
		{name: "truncated object", header: ct, body: `{"client_id":"app"`, code: "invalid_request", desc: "ends too early"},
		{name: "unterminated string", header: ct, body: `{"client_id":"app`, code: "invalid_request", desc: "ends too early"},
		{name: "two objects", header: ct, body: `{}{}`, code: "invalid_request", desc: "more than one JSON value"},
		{name: "trailing garbage", header: ct, body: `{"grant_type":"client_credentials"} x`, code: "invalid_request", desc: "more than one JSON value"},
		{name: "trailing comma", header: ct, body: `{"client_id":"app",}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "leading comma", header: ct, body: `{,"client_id":"app"}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "double comma", header: ct, body: `{"a":1,,"client_id":"app"}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "missing colon", header: ct, body: `{"client_id" "app"}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "missing colon after unknown key", header: ct, body: `{"x" 1}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "missing comma", header: ct, body: `{"client_id":"app" "scope":"a"}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "single quotes", header: ct, body: `{'client_id':'app'}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "bad literal in unknown member", header: ct, body: `{"x":tru}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "number key", header: ct, body: `{1:"app"}`, code: "invalid_request", desc: "not valid JSON"},
		{name: "array closes object", header: ct, body: `{"client_id":"app"]`, code: "invalid_request", desc: "not valid JSON"},
		{name: "form body sent as JSON", header: ct, body: `grant_type=client_credentials`, code: "invalid_request", desc: "not valid JSON"},
		{name: "invalid UTF-8 in a value", header: ct, body: "{\"client_id\":\"app\xff\"}", code: "invalid_request", desc: "not valid UTF-8"},
		{name: "invalid UTF-8 in an unknown member", header: ct, body: "{\"x\":\"\xc3\x28\",\"grant_type\":\"client_credentials\"}",
			code: "invalid_request", desc: "not valid UTF-8"},
	})
}

func TestParseTokenRequestForm(t *testing.T) {
	ct := hdr("Content-Type", formType)
	gt := auth.TokenRequest{GrantType: "client_credentials"}
	runParseCases(t, []parseCase{
		{name: "parameters", header: ct,
			body: "grant_type=client_credentials&client_id=gooclaim_app_12345&client_secret=S3cureP%40ssw0rd%21&scope=a&resource=https%3A%2F%2Fr.example&audience=https%3A%2F%2Fr.example",
			want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "gooclaim_app_12345", ClientSecret: "S3cureP@ssw0rd!",
				AuthMethod: auth.AuthClientSecretPost, Scope: "a", Resource: "https://r.example", Audience: "https://r.example"}},
		{name: "charset utf-8", header: hdr("Content-Type", formType+"; charset=UTF-8"), body: "grant_type=client_credentials", want: gt},
		{name: "plus and %20 are spaces", header: ct, body: "grant_type=client_credentials&scope=read+write%20admin", want: auth.TokenRequest{
			GrantType: "client_credentials", Scope: "read write admin"}},
		{name: "percent-encoded names", header: ct, body: "grant%5Ftype=client_credentials&client%5Fid=app", want: auth.TokenRequest{
			GrantType: "client_credentials", ClientID: "app"}},
		{name: "empty value is absent", header: ct, body: "grant_type=client_credentials&scope=&client_secret=", want: gt},
		{name: "name without value is absent", header: ct, body: "grant_type=client_credentials&scope", want: gt},
		{name: "repeated unknown parameter ignored", header: ct, body: "x=1&grant_type=client_credentials&x=2", want: gt},
		{name: "trailing ampersand", header: ct, body: "grant_type=client_credentials&", want: gt},
		{name: "invalid UTF-8 in an unknown parameter ignored", header: ct, body: "x=%ff&grant_type=client_credentials", want: gt},
		{name: "empty body", header: ct, body: "", want: auth.TokenRequest{}},

		{name: "repeated client_id", header: ct, body: "client_id=a&client_id=b",
			code: "invalid_request", desc: "parameter client_id is repeated"},
		{name: "repeated scope with the same value", header: ct, body: "scope=a&grant_type=client_credentials&scope=a",
			code: "invalid_request", desc: "parameter scope is repeated"},
		{name: "repeated grant_type, one empty", header: ct, body: "grant_type=&grant_type=client_credentials",
			code: "invalid_request", desc: "parameter grant_type is repeated"},
		{name: "bad percent-escape", header: ct, body: "grant_type=client_credentials&client_id=%zz",
			code: "invalid_request", desc: "a percent-escape is invalid"},
		{name: "truncated percent-escape", header: ct, body: "grant_type=client_credentials&client_secret=abc%2",
			code: "invalid_request", desc: "a percent-escape is invalid"},
		{name: "semicolon separator", header: ct, body: "grant_type=client_credentials;client_id=app",
			code: "invalid_request", desc: "semicolons are not separators"},
		{name: "percent-encoded invalid UTF-8", header: ct, body: "grant_type=client_credentials&scope=%ff%fe",
			code: "invalid_request", desc: "parameter scope is not valid UTF-8"},
		{name: "raw invalid UTF-8", header: ct, body: "grant_type=client_credentials&scope=\xff",
			code: "invalid_request", desc: "not valid UTF-8"},
	})
}

func TestParseTokenRequestContentType(t *testing.T) {
	const body = "grant_type=client_credentials"
	runParseCases(t, []parseCase{
		{name: "missing", header: hdr(), body: body, code: "invalid_request", desc: acceptedTypes},
		{name: "empty", header: hdr("Content-Type", ""), body: body, code: "invalid_request", desc: acceptedTypes},
		{name: "text/plain", header: hdr("Content-Type", "text/plain"), body: body, code: "invalid_request", desc: `unsupported Content-Type "text/plain"`},
		{name: "multipart", header: hdr("Content-Type", "multipart/form-data; boundary=x"), body: body, code: "invalid_request", desc: acceptedTypes},
		{name: "json with a suffix", header: hdr("Content-Type", "application/jsonx"), body: body, code: "invalid_request", desc: acceptedTypes},
		{name: "two headers", header: hdr("Content-Type", formType, "Content-Type", formType), body: body,
			code: "invalid_request", desc: "exactly one Content-Type header: " + acceptedTypes},
		{name: "garbage", header: hdr("Content-Type", "}}not a media type{{"), body: body, code: "invalid_request", desc: acceptedTypes},
		{name: "conflicting charsets", header: hdr("Content-Type", formType+"; charset=utf-8; charset=latin1"), body: body,
			code: "invalid_request", desc: acceptedTypes},
		{name: "long value is cut short", header: hdr("Content-Type", "text/"+strings.Repeat("x", 200)), body: body,
			code: "invalid_request", desc: strings.Repeat("x", 59) + `…"`},
		{name: "Basic client_id survives a bad content type", header: hdr("Authorization", basic("app:s")), body: body,
			want: auth.TokenRequest{ClientID: "app", ClientSecret: "s", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: acceptedTypes},
	})
}

func TestParseTokenRequestBasic(t *testing.T) {
	const ctName, form = "Content-Type", formType
	basicReq := func(id, secret string) auth.TokenRequest {
		return auth.TokenRequest{GrantType: "client_credentials", ClientID: id, ClientSecret: secret, AuthMethod: auth.AuthClientSecretBasic}
	}
	const gt = "grant_type=client_credentials"
	gtOnly := auth.TokenRequest{GrantType: "client_credentials"}
	runParseCases(t, []parseCase{
		{name: "form-url-encoded id and secret", header: hdr(ctName, form, "Authorization", basic("my%3Aclient:s3cret+with%25+sp%2Bce")),
			body: gt, want: basicReq("my:client", "s3cret with% sp+ce")},
		{name: "colon in the secret", header: hdr(ctName, form, "Authorization", basic("app:pa:ss")),
			body: gt, want: basicReq("app", "pa:ss")},
		{name: "seed credentials", header: hdr(ctName, jsonType, "Authorization", basic("gooclaim_app_12345:S3cureP%40ssw0rd%21")),
			body: `{"grant_type":"client_credentials"}`, want: basicReq("gooclaim_app_12345", "S3cureP@ssw0rd!")},
		{name: "unencoded @ and ! pass through", header: hdr(ctName, form, "Authorization", basic("gooclaim_app_12345:S3cureP@ssw0rd!")),
			body: gt, want: basicReq("gooclaim_app_12345", "S3cureP@ssw0rd!")},
		{name: "lowercase scheme", header: hdr(ctName, form, "Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte("app:s"))),
			body: gt, want: basicReq("app", "s")},
		{name: "uppercase scheme, extra spaces", header: hdr(ctName, form, "Authorization", "BASIC   "+base64.StdEncoding.EncodeToString([]byte("app:s"))+" "),
			body: gt, want: basicReq("app", "s")},
		{name: "empty secret", header: hdr(ctName, form, "Authorization", basic("app:")),
			body: gt, want: basicReq("app", "")},
		{name: "same client_id in the body", header: hdr(ctName, form, "Authorization", basic("app:s")),
			body: gt + "&client_id=app", want: basicReq("app", "s")},
		{name: "same encoded client_id in the body", header: hdr(ctName, form, "Authorization", basic("my%3Aapp:s")),
			body: gt + "&client_id=my%3Aapp", want: basicReq("my:app", "s")},
		{name: "same client_id in a JSON body", header: hdr(ctName, jsonType, "Authorization", basic("app:s")),
			body: `{"grant_type":"client_credentials","client_id":"app"}`, want: basicReq("app", "s")},

		{name: "bad base64", header: hdr(ctName, form, "Authorization", "Basic !!!not-base64"),
			body: gt, want: auth.TokenRequest{}, code: "invalid_client", desc: "not valid base64"},
		{name: "unpadded base64", header: hdr(ctName, form, "Authorization", "Basic "+base64.RawStdEncoding.EncodeToString([]byte("app:s"))),
			body: gt, want: auth.TokenRequest{}, code: "invalid_client", desc: "not valid base64"},
		{name: "no colon", header: hdr(ctName, form, "Authorization", basic("app")),
			body: gt, code: "invalid_client", desc: "no colon"},
		{name: "empty header value", header: hdr(ctName, form, "Authorization", "Basic"),
			body: gt, code: "invalid_client", desc: "no colon"},
		{name: "empty client_id", header: hdr(ctName, form, "Authorization", basic(":secret")),
			body: gt, code: "invalid_client", desc: "empty client_id"},
		{name: "bad escape in the id", header: hdr(ctName, form, "Authorization", basic("app%zz:s")),
			body: gt, code: "invalid_client", desc: "not form-url-encoded correctly"},
		{name: "bad escape in the secret", header: hdr(ctName, form, "Authorization", basic("app:s%")),
			body: gt, code: "invalid_client", desc: "not form-url-encoded correctly"},
		{name: "Bearer scheme", header: hdr(ctName, form, "Authorization", "Bearer abc.def.ghi"),
			body: gt, code: "invalid_client", desc: "unsupported authentication scheme"},
		{name: "scheme only, no space", header: hdr(ctName, form, "Authorization", "Basicabc"),
			body: gt, code: "invalid_client", desc: "unsupported authentication scheme"},
		{name: "client_id in the body does not replace a bad header", header: hdr(ctName, form, "Authorization", "Bearer x"),
			body: gt + "&client_id=app&client_secret=s", code: "invalid_client", desc: "unsupported authentication scheme"},
		{name: "two Authorization headers", header: hdr(ctName, form, "Authorization", basic("app:s"), "Authorization", basic("app:s")),
			body: gt, code: "invalid_request", desc: "at most one Authorization header"},

		{name: "client_secret in the body too", header: hdr(ctName, form, "Authorization", basic("app:s")),
			body: gt + "&client_secret=s", want: basicReq("app", "s"),
			code: "invalid_request", desc: "both HTTP Basic and client_secret"},
		{name: "client_secret in a JSON body too", header: hdr(ctName, jsonType, "Authorization", basic("app:s")),
			body: `{"grant_type":"client_credentials","client_secret":"other"}`, want: basicReq("app", "s"),
			code: "invalid_request", desc: "both HTTP Basic and client_secret"},
		{name: "different client_id in the body", header: hdr(ctName, form, "Authorization", basic("app:s")),
			body: gt + "&client_id=other", want: basicReq("app", "s"),
			code: "invalid_request", desc: "client_id in the body differs"},
		{name: "client_id differing only in case", header: hdr(ctName, form, "Authorization", basic("app:s")),
			body: gt + "&client_id=APP", want: basicReq("app", "s"),
			code: "invalid_request", desc: "client_id in the body differs"},
		{name: "Basic client_id survives a bad body", header: hdr(ctName, jsonType, "Authorization", basic("app:s")),
			body: `{"grant_type":`, want: auth.TokenRequest{ClientID: "app", ClientSecret: "s", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: "ends too early"},
		{name: "Basic client_id survives a repeated parameter", header: hdr(ctName, form, "Authorization", basic("app:s")),
			body: "scope=a&scope=b", want: auth.TokenRequest{ClientID: "app", ClientSecret: "s", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: "parameter scope is repeated"},
		{name: "body without Basic is post", header: hdr(ctName, form),
			body: gt + "&client_id=app&client_secret=s", want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "app", ClientSecret: "s", AuthMethod: auth.AuthClientSecretPost}},
		{name: "no credentials at all", header: hdr(ctName, form), body: gt, want: gtOnly},
	})
}

// TestParseTokenRequestCharacters: client_id and client_secret are VSCHAR,
// %x20-7E (RFC 6749 Appendix A.1, A.2), however they arrive.
func TestParseTokenRequestCharacters(t *testing.T) {
	jsonCT, formCT := hdr("Content-Type", jsonType), hdr("Content-Type", formType)
	const idDesc, secretDesc = "client_id may contain only printable ASCII", "client_secret may contain only printable ASCII"
	post := func(id, secret string) auth.TokenRequest {
		r := auth.TokenRequest{GrantType: "client_credentials", ClientID: id, ClientSecret: secret}
		if secret != "" {
			r.AuthMethod = auth.AuthClientSecretPost
		}
		return r
	}
	runParseCases(t, []parseCase{
		{name: "space and tilde are allowed", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"a b~","client_secret":" !~"}`,
			want: post("a b~", " !~")},
		{name: "JSON NUL in client_id", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"app\u0000"}`,
			want: post("app\x00", ""), code: "invalid_request", desc: idDesc},
		{name: "JSON newline in client_id", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"app\n"}`,
			want: post("app\n", ""), code: "invalid_request", desc: idDesc},
		{name: "JSON non-ASCII client_id", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"café"}`,
			want: post("café", ""), code: "invalid_request", desc: idDesc},
		{name: "JSON DEL in client_secret", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"app","client_secret":"s\u007f"}`,
			want: post("app", "s\x7f"), code: "invalid_request", desc: secretDesc},
		{name: "JSON newline in client_secret", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"app","client_secret":"s\n"}`,
			want: post("app", "s\n"), code: "invalid_request", desc: secretDesc},
		{name: "JSON non-ASCII client_secret", header: jsonCT, body: `{"grant_type":"client_credentials","client_id":"app","client_secret":"pässwörd"}`,
			want: post("app", "pässwörd"), code: "invalid_request", desc: secretDesc},
		{name: "form NUL in client_id", header: formCT, body: "grant_type=client_credentials&client_id=app%00",
			want: post("app\x00", ""), code: "invalid_request", desc: idDesc},
		{name: "form non-ASCII client_id", header: formCT, body: "grant_type=client_credentials&client_id=caf%C3%A9",
			want: post("café", ""), code: "invalid_request", desc: idDesc},
		{name: "form tab in client_secret", header: formCT, body: "grant_type=client_credentials&client_id=app&client_secret=s%09",
			want: post("app", "s\t"), code: "invalid_request", desc: secretDesc},
		{name: "Basic newline in client_id", header: hdr("Content-Type", formType, "Authorization", basic("app%0A:s")),
			body: "grant_type=client_credentials",
			want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "app\n", ClientSecret: "s", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: idDesc},
		{name: "Basic NUL in client_secret", header: hdr("Content-Type", formType, "Authorization", basic("app:s%00")),
			body: "grant_type=client_credentials",
			want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "app", ClientSecret: "s\x00", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: secretDesc},
		{name: "Basic non-ASCII client_secret", header: hdr("Content-Type", formType, "Authorization", basic("app:p%C3%A4ss")),
			body: "grant_type=client_credentials",
			want: auth.TokenRequest{GrantType: "client_credentials", ClientID: "app", ClientSecret: "päss", AuthMethod: auth.AuthClientSecretBasic},
			code: "invalid_request", desc: secretDesc},
	})
}

// sizedBody returns a valid body of exactly n bytes, padded in an unknown parameter.
func sizedBody(t *testing.T, contentType string, n int) string {
	t.Helper()
	var prefix, suffix string
	switch contentType {
	case formType:
		prefix = "grant_type=client_credentials&client_id=app&pad="
	case jsonType:
		prefix, suffix = `{"grant_type":"client_credentials","client_id":"app","pad":"`, `"}`
	}
	body := prefix + strings.Repeat("a", n-len(prefix)-len(suffix)) + suffix
	if len(body) != n {
		t.Fatalf("body is %d bytes, want %d", len(body), n)
	}
	return body
}

// onlyReader hides the concrete type of a reader, so that httptest.NewRequest
// cannot know the length: the request has no Content-Length.
type onlyReader struct{ io.Reader }

func TestParseTokenRequestBodySize(t *testing.T) {
	ok := auth.TokenRequest{GrantType: "client_credentials", ClientID: "app"}
	for _, tc := range []struct {
		name          string
		contentType   string
		size          int
		contentLength int64 // -1: unknown (chunked); 0: the body's length
		tooLarge      bool
	}{
		{name: "form exactly the limit", contentType: formType, size: oauthwire.MaxBodyBytes},
		{name: "form exactly the limit, no Content-Length", contentType: formType, size: oauthwire.MaxBodyBytes, contentLength: -1},
		{name: "json exactly the limit", contentType: jsonType, size: oauthwire.MaxBodyBytes},
		{name: "json exactly the limit, no Content-Length", contentType: jsonType, size: oauthwire.MaxBodyBytes, contentLength: -1},
		{name: "form one byte over", contentType: formType, size: oauthwire.MaxBodyBytes + 1, tooLarge: true},
		{name: "form one byte over, no Content-Length", contentType: formType, size: oauthwire.MaxBodyBytes + 1, contentLength: -1, tooLarge: true},
		{name: "json one byte over", contentType: jsonType, size: oauthwire.MaxBodyBytes + 1, tooLarge: true},
		{name: "json one byte over, no Content-Length", contentType: jsonType, size: oauthwire.MaxBodyBytes + 1, contentLength: -1, tooLarge: true},
		{name: "far over, no Content-Length", contentType: formType, size: 4 * oauthwire.MaxBodyBytes, contentLength: -1, tooLarge: true},
		{name: "Content-Length over the limit, small body", contentType: formType, size: 100, contentLength: oauthwire.MaxBodyBytes + 1, tooLarge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := sizedBody(t, tc.contentType, tc.size)
			var r *http.Request
			if tc.contentLength == -1 {
				r = httptest.NewRequest(http.MethodPost, "/oauth/token", onlyReader{strings.NewReader(body)})
				if r.ContentLength != -1 {
					t.Fatalf("ContentLength %d, want -1", r.ContentLength)
				}
			} else {
				r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
				if tc.contentLength > 0 {
					r.ContentLength = tc.contentLength
				}
			}
			r.Header.Set("Content-Type", tc.contentType)
			got, err := oauthwire.ParseTokenRequest(r)
			if tc.tooLarge {
				// The HTTP layer maps this very value to 413.
				if err != oauthwire.ErrBodyTooLarge {
					t.Fatalf("error %v, want ErrBodyTooLarge", err)
				}
				if !errors.Is(err, auth.ErrInvalidRequest) || !strings.Contains(err.Error(), fmt.Sprint(oauthwire.MaxBodyBytes)) {
					t.Errorf("ErrBodyTooLarge is %v, want an invalid_request naming the limit", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, want none", err)
			}
			if !reflect.DeepEqual(got, ok) {
				t.Errorf("request %+v, want %+v", got, ok)
			}
		})
	}
}

// TestParseTokenRequestReusesBuffers parses many different bodies in turn and
// at once, so that a pooled buffer leaking from one request into another
// shows up (and, under -race, any shared state).
func TestParseTokenRequestReusesBuffers(t *testing.T) {
	parse := func(i int) error {
		id := fmt.Sprintf("client-%d", i)
		var r *http.Request
		if i%2 == 0 {
			r = httptest.NewRequest(http.MethodPost, "/oauth/token", bytes.NewReader([]byte(`{"client_id":"`+id+`","pad":"`+strings.Repeat("x", i*37%5000)+`"}`)))
			r.Header.Set("Content-Type", jsonType)
		} else {
			r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("client_id="+id+"&pad="+strings.Repeat("y", i*53%5000)))
			r.Header.Set("Content-Type", formType)
		}
		got, err := oauthwire.ParseTokenRequest(r)
		if err != nil {
			return err
		}
		if got.ClientID != id {
			return fmt.Errorf("request %d: client_id %q, want %q", i, got.ClientID, id)
		}
		return nil
	}
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := w; i < 400; i += 8 {
				if err := parse(i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		err        error
		wantCode   string
		wantDesc   string
		mustNotSay string
	}{
		{name: "OAuth error", status: http.StatusBadRequest,
			err:      auth.ErrInvalidScope.WithDescription(`scope "x" is not allowed for this client`),
			wantCode: "invalid_scope", wantDesc: `scope "x" is not allowed for this client`},
		{name: "wrapped OAuth error", status: http.StatusUnauthorized,
			err:      fmt.Errorf("issue: %w", auth.ErrInvalidClient.WithDescription("client authentication failed")),
			wantCode: "invalid_client", wantDesc: "client authentication failed", mustNotSay: "issue:"},
		{name: "internal error", status: http.StatusInternalServerError,
			err:      errors.New("open /var/lib/gooclaim/auth.db: permission denied"),
			wantCode: "server_error", wantDesc: "try again later", mustNotSay: "/var/lib"},
		{name: "domain error", status: http.StatusServiceUnavailable,
			err:      fmt.Errorf("load keys: %w", auth.Errorf(auth.EUNAVAILABLE, "database is locked at 10.0.0.7")),
			wantCode: "server_error", wantDesc: "try again later", mustNotSay: "10.0.0.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			oauthwire.WriteError(w, tc.status, tc.err)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			checkHeaders(t, w.Header(), map[string]string{
				"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"})
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if len(body) != 2 || body["error"] != tc.wantCode || !strings.Contains(body["error_description"], tc.wantDesc) {
				t.Errorf("body %q, want error %q and a description containing %q", w.Body, tc.wantCode, tc.wantDesc)
			}
			if tc.mustNotSay != "" && strings.Contains(w.Body.String(), tc.mustNotSay) {
				t.Errorf("body %q reveals %q", w.Body, tc.mustNotSay)
			}
		})
	}
}

func TestWriteToken(t *testing.T) {
	w := httptest.NewRecorder()
	oauthwire.WriteToken(w, &auth.Token{AccessToken: "eyJ.a.b", TokenType: "Bearer", ExpiresIn: 3600, Scope: "read write"})
	if w.Code != http.StatusOK {
		t.Errorf("status %d, want 200", w.Code)
	}
	checkHeaders(t, w.Header(), map[string]string{
		"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"})
	const want = `{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":3600,"scope":"read write"}` + "\n"
	if got := w.Body.String(); got != want {
		t.Errorf("body %q, want %q", got, want)
	}

	w = httptest.NewRecorder()
	oauthwire.WriteToken(w, &auth.Token{AccessToken: "t", TokenType: "Bearer", ExpiresIn: 60})
	if got, want := w.Body.String(), `{"access_token":"t","token_type":"Bearer","expires_in":60}`+"\n"; got != want {
		t.Errorf("body without scope %q, want %q", got, want)
	}
}

func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %q, want exactly %q", name, got, v)
		}
	}
}

func TestOverlongClientIDIsNotCharged(t *testing.T) {
	long := strings.Repeat("a", oauthwire.MaxClientIDLength+1)
	r := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader("grant_type=client_credentials&client_secret=x&client_id="+long))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req, err := oauthwire.ParseTokenRequest(r)
	if !errors.Is(err, auth.ErrInvalidRequest) || req.ClientID != "" {
		t.Fatalf("err %v, client_id kept: %v", err, req.ClientID != "")
	}
}

func TestParseTokenExchange(t *testing.T) {
	body := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=s.t.x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt" +
		"&actor_token=a&actor_token_type=at&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=read"
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req, err := oauthwire.ParseTokenRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.TokenRequest{GrantType: auth.GrantTokenExchange, SubjectToken: "s.t.x", SubjectTokenType: auth.TokenTypeJWT,
		ActorToken: "a", ActorTokenType: "at", RequestedTokenType: auth.TokenTypeAccessToken, Scope: "read"}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got %+v\nwant %+v", req, want)
	}
	long := `{"grant_type":"x","subject_token":"` + strings.Repeat("a", oauthwire.MaxTokenLength+1) + `"}`
	r = httptest.NewRequest(http.MethodPost, "/v1/auth/token", strings.NewReader(long))
	r.Header.Set("Content-Type", "application/json")
	if _, err := oauthwire.ParseTokenRequest(r); err == nil || !strings.Contains(err.Error(), "subject_token is longer") {
		t.Fatalf("long subject_token: %v", err)
	}
}

// TestFederatedAssertionLeavesClientID: an assertion whose iss is not its
// sub (a trusted issuer's token) names no client_id; the issuer finds it.
func TestFederatedAssertionLeavesClientID(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	assertion := enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"iss":"https://k8s.test","sub":"system:serviceaccount:ns:sa"}`)) + ".c2ln"
	body := "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(auth.ClientAssertionTypeJWT) + "&client_assertion=" + assertion
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req, err := oauthwire.ParseTokenRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if req.ClientID != "" || req.AuthMethod != auth.AuthPrivateKeyJWT || req.ClientAssertion != assertion {
		t.Fatalf("got %+v", req)
	}
}
