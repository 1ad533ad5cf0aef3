package authconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, name string, data []byte) *Document {
	t.Helper()
	d, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s):\n%v", name, err)
	}
	return d
}

// TestParseFull checks every field of testdata/full.yaml, the example of
// the format.
func TestParseFull(t *testing.T) {
	data := readFile(t, "testdata/full.yaml")
	d := mustParse(t, "testdata/full.yaml", data)
	sum := sha256.Sum256(data)
	if want := "sha256:" + hex.EncodeToString(sum[:]); d.Digest != want || d.File != "testdata/full.yaml" {
		t.Errorf("File, Digest = %q, %q; want testdata/full.yaml, %q", d.File, d.Digest, want)
	}
	ciJWKS := `{"keys":[{"kty":"EC","crv":"P-256","kid":"ci-2024","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tAf6ZNg5R4FhdjVXB-hXMmrfhWO4"}]}`
	wantIssuers := []Issuer{
		{Issuer: &auth.TrustedIssuer{Name: "k8s-prod", Issuer: "https://kubernetes.default.svc", Audience: "https://auth.gooclaim.com", MaxTokenAge: time.Hour}, Adopt: true, Line: 7},
		{Issuer: &auth.TrustedIssuer{Name: "github", Issuer: "https://token.actions.githubusercontent.com",
			JWKSURI: "https://token.actions.githubusercontent.com/.well-known/jwks", MaxTokenAge: 10 * time.Minute}, Line: 13},
		{Issuer: &auth.TrustedIssuer{Name: "ci-offline", Issuer: "https://ci.gooclaim.internal", Disabled: true, JWKS: []byte(ciJWKS)}, Line: 18},
	}
	acmeJWKS := strings.Trim(strings.TrimPrefix(lineWith(t, data, "    jwks: '{"), "    jwks: "), "'")
	wantClients := []Client{
		{Client: &auth.Client{ID: "billing-sync", Name: "Billing sync", Scopes: []string{"claims:read", "claims:write"},
			Audiences: []string{"https://api.gooclaim.com", "https://billing.gooclaim.com"}, TokenTTL: 15 * time.Minute,
			RateLimit: auth.Rate{Limit: 100, Window: time.Minute}, AuthMethods: []string{"client_secret_basic"},
			Metadata: map[string]string{"owner": "claims-team", "contact": "claims@gooclaim.com", "tier": "1"}},
			Secret: SecretSource{FromFile: "/run/secrets/billing"}, Adopt: true, Line: 30},
		{Client: &auth.Client{ID: "reports", Name: "Nightly reports", Scopes: []string{"reports:read"},
			RateLimit: auth.Rate{Limit: 10, Window: time.Second}, AuthMethods: []string{"client_secret_post"}, Disabled: true},
			Secret: SecretSource{FromEnv: "REPORTS_SECRET"}, Line: 45},
		{Client: &auth.Client{ID: "partner-acme", Scopes: []string{"claims:read"}, AuthMethods: []string{"private_key_jwt"}, JWKS: []byte(acmeJWKS)}, Line: 55},
		{Client: &auth.Client{ID: "k8s-billing", Name: "Billing in Kubernetes, no secret at all", Scopes: []string{"claims:read"},
			AuthMethods: []string{"federated_jwt"}, Federated: []auth.FederatedIdentity{
				{Issuer: "k8s-prod", Subject: "system:serviceaccount:claims:billing"},
				{Issuer: "github", Subject: "repo:gooclaim/billing:ref:refs/heads/main"},
				{Issuer: "github", Subject: "repo:gooclaim/billing:environment:prod"}},
			ExchangeAudiences: []string{"https://ledger.gooclaim.com"}, RequireDPoP: true}, Line: 60},
		{Client: &auth.Client{ID: "mtls-ledger", AuthMethods: []string{"tls_client_auth"}, RequireCertificateBoundTokens: true,
			TLSClientAuth: auth.TLSClientAuth{SubjectDN: "CN=ledger,O=Gooclaim"}}, Line: 72},
		{Client: &auth.Client{ID: "mtls-dns", AuthMethods: []string{"tls_client_auth"}, TLSClientAuth: auth.TLSClientAuth{SANDNS: "ledger.gooclaim.internal"}}, Line: 77},
		{Client: &auth.Client{ID: "mtls-uri", TLSClientAuth: auth.TLSClientAuth{SANURI: "spiffe://gooclaim.com/ledger"}}, Line: 81},
		{Client: &auth.Client{ID: "mtls-ip", TLSClientAuth: auth.TLSClientAuth{SANIP: "2001:db8::7"}}, Line: 84},
		{Client: &auth.Client{ID: "mtls-email", JWKSURI: "https://ledger.gooclaim.com/jwks.json", TLSClientAuth: auth.TLSClientAuth{SANEmail: "ledger@gooclaim.com"},
			Quotas: []auth.Rate{{Limit: 1000, Window: time.Hour}, {Limit: 10000, Window: 24 * time.Hour}}, QuotaMode: auth.QuotaWarn,
			Claims:    map[string]string{"tenant": "client.metadata.tenant", "env": "has(client.metadata.env) ? client.metadata.env : null"},
			Condition: `ip_in(request.remote_ip, ["10.0.0.0/8", "2001:db8::/32"])`, TokenReuse: auth.ReuseOn},
			Secret: SecretSource{Generate: true}, Line: 87},
	}
	if len(d.Issuers) != len(wantIssuers) || len(d.Clients) != len(wantClients) {
		t.Fatalf("%d issuers, %d clients; want %d, %d", len(d.Issuers), len(d.Clients), len(wantIssuers), len(wantClients))
	}
	for i, want := range wantIssuers {
		got := d.Issuers[i]
		got.fields = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("issuer %d:\n got %+v %+v\nwant %+v %+v", i, got, *got.Issuer, want, *want.Issuer)
		}
	}
	for i, want := range wantClients {
		got := d.Clients[i]
		got.fields = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("client %d:\n got %+v %+v\nwant %+v %+v", i, got, *got.Client, want, *want.Client)
		}
	}
}

// lineWith is the first line of data that starts with prefix.
func lineWith(t *testing.T, data []byte, prefix string) string {
	for l := range strings.Lines(string(data)) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSuffix(l, "\n")
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return ""
}

func TestFieldLine(t *testing.T) {
	d := mustParse(t, "full.yaml", readFile(t, "testdata/full.yaml"))
	for _, tc := range []struct {
		got, want int
		what      string
	}{
		{d.Clients[0].FieldLine("token_ttl"), 34, "billing-sync token_ttl"},
		{d.Clients[0].FieldLine("secret"), 41, "billing-sync secret"},
		{d.Clients[0].FieldLine("jwks"), 30, "billing-sync jwks (absent: the entry's line)"},
		{d.Clients[3].FieldLine("federated"), 64, "k8s-billing federated"},
		{d.Issuers[1].FieldLine("jwks_uri"), 15, "github jwks_uri"},
		{d.Issuers[1].FieldLine("audience"), 13, "github audience (absent)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: line %d, want %d", tc.what, tc.got, tc.want)
		}
	}
}

// TestParseJSON: JSON is YAML, and reads to the same settings.
func TestParseJSON(t *testing.T) {
	y := mustParse(t, "a.yaml", []byte(`apiVersion: gooclaim.com/auth/v1
kind: AuthConfig
clients:
  - client_id: a
    token_ttl: 1h
    jwks: {keys: [{kty: EC, n: 1.50, ok: true, none: null}]}
    metadata: {v: 1.10}
`))
	j := mustParse(t, "a.json", []byte(`{"apiVersion": "gooclaim.com/auth/v1", "kind": "AuthConfig",
  "clients": [{"client_id": "a", "token_ttl": "1h", "jwks": {"keys": [{"kty": "EC", "n": 1.50, "ok": true, "none": null}]},
  "metadata": {"v": 1.10}}]}`))
	if !reflect.DeepEqual(y.Clients[0].Client, j.Clients[0].Client) {
		t.Errorf("YAML %+v\nJSON %+v", *y.Clients[0].Client, *j.Clients[0].Client)
	}
	if got, want := string(j.Clients[0].Client.JWKS), `{"keys":[{"kty":"EC","n":1.50,"ok":true,"none":null}]}`; got != want {
		t.Errorf("JWKS %s, want %s", got, want)
	}
	if got := j.Clients[0].Client.Metadata["v"]; got != "1.10" {
		t.Errorf("metadata v = %q, want the literal 1.10", got)
	}
}

// TestEmptyIsNil: empty and null lists and mappings, and a zero duration,
// are the same as leaving the field out.
func TestEmptyIsNil(t *testing.T) {
	d := mustParse(t, "empty.yaml", []byte(`apiVersion: gooclaim.com/auth/v1
kind: AuthConfig
issuers: []
clients:
  - client_id: a
    scopes: []
    audiences:
    metadata: {}
    federated: []
    exchange_audiences: null
    auth_methods: []
    token_ttl: 0
`))
	if want := (&auth.Client{ID: "a"}); !reflect.DeepEqual(d.Clients[0].Client, want) || d.Issuers != nil {
		t.Errorf("got %+v, issuers %v; want %+v and none", *d.Clients[0].Client, d.Issuers, *want)
	}
}

type wantProblem struct {
	line          int
	object, field string
	contains      string
}

// TestProblems: each file of testdata/problems and every problem it has,
// all reported at once, with its line, object and field.
func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []wantProblem
	}{
		{"header.yaml", []wantProblem{{1, "", "kind", `must be AuthConfig, not "AuthConfigs"`}, {1, "", "apiVersion", "missing; write for example  apiVersion: gooclaim.com/auth/v1"}}},
		{"version.yaml", []wantProblem{{1, "", "apiVersion", `must be gooclaim.com/auth/v1, not "gooclaim.com/auth/v2"`}, {2, "", "kind", "must be AuthConfig, not a list"}}},
		{"unknown.yaml", []wantProblem{
			{3, "", "client", "unknown field; did you mean clients?"},
			{7, `client "billing"`, "toke_ttl", "did you mean token_ttl?"},
			{8, `client "billing"`, "colour", "the fields here are client_id, name,"},
			{10, `client "billing"`, "secret.from_fil", "did you mean from_file?"},
		}},
		{"types.yaml", []wantProblem{
			{6, `issuer "k8s"`, "max_token_age", `invalid duration "-1h"`},
			{7, `issuer "k8s"`, "disabled", `want true or false, not the string "yes"`},
			{10, `client "billing"`, "name", "want a string, not a list"},
			{11, `client "billing"`, "scopes", `want a list of strings, such as  scopes: [claims:read], not the string "claims:read"`},
			{12, `client "billing"`, "token_ttl", `invalid duration "15"`},
			{13, `client "billing"`, "rate_limit", "want a rate LIMIT/WINDOW such as 100/1m, not the number 100"},
			{14, `client "billing"`, "metadata", "want a mapping of names to values"},
			{15, `client "billing"`, "federated", "federated: [k8s=system:serviceaccount:claims:billing]"},
			{16, `client "billing"`, "audiences", `not the number 42; quote it:  audiences: "42"`},
			{17, "client #2", "client_id", `quote it:  client_id: "12345"`},
			{19, "client #2", "federated", `"k8s": want ISSUER=SUBJECT`},
			{20, "client #2", "federated.subject", "missing"},
			{21, "client #2", "token_reuse", `token reuse "sometimes": want on`},
			{23, `client "three"`, "token_reuse", "want on, off or default, not the number 1"},
		}},
		{"duplicates.yaml", []wantProblem{
			{6, `issuer "k8s"`, "name", "another issuer has this name, on line 4"},
			{11, `client "billing"`, "name", "given twice (first on line 10)"},
			{12, "client #2", "client_id", "missing; write for example  client_id: billing-sync"},
			{13, `client "billing"`, "client_id", "another client has this client_id, on line 9"},
			{14, "client #4", "client_id", "must not be empty"},
		}},
		{"secret.yaml", []wantProblem{
			{6, `client "a"`, "secret", "generate: false is not a source; for a client without a secret remove the secret field"},
			{8, `client "b"`, "secret", "give exactly one of from_file, from_env and generate"},
			{10, `client "c"`, "secret", "empty; write one of"},
			{12, `client "d"`, "secret", `want a mapping, such as  {generate: true}; not the string "generate"`},
			{14, `client "e"`, "secret.from_file", "must not be empty"},
		}},
		{"exclusive.yaml", []wantProblem{
			{7, `issuer "k8s"`, "jwks", "give only one of jwks_uri, jwks; jwks_uri is on line 6"},
			{11, `client "ledger"`, "tls_client_auth_san_ip", "tls_client_auth_san_dns is on line 10"},
		}},
		{"jwks.yaml", []wantProblem{
			{5, `client "a"`, "jwks", "the string is not JSON"},
			{7, `client "b"`, "jwks", "not a list"},
			{11, `client "c"`, "jwks", ".inf cannot be written in JSON"},
			{13, `client "d"`, "jwks", "a JSON object"},
		}},
		{"lists.yaml", []wantProblem{
			{3, "", "issuers", "want a list of issuers, each starting with  - name: …, not a mapping"},
			{5, "client #1", "", `want a mapping, such as  - client_id: …; not the string "just-a-string"`},
		}},
		{"aliases.yaml", []wantProblem{{5, "", "", "anchor &scopes: anchors and aliases are not accepted"}, {7, "", "", "alias *scopes"}}},
		{"multidoc.yaml", []wantProblem{{3, "", "", "a second YAML document starts here"}}},
		{"syntax.yaml", []wantProblem{{5, "", "", "invalid YAML"}}},
		{"notmapping.yaml", []wantProblem{{1, "", "", "want a mapping, such as  apiVersion: gooclaim.com/auth/v1; not a list"}}},
		{"empty.yaml", []wantProblem{{1, "", "", "the file is empty"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			name := "testdata/problems/" + tc.file
			checkProblems(t, name, readFile(t, name), tc.want)
		})
	}
}

func checkProblems(t *testing.T, name string, data []byte, want []wantProblem) {
	t.Helper()
	d, err := Parse(name, data)
	var e *Error
	if !errors.As(err, &e) || d != nil {
		t.Fatalf("Parse = %v, %v; want an *Error", d, err)
	}
	if len(e.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(e.Problems), len(want), err)
	}
	for i, p := range e.Problems[:min(len(want), len(e.Problems))] {
		w := want[i]
		if p.File != name || p.Line != w.line || p.Object != w.object || p.Field != w.field || !strings.Contains(p.Message, w.contains) {
			t.Errorf("problem %d:\n got %s\nwant %s:%d: %s: %s: …%s…", i, p, name, w.line, w.object, w.field, w.contains)
		}
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != len(e.Problems) {
		t.Errorf("Error() has %d lines for %d problems", lines, len(e.Problems))
	}
}

func TestTooLarge(t *testing.T) {
	data := []byte("apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\n#" + strings.Repeat("x", MaxSize))
	checkProblems(t, "big.yaml", data, []wantProblem{{0, "", "", "more than the 16777216 (16 MiB) accepted"}})
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Object: `client "billing"`, Field: "token_ttl", Message: "bad"}, `a.yaml:3: client "billing": token_ttl: bad`},
		{Problem{File: "-", Line: 1, Field: "kind", Message: "bad"}, "-:1: kind: bad"},
		{Problem{File: "a.yaml", Message: "too large"}, "a.yaml: too large"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestSecretSourceIsZero(t *testing.T) {
	if !(SecretSource{}).IsZero() || (SecretSource{Generate: true}).IsZero() || (SecretSource{FromEnv: "X"}).IsZero() {
		t.Error("IsZero is true only for the zero value")
	}
}

// TestProblemsAreBounded: a file with thousands of problems is told of the
// first MaxProblems and how many more, in the order of their lines.
func TestProblemsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n")
	for range 5000 {
		b.WriteString("  - {client_id: same, name: n}\n")
	}
	_, err := Parse("big.yaml", []byte(b.String()))
	e, ok := err.(*Error)
	if !ok || len(e.Problems) != MaxProblems+1 {
		t.Fatalf("%d problems (%T); want %d and a summary", len(e.Problems), err, MaxProblems+1)
	}
	last := e.Problems[MaxProblems]
	if !strings.Contains(last.Message, "and 4899 more problem(s)") || last.Line < e.Problems[MaxProblems-1].Line {
		t.Errorf("the summary: %+v", last)
	}
}
