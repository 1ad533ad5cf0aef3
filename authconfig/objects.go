package authconfig

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth"
)

// The tables of the format's mappings, in the order Export writes them.

var documentFields = []field[Document]{
	{name: "apiVersion", example: APIVersion, required: true,
		read:  func(v value, _ *Document) { v.exact(APIVersion) },
		write: func(*Document) *yaml.Node { return strNode(APIVersion) }},
	{name: "kind", example: Kind, required: true,
		read:  func(v value, _ *Document) { v.exact(Kind) },
		write: func(*Document) *yaml.Node { return strNode(Kind) }},
	{name: "issuers", example: "[{name: k8s-prod, issuer: https://kubernetes.default.svc}]",
		read: func(v value, d *Document) { d.Issuers = readEntries(v, issuerEntries) },
		write: func(d *Document) *yaml.Node {
			return writeEntries(d.Issuers, func(i *Issuer) *yaml.Node { return writeFields(issuerFields, i) })
		}},
	{name: "clients", example: "[{client_id: billing-sync}]",
		read: func(v value, d *Document) { d.Clients = readEntries(v, clientEntries) },
		write: func(d *Document) *yaml.Node {
			return writeEntries(d.Clients, func(c *Client) *yaml.Node { return writeFields(clientFields, c) })
		}},
}

// exact checks a value that must be exactly want, saying which value is
// wanted whatever was found.
func (v value) exact(want string) {
	n := v.node
	switch {
	case n.Kind != yaml.ScalarNode || n.Tag != "!!str":
		v.problem(n, "must be %s, not %s", want, describe(n))
	case n.Value != want && v.field == "apiVersion":
		v.problem(n, "must be %s, not %q: this program reads version %s of the format", want, n.Value, APIVersion)
	case n.Value != want:
		v.problem(n, "must be %s, not %q", want, n.Value)
	}
}

var issuerFields = []field[Issuer]{
	{name: "name", example: "k8s-prod", required: true,
		read:  func(v value, i *Issuer) { i.Issuer.Name = v.required() },
		write: func(i *Issuer) *yaml.Node { return strNode(i.Issuer.Name) }},
	{name: "issuer", example: "https://kubernetes.default.svc", required: true,
		read:  func(v value, i *Issuer) { i.Issuer.Issuer = v.required() },
		write: func(i *Issuer) *yaml.Node { return strNode(i.Issuer.Issuer) }},
	{name: "jwks_uri", example: "https://issuer.example/keys",
		read:  func(v value, i *Issuer) { i.Issuer.JWKSURI = v.str() },
		write: func(i *Issuer) *yaml.Node { return optStr(i.Issuer.JWKSURI) }},
	{name: "jwks", example: "{keys: [...]}",
		read:  func(v value, i *Issuer) { i.Issuer.JWKS = v.jwks() },
		write: func(i *Issuer) *yaml.Node { return jwksNode(i.Issuer.JWKS) }},
	{name: "audience", example: "https://auth.gooclaim.com",
		read:  func(v value, i *Issuer) { i.Issuer.Audience = v.str() },
		write: func(i *Issuer) *yaml.Node { return optStr(i.Issuer.Audience) }},
	{name: "max_token_age", example: "1h",
		read:  func(v value, i *Issuer) { i.Issuer.MaxTokenAge = v.duration() },
		write: func(i *Issuer) *yaml.Node { return optDuration(i.Issuer.MaxTokenAge) }},
	{name: "disabled", example: "true",
		read:  func(v value, i *Issuer) { i.Issuer.Disabled = v.boolean() },
		write: func(i *Issuer) *yaml.Node { return optBool(i.Issuer.Disabled) }},
	{name: "adopt", example: "true",
		read:  func(v value, i *Issuer) { i.Adopt = v.boolean() },
		write: func(i *Issuer) *yaml.Node { return optBool(i.Adopt) }},
}

var clientFields = []field[Client]{
	{name: "client_id", example: "billing-sync", required: true,
		read:  func(v value, c *Client) { c.Client.ID = v.required() },
		write: func(c *Client) *yaml.Node { return strNode(c.Client.ID) }},
	{name: "name", example: "Billing sync",
		read:  func(v value, c *Client) { c.Client.Name = v.str() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.Name) }},
	{name: "scopes", example: "[claims:read]",
		read:  func(v value, c *Client) { c.Client.Scopes = v.strings() },
		write: func(c *Client) *yaml.Node { return optStrings(c.Client.Scopes) }},
	{name: "audiences", example: "[https://api.gooclaim.com]",
		read:  func(v value, c *Client) { c.Client.Audiences = v.strings() },
		write: func(c *Client) *yaml.Node { return optStrings(c.Client.Audiences) }},
	{name: "token_ttl", example: "15m",
		read:  func(v value, c *Client) { c.Client.TokenTTL = v.duration() },
		write: func(c *Client) *yaml.Node { return optDuration(c.Client.TokenTTL) }},
	{name: "rate_limit", example: "100/1m",
		read:  func(v value, c *Client) { c.Client.RateLimit = v.rate() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.RateLimit.String()) }},
	{name: "quotas", example: "[1000/1h, 10000/1d]",
		read:  func(v value, c *Client) { c.Client.Quotas = v.quotas() },
		write: func(c *Client) *yaml.Node { return optStrings(auth.FormatQuotas(c.Client.Quotas)) }},
	{name: "quota_mode", example: "warn",
		read:  func(v value, c *Client) { c.Client.QuotaMode = v.quotaMode() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.QuotaMode) }},
	{name: "claims", example: "{tenant: client.metadata.tenant}",
		read:  func(v value, c *Client) { c.Client.Claims = v.claims() },
		write: func(c *Client) *yaml.Node { return metadataNode(c.Client.Claims) }},
	{name: "condition", example: `'ip_in(request.remote_ip, ["10.0.0.0/8"])'`,
		read:  func(v value, c *Client) { c.Client.Condition = v.condition() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.Condition) }},
	{name: "token_reuse", example: "on",
		read:  func(v value, c *Client) { c.Client.TokenReuse = v.tokenReuse() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.TokenReuse) }},
	{name: "auth_methods", example: "[client_secret_basic]",
		read:  func(v value, c *Client) { c.Client.AuthMethods = v.strings() },
		write: func(c *Client) *yaml.Node { return optStrings(c.Client.AuthMethods) }},
	{name: "jwks", example: "{keys: [...]}",
		read:  func(v value, c *Client) { c.Client.JWKS = v.jwks() },
		write: func(c *Client) *yaml.Node { return jwksNode(c.Client.JWKS) }},
	{name: "jwks_uri", example: "https://billing.example/jwks.json",
		read:  func(v value, c *Client) { c.Client.JWKSURI = v.str() },
		write: func(c *Client) *yaml.Node { return optStr(c.Client.JWKSURI) }},
	{name: "metadata", example: "{owner: claims-team}",
		read:  func(v value, c *Client) { c.Client.Metadata = v.metadata() },
		write: func(c *Client) *yaml.Node { return metadataNode(c.Client.Metadata) }},
	{name: "disabled", example: "true",
		read:  func(v value, c *Client) { c.Client.Disabled = v.boolean() },
		write: func(c *Client) *yaml.Node { return optBool(c.Client.Disabled) }},
	{name: "federated", example: "[{issuer: k8s-prod, subject: system:serviceaccount:claims:billing}]",
		read:  func(v value, c *Client) { c.Client.Federated = v.federated() },
		write: func(c *Client) *yaml.Node { return federatedNode(c.Client.Federated) }},
	{name: "exchange_audiences", example: "[https://api.gooclaim.com]",
		read:  func(v value, c *Client) { c.Client.ExchangeAudiences = v.strings() },
		write: func(c *Client) *yaml.Node { return optStrings(c.Client.ExchangeAudiences) }},
	{name: "dpop_bound_access_tokens", example: "true",
		read:  func(v value, c *Client) { c.Client.RequireDPoP = v.boolean() },
		write: func(c *Client) *yaml.Node { return optBool(c.Client.RequireDPoP) }},
	{name: "tls_client_certificate_bound_access_tokens", example: "true",
		read:  func(v value, c *Client) { c.Client.RequireCertificateBoundTokens = v.boolean() },
		write: func(c *Client) *yaml.Node { return optBool(c.Client.RequireCertificateBoundTokens) }},
	tlsField("tls_client_auth_subject_dn", "CN=billing,O=Gooclaim", func(t *auth.TLSClientAuth) *string { return &t.SubjectDN }),
	tlsField("tls_client_auth_san_dns", "billing.gooclaim.internal", func(t *auth.TLSClientAuth) *string { return &t.SANDNS }),
	tlsField("tls_client_auth_san_uri", "spiffe://gooclaim.com/billing", func(t *auth.TLSClientAuth) *string { return &t.SANURI }),
	tlsField("tls_client_auth_san_ip", "10.0.0.7", func(t *auth.TLSClientAuth) *string { return &t.SANIP }),
	tlsField("tls_client_auth_san_email", "billing@gooclaim.com", func(t *auth.TLSClientAuth) *string { return &t.SANEmail }),
	{name: "secret", example: "{generate: true}",
		read:  func(v value, c *Client) { c.Secret = v.secret() },
		write: func(c *Client) *yaml.Node { return secretNode(c.Secret) }},
	{name: "adopt", example: "true",
		read:  func(v value, c *Client) { c.Adopt = v.boolean() },
		write: func(c *Client) *yaml.Node { return optBool(c.Adopt) }},
}

// tlsField is one of the certificate names of tls_client_auth.
func tlsField(name, example string, member func(*auth.TLSClientAuth) *string) field[Client] {
	return field[Client]{name: name, example: example,
		read:  func(v value, c *Client) { *member(&c.Client.TLSClientAuth) = v.str() },
		write: func(c *Client) *yaml.Node { return optStr(*member(&c.Client.TLSClientAuth)) }}
}

// entries describes a list of objects: issuers or clients.
type entries[T any] struct {
	what   string // "issuer"
	id     string // the field that names an entry
	fields []field[T]
	// exclusive are the groups of fields of which an entry gives one at most.
	exclusive [][]string
	// init makes an empty entry that starts on line; done gives it the
	// lines of its fields.
	init func(line int) *T
	done func(obj *T, lines map[string]int)
	// key is the entry's name, to find two entries of the same name.
	key func(obj *T) string
}

var issuerEntries = entries[Issuer]{
	what: "issuer", id: "name", fields: issuerFields,
	exclusive: [][]string{{"jwks_uri", "jwks"}},
	init:      func(line int) *Issuer { return &Issuer{Issuer: &auth.TrustedIssuer{}, Line: line} },
	done:      func(i *Issuer, lines map[string]int) { i.fields = lines },
	key:       func(i *Issuer) string { return i.Issuer.Name },
}

var clientEntries = entries[Client]{
	what: "client", id: "client_id", fields: clientFields,
	exclusive: [][]string{{"jwks", "jwks_uri"}, {"tls_client_auth_subject_dn", "tls_client_auth_san_dns",
		"tls_client_auth_san_uri", "tls_client_auth_san_ip", "tls_client_auth_san_email"}},
	init: func(line int) *Client { return &Client{Client: &auth.Client{}, Line: line} },
	done: func(c *Client, lines map[string]int) { c.fields = lines },
	key:  func(c *Client) string { return c.Client.ID },
}

// readEntries reads a list of issuers or clients; null and [] are none.
func readEntries[T any](v value, e entries[T]) []T {
	if v.isNull() {
		return nil
	}
	if v.node.Kind != yaml.SequenceNode {
		v.problem(v.node, "want a list of %ss, each starting with  - %s: …, not %s", e.what, e.id, describe(v.node))
		return nil
	}
	var out []T
	firstLine := map[string]int{}
	for i, n := range v.node.Content {
		object := entryName(e, n, i)
		obj := e.init(n.Line)
		lines := readFields(v.p, object, "", fmt.Sprintf("- %s: …", e.id), e.fields, n, obj)
		if lines == nil {
			continue
		}
		exclusive(v.p, object, lines, e.exclusive...)
		e.done(obj, lines)
		if k := e.key(obj); k != "" {
			if first, dup := firstLine[k]; dup {
				v.p.problemAt(lines[e.id], object, e.id, "another %s has this %s, on line %d; each must have its own", e.what, e.id, first)
			} else {
				firstLine[k] = lines[e.id]
			}
		}
		out = append(out, *obj)
	}
	return out
}

// entryName is how problems name an entry: `client "billing"`, or
// `client #2` (its position) when it has no usable name.
func entryName[T any](e entries[T], n *yaml.Node, index int) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == e.id && v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value != "" {
				return fmt.Sprintf("%s %q", e.what, v.Value)
			}
		}
	}
	return fmt.Sprintf("%s #%d", e.what, index+1)
}

func writeEntries[T any](list []T, write func(*T) *yaml.Node) *yaml.Node {
	if len(list) == 0 {
		return nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range list {
		n.Content = append(n.Content, write(&list[i]))
	}
	return n
}
