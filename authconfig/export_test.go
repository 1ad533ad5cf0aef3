package authconfig

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth"
)

// nasty are strings YAML could misread if written plainly.
var nasty = []string{"yes", "no", "on", "off", "y", "n", "null", "~", "", "true", "False", "123", "0x1F", "0o17", "1e3", "1_000",
	"1:20", ".inf", "-.5", " lead", "trail ", " ", "a: b", "a #b", "#c", "-", "- x", "[x]", "{x}", "x, y", "'q'", `"dq"`,
	"multi\nline", "trail\n", "\n", "tab\there", "é ünï 日本 🔑", "*star", "&amp", "!bang", "%pct", "@at", "`bt", "<<", "?", "|", ">",
	"a\u2028b", "\u0085x", "=", "k=v=w", "%TAG", "---", "..."}

func settingsClients() []*auth.Client {
	return []*auth.Client{
		{ID: "z-last", Name: "Zed", Scopes: nasty, Audiences: []string{"https://api.gooclaim.com", "yes"},
			TokenTTL: 90 * time.Minute, RateLimit: auth.Rate{Limit: 100000, Window: 24 * time.Hour}, Disabled: true,
			AuthMethods: []string{auth.AuthClientSecretBasic, auth.AuthPrivateKeyJWT},
			JWKS:        []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83O","y":"x_FE","n":1.50,"big":12345678901234567890,"e":-1e-3,"ok":true,"no":false,"nil":null,"s":"123","html":"<&>","nested":{"b":[1,[2,{}],[]],"a":{}}}]}`),
			Metadata:    map[string]string{"owner": "claims-team", "yes": "no", "": "empty", "k: v": " spaced ", "version": "1.10", "ünï": "日本"},
			Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:claims:billing"},
				{Issuer: "gh", Subject: "x, y} [z]: {w}"}, {Issuer: "gh", Subject: "a=b=c"}, {Issuer: "gh", Subject: "yes"}},
			ExchangeAudiences: nasty[:10], RequireDPoP: true, RequireCertificateBoundTokens: true,
			TLSClientAuth: auth.TLSClientAuth{SANIP: "2001:db8::1"}, TokenReuse: auth.ReuseOn,
			Secrets: []auth.Secret{{ID: "s1", Hash: "sha256:xyz"}}},
		{ID: "a-first", JWKSURI: "https://a.example/jwks", TLSClientAuth: auth.TLSClientAuth{SubjectDN: "CN=a: b,O=\"Q\", Inc."}, TokenReuse: auth.ReuseOff},
		{ID: "dns", TLSClientAuth: auth.TLSClientAuth{SANDNS: "on"}, JWKS: []byte(`{"keys":[{"s":"\u00e9"}]}`)},
		{ID: "uri", TLSClientAuth: auth.TLSClientAuth{SANURI: "spiffe://x/y"}, JWKS: []byte("{\n  \"keys\": []\n}")},
		{ID: "email", TLSClientAuth: auth.TLSClientAuth{SANEmail: "a@b.c"}, TokenTTL: 1500 * time.Millisecond},
		{ID: "yes"}, {ID: "123"}, {ID: " spaced "},
	}
}

func settingsIssuers() []*auth.TrustedIssuer {
	return []*auth.TrustedIssuer{
		{Name: "k8s", Issuer: "https://kubernetes.default.svc", Audience: "no", MaxTokenAge: 2 * time.Hour, Disabled: true},
		{Name: "gh", Issuer: "https://token.actions.githubusercontent.com", JWKSURI: "https://x/jwks"},
		{Name: "offline", Issuer: "~", JWKS: []byte(`{"keys":[{"kty":"RSA","e":"AQAB"}],"z":1}`)},
	}
}

// withState gives objects the state Export must leave out.
func withState(cs []*auth.Client, ts []*auth.TrustedIssuer) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range cs {
		c.Incarnation, c.ManagedBy, c.CreatedAt, c.UpdatedAt, c.TokensRevokedBefore = "inc", auth.ManagedByApply, now, now, now
	}
	for _, t := range ts {
		t.ManagedBy, t.CreatedAt, t.UpdatedAt = auth.ManagedByApply, now, now
	}
}

// settingsOf is what the file can hold of c: its settings, JWKS as Parse
// stores it.
func settingsOf(c *auth.Client) *auth.Client {
	d := &auth.Client{ID: c.ID, Name: c.Name, Scopes: c.Scopes, Audiences: c.Audiences, TokenTTL: c.TokenTTL, RateLimit: c.RateLimit,
		Disabled: c.Disabled, AuthMethods: c.AuthMethods, JWKS: compactJSON(c.JWKS), JWKSURI: c.JWKSURI, Metadata: c.Metadata,
		Federated: c.Federated, ExchangeAudiences: c.ExchangeAudiences, RequireDPoP: c.RequireDPoP,
		RequireCertificateBoundTokens: c.RequireCertificateBoundTokens, TLSClientAuth: c.TLSClientAuth,
		Quotas: c.Quotas, QuotaMode: c.QuotaMode, Claims: c.Claims, Condition: c.Condition, TokenReuse: c.TokenReuse}
	return d
}

func issuerSettingsOf(t *auth.TrustedIssuer) *auth.TrustedIssuer {
	return &auth.TrustedIssuer{Name: t.Name, Issuer: t.Issuer, JWKSURI: t.JWKSURI, JWKS: compactJSON(t.JWKS), Audience: t.Audience,
		MaxTokenAge: t.MaxTokenAge, Disabled: t.Disabled}
}

func compactJSON(b []byte) []byte {
	if b == nil {
		return nil
	}
	var out bytes.Buffer
	json.Compact(&out, b)
	return out.Bytes()
}

// TestExportRoundTrip: Export, Parse, and the settings are the same, the
// state left out; Export again gives the same bytes.
func TestExportRoundTrip(t *testing.T) {
	cs, ts := settingsClients(), settingsIssuers()
	withState(cs, ts)
	out, err := Export(cs, ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"inc", "apply", "2025", "sha256:xyz", "s1"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("the export holds %q, which is state or secret:\n%s", s, out)
		}
	}
	d := mustParse(t, "export.yaml", out)
	checkSameSettings(t, d, cs, ts)
	again, err := Export(clientsOf(d), issuersOf(d))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Errorf("Export → Parse → Export changed the bytes:\n%s\n---\n%s", out, again)
	}
}

func checkSameSettings(t *testing.T, d *Document, cs []*auth.Client, ts []*auth.TrustedIssuer) {
	t.Helper()
	byID := map[string]Client{}
	for _, c := range d.Clients {
		byID[c.Client.ID] = c
	}
	for _, c := range cs {
		got, ok := byID[c.ID]
		if want := settingsOf(c); !ok || !reflect.DeepEqual(got.Client, want) {
			t.Errorf("client %q:\n got %+v\nwant %+v", c.ID, got.Client, want)
		}
		if got.Secret.Generate != (len(c.Secrets) > 0) || got.Secret.FromFile != "" || got.Secret.FromEnv != "" {
			t.Errorf("client %q: secret %+v, want generate only when it has secrets", c.ID, got.Secret)
		}
	}
	byName := map[string]*auth.TrustedIssuer{}
	for _, i := range d.Issuers {
		byName[i.Issuer.Name] = i.Issuer
	}
	for _, i := range ts {
		if want := issuerSettingsOf(i); !reflect.DeepEqual(byName[i.Name], want) {
			t.Errorf("issuer %q:\n got %+v\nwant %+v", i.Name, byName[i.Name], want)
		}
	}
	if len(d.Clients) != len(cs) || len(d.Issuers) != len(ts) {
		t.Errorf("%d clients, %d issuers; want %d, %d", len(d.Clients), len(d.Issuers), len(cs), len(ts))
	}
}

// clientsOf is the clients of d as a store would hold them after an
// apply: with a secret when the file says so.
func clientsOf(d *Document) []*auth.Client {
	var out []*auth.Client
	for _, c := range d.Clients {
		cl := c.Client.Clone()
		if !c.Secret.IsZero() {
			cl.Secrets = []auth.Secret{{ID: "s", Hash: "sha256:x"}}
		}
		out = append(out, cl)
	}
	return out
}

func issuersOf(d *Document) []*auth.TrustedIssuer {
	var out []*auth.TrustedIssuer
	for _, i := range d.Issuers {
		out = append(out, i.Issuer)
	}
	return out
}

// TestExportJWKSBytes: a compact JWKS reads back to the same bytes,
// whichever form Export chose.
func TestExportJWKSBytes(t *testing.T) {
	for _, jwks := range []string{
		`{"keys":[{"kty":"EC","n":1.50,"e":1e3,"z":null,"b":false}]}`,
		`{"keys":[{"s":"\u00e9\n"}]}`, // escaped otherwise than Parse writes: kept as a string
		`{"b":1,"a":2}`,
		`{}`,
	} {
		out, err := Export([]*auth.Client{{ID: "c", JWKS: []byte(jwks)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := mustParse(t, "jwks.yaml", out)
		if got := string(d.Clients[0].Client.JWKS); got != jwks {
			t.Errorf("JWKS %s came back as %s, through\n%s", jwks, got, out)
		}
	}
}

// TestExportOrder: sorted objects, fields in the order of the format,
// apiVersion and kind first, and a JWKS that is not JSON as a string.
func TestExportOrder(t *testing.T) {
	out, err := Export([]*auth.Client{{ID: "b", JWKS: []byte("not json")}, {ID: "a", Name: "A", Scopes: []string{"s"}}},
		[]*auth.TrustedIssuer{{Name: "y", Issuer: "https://y"}, {Name: "x", Issuer: "https://x"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: gooclaim.com/auth/v1
kind: AuthConfig
issuers:
  - name: x
    issuer: https://x
  - name: "y"
    issuer: https://y
clients:
  - client_id: a
    name: A
    scopes:
      - s
  - client_id: b
    jwks: not json
`
	if string(out) != want {
		t.Errorf("Export:\n%s\nwant:\n%s", out, want)
	}
	if empty, _ := Export(nil, nil); string(empty) != "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\n" {
		t.Errorf("Export of nothing:\n%s", empty)
	}
}

func TestExportRefuses(t *testing.T) {
	for name, f := range map[string]func() ([]byte, error){
		"nil client":   func() ([]byte, error) { return Export([]*auth.Client{nil}, nil) },
		"nil issuer":   func() ([]byte, error) { return Export(nil, []*auth.TrustedIssuer{nil}) },
		"invalid UTF8": func() ([]byte, error) { return Export([]*auth.Client{{ID: "a", Name: "\xff"}}, nil) },
	} {
		if _, err := Export(nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	const id = "https://gooclaim.com/schemas/auth/v1/auth-config.json"
	if m, _ := doc.(map[string]any); m["$id"] != id || m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$id %v, $schema %v", m["$id"], m["$schema"])
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON is a YAML document as JSON values, as an editor's schema
// check sees it.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchema(t *testing.T) {
	s := compileSchema(t)
	export, err := Export(settingsClients(), settingsIssuers())
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string][]byte{"full.yaml": readFile(t, "testdata/full.yaml"), "export": export}
	for name, data := range valid {
		if err := s.Validate(yamlToJSON(t, data)); err != nil {
			t.Errorf("%s does not validate: %v", name, err)
		}
	}
	invalid := map[string]string{
		"unknown field":   "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, toke_ttl: 1m}]\n",
		"wrong version":   "apiVersion: gooclaim.com/auth/v2\nkind: AuthConfig\n",
		"no kind":         "apiVersion: gooclaim.com/auth/v1\n",
		"single string":   "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, scopes: claims:read}]\n",
		"two secrets":     "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, secret: {generate: true, from_env: X}}]\n",
		"generate false":  "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, secret: {generate: false}}]\n",
		"jwks and uri":    "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nissuers: [{name: a, issuer: b, jwks: {}, jwks_uri: c}]\n",
		"two tls names":   "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, tls_client_auth_san_ip: 1, tls_client_auth_san_dns: b}]\n",
		"bad duration":    "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, token_ttl: soon}]\n",
		"issuer no iss":   "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nissuers: [{name: a}]\n",
		"federated no =":  "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, federated: [k8s]}]\n",
		"metadata a list": "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, metadata: {a: [1]}}]\n",
		"reuse sometimes": "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, token_reuse: sometimes}]\n",
	}
	for name, data := range invalid {
		if err := s.Validate(yamlToJSON(t, []byte(data))); err == nil {
			t.Errorf("%s: the schema accepts\n%s", name, data)
		}
		if _, err := Parse(name, []byte(data)); err == nil {
			t.Errorf("%s: Parse accepts\n%s", name, data)
		}
	}
}

// TestSchemaFields: the fields Parse reads are the properties of the
// schema, mapping by mapping, so that the two cannot drift apart.
func TestSchemaFields(t *testing.T) {
	var s struct {
		Properties map[string]any
		Defs       map[string]struct {
			Properties map[string]any
			OneOf      []struct{ Properties map[string]any }
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what   string
		schema map[string]any
		parse  []string
	}{
		{"document", s.Properties, names(documentFields)},
		{"issuer", s.Defs["issuer"].Properties, names(issuerFields)},
		{"client", s.Defs["client"].Properties, names(clientFields)},
		{"secret", s.Defs["secret"].Properties, names(secretFields)},
		{"federated", s.Defs["federated"].OneOf[0].Properties, names(federatedFields)},
	} {
		var schema []string
		for k := range tc.schema {
			schema = append(schema, k)
		}
		slices.Sort(schema)
		parse := slices.Sorted(slices.Values(tc.parse))
		if !slices.Equal(schema, parse) {
			t.Errorf("%s: the schema has %v, Parse reads %v", tc.what, schema, parse)
		}
	}
}

// TestSchemaDescribesEveryField: each property has a description (or
// refers to a definition that has one), as the documentation of editors.
func TestSchemaDescribesEveryField(t *testing.T) {
	var s struct {
		Defs map[string]struct {
			Description string
			Properties  map[string]struct {
				Description string
				Ref         string `json:"$ref"`
			}
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatal(err)
	}
	for def, d := range s.Defs {
		for name, p := range d.Properties {
			if p.Description == "" && p.Ref == "" {
				t.Errorf("%s.%s has no description", def, name)
			}
		}
		if strings.TrimSpace(d.Description) == "" {
			t.Errorf("$defs.%s has no description", def)
		}
	}
}
