package authconfig

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/policy"
)

// value is one field's value being read, with where its problems go.
type value struct {
	p      *parser
	object string
	field  string // the YAML name, "secret.from_env" inside a mapping
	node   *yaml.Node
}

func (v value) problem(n *yaml.Node, format string, args ...any) {
	v.p.problemAt(n.Line, v.object, v.field, format, args...)
}

// isNull reports whether the value is null (`field:` with nothing after it).
func (v value) isNull() bool { return v.node.Kind == yaml.ScalarNode && v.node.Tag == "!!null" }

// str reads a string. Only YAML strings are taken: a number or a boolean
// where a string is wanted is a problem rather than its text, because YAML
// has already changed it (007 is 7, 1e3 is 1000) and JSON Schema would
// refuse it too.
func (v value) str() string {
	n := v.node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return n.Value
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		v.problem(n, "want a string, not %s; quote it:  %s: %q", describe(n), lastName(v.field), n.Value)
		return ""
	}
	v.problem(n, "want a string, not %s", describe(n))
	return ""
}

// required reads a string that must not be empty.
func (v value) required() string {
	s := v.str()
	if s == "" && v.node.Kind == yaml.ScalarNode && v.node.Tag == "!!str" {
		v.problem(v.node, "must not be empty")
	}
	return s
}

func lastName(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// boolean reads true or false; YAML 1.1's yes, no, on and off are strings
// in YAML 1.2 and are refused with the word to write instead.
func (v value) boolean() bool {
	n := v.node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	}
	v.problem(n, "want true or false, not %s", describe(n))
	return false
}

// strings reads a list of strings; null and [] are nil. A single string is
// refused rather than taken as a list of one, so that a list field reads
// the same way in every file.
func (v value) strings() []string {
	n := v.node
	if v.isNull() {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		v.problem(n, "want a list of strings, such as  %s: [%s], not %s", lastName(v.field), scalarText(n), describe(n))
		return nil
	}
	var out []string
	for _, item := range n.Content {
		out = append(out, value{p: v.p, object: v.object, field: v.field, node: item}.str())
	}
	return out
}

func scalarText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Value != "" {
		return n.Value
	}
	return "…"
}

// duration reads a duration as auth.ParseDuration does; 0 is taken as a
// number too, and means the default as when the field is absent.
func (v value) duration() time.Duration {
	n := v.node
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		v.problem(n, "want a duration such as 15m, 36h or 90d, not %s", describe(n))
		return 0
	}
	d, err := auth.ParseDuration(n.Value)
	if err != nil {
		v.problem(n, "%v", err)
	}
	return d
}

// rate reads a rate as auth.ParseRate does.
func (v value) rate() auth.Rate {
	n := v.node
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		v.problem(n, "want a rate LIMIT/WINDOW such as 100/1m, not %s", describe(n))
		return auth.Rate{}
	}
	r, err := auth.ParseRate(n.Value)
	if err != nil {
		v.problem(n, "%v", err)
	}
	return r
}

// quotas reads a list of token quotas, TOKENS/WINDOW with a window that
// divides a day (auth.ParseQuotas). Null and [] are nil.
func (v value) quotas() []auth.Rate {
	list := v.strings()
	qs, err := auth.ParseQuotas(list)
	if err != nil && len(list) > 0 {
		v.problem(v.node, "%v", err)
	}
	return qs
}

// quotaMode reads enforce or warn (auth.CheckQuotaMode); enforce is "".
func (v value) quotaMode() string {
	s := v.str()
	m, err := auth.CheckQuotaMode(s)
	if err != nil {
		v.problem(v.node, "%v", err)
	}
	return m
}

// tokenReuse reads on, off or default (auth.CheckTokenReuse); default is
// "", as when the field is absent. This package reads YAML 1.2, where an
// unquoted on or off is a string; a YAML 1.1 reader (an editor checking
// the file against the schema) reads them as booleans, so true and false
// are taken too, as on and off, and the file means the same to both.
func (v value) tokenReuse() string {
	n := v.node
	s := n.Value
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
	case n.Kind == yaml.ScalarNode && n.Tag == "!!bool":
		s = strings.ToLower(s) // True, FALSE
	default:
		v.problem(n, "want on, off or default, not %s", describe(n))
		return ""
	}
	r, err := auth.CheckTokenReuse(s)
	if err != nil {
		v.problem(n, "%v", err)
	}
	return r
}

// metadata reads a mapping of names to values; a value that YAML reads as
// a number or a boolean is taken as written (version: 1.10 is "1.10").
// Null and {} are nil.
func (v value) metadata() map[string]string {
	return v.stringMap("metadata: {owner: claims-team}", nil)
}

// claims reads a mapping of claim names to CEL expressions, each checked
// as the admin API checks it (policy.CheckClaim), so that a bad one is
// told with its line. Null and {} are nil.
func (v value) claims() map[string]string {
	return v.stringMap(`claims: {tenant: client.metadata.tenant}`, func(k, val *yaml.Node) {
		if err := policy.CheckClaim(k.Value, val.Value); err != nil {
			v.problem(val, "%v", err)
		}
	})
}

// condition reads a CEL condition (policy.CheckCondition).
func (v value) condition() string {
	s := v.str()
	if s != "" {
		if err := policy.CheckCondition(s); err != nil {
			v.problem(v.node, "%v", err)
		}
	}
	return s
}

// stringMap reads a mapping of names to single values, example saying
// what one looks like; check, if not nil, checks each entry.
func (v value) stringMap(example string, check func(k, val *yaml.Node)) map[string]string {
	n := v.node
	if v.isNull() {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		v.problem(n, "want a mapping of names to values, such as  %s, not %s", example, describe(n))
		return nil
	}
	var out map[string]string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !plainScalar(k) || !plainScalar(val) {
			v.problem(k, "each entry must be a name and a single value, such as  owner: claims-team")
			continue
		}
		if _, dup := out[k.Value]; dup {
			v.problem(k, "%q is given twice; keep one", k.Value)
			continue
		}
		if check != nil {
			check(k, val)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k.Value] = val.Value
	}
	return out
}

// plainScalar reports whether n is a string, number or boolean: a value
// that has a literal text.
func plainScalar(n *yaml.Node) bool {
	switch n.Tag {
	case "!!str", "!!int", "!!float", "!!bool":
		return n.Kind == yaml.ScalarNode
	}
	return false
}

// federated reads a client's federated identities: each {issuer: NAME,
// subject: SUB}, or "NAME=SUB" as the command line writes it (the subject
// may contain '=', the issuer's name cannot). Null and [] are nil.
func (v value) federated() []auth.FederatedIdentity {
	n := v.node
	if v.isNull() {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		v.problem(n, "want a list of {issuer: NAME, subject: SUBJECT} or NAME=SUBJECT, such as  federated: [%s], not %s", scalarText(n), describe(n))
		return nil
	}
	var out []auth.FederatedIdentity
	for _, item := range n.Content {
		var f auth.FederatedIdentity
		if item.Kind == yaml.ScalarNode && item.Tag == "!!str" {
			f = v.federatedString(item)
		} else {
			readFields(v.p, v.object, v.field, "{issuer: k8s-prod, subject: system:serviceaccount:ns:name}", federatedFields, item, &f)
		}
		out = append(out, f)
	}
	return out
}

func (v value) federatedString(n *yaml.Node) auth.FederatedIdentity {
	iss, sub, ok := strings.Cut(n.Value, "=")
	if !ok || iss == "" || sub == "" {
		v.problem(n, "%q: want ISSUER=SUBJECT, or {issuer: ISSUER, subject: SUBJECT}", n.Value)
	}
	return auth.FederatedIdentity{Issuer: iss, Subject: sub}
}

var federatedFields = []field[auth.FederatedIdentity]{
	{name: "issuer", example: "k8s-prod", required: true,
		read:  func(v value, f *auth.FederatedIdentity) { f.Issuer = v.required() },
		write: func(f *auth.FederatedIdentity) *yaml.Node { return strNode(f.Issuer) }},
	{name: "subject", example: "system:serviceaccount:claims:billing", required: true,
		read:  func(v value, f *auth.FederatedIdentity) { f.Subject = v.required() },
		write: func(f *auth.FederatedIdentity) *yaml.Node { return strNode(f.Subject) }},
}

// secret reads a client's secret: exactly one of its fields.
func (v value) secret() SecretSource {
	var s SecretSource
	before := len(v.p.problems)
	lines := readFields(v.p, v.object, v.field, "{generate: true}", secretFields, v.node, &s)
	if len(v.p.problems) > before {
		return s // what was wrong inside says enough
	}
	if len(lines) > 1 {
		v.problem(v.node, "give exactly one of from_file, from_env and generate")
	}
	if _, ok := lines["generate"]; ok && !s.Generate && len(lines) == 1 {
		v.problem(v.node, "generate: false is not a source; for a client without a secret remove the secret field, or write  generate: true")
	}
	if len(lines) == 0 {
		v.problem(v.node, "empty; write one of  from_file: PATH,  from_env: VARIABLE  or  generate: true, or remove the secret field for a client without a secret")
	}
	return s
}

var secretFields = []field[SecretSource]{
	{name: "from_file", example: "/run/secrets/billing",
		read:  func(v value, s *SecretSource) { s.FromFile = v.required() },
		write: func(s *SecretSource) *yaml.Node { return optStr(s.FromFile) }},
	{name: "from_env", example: "BILLING_SECRET",
		read:  func(v value, s *SecretSource) { s.FromEnv = v.required() },
		write: func(s *SecretSource) *yaml.Node { return optStr(s.FromEnv) }},
	{name: "generate", example: "true",
		read:  func(v value, s *SecretSource) { s.Generate = v.boolean() },
		write: func(s *SecretSource) *yaml.Node { return optBool(s.Generate) }},
}

// Nodes for Export. A string node is tagged !!str, so that the encoder
// quotes every string YAML would read as something else (yes, null, 1e3,
// " padded ", a: b).

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11NonString(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// yaml11NonString reports whether a YAML 1.1 reader (PyYAML, older tools
// that check or convert the file) would read s, unquoted, as a boolean or
// a number, although YAML 1.2 and this package read it as a string: yes,
// off, 1_000, 1:20, 0b101. The encoder already quotes what YAML 1.2 reads
// otherwise.
func yaml11NonString(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "on", "off":
		return true
	}
	return yaml11Number.MatchString(s)
}

var yaml11Number = regexp.MustCompile(`^[-+.]?[0-9][0-9a-fA-FxXoObB_:.+eE-]*$`)

func optStr(s string) *yaml.Node {
	if s == "" {
		return nil
	}
	return strNode(s)
}

func optBool(b bool) *yaml.Node {
	if !b {
		return nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}
}

func optStrings(l []string) *yaml.Node {
	if len(l) == 0 {
		return nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range l {
		n.Content = append(n.Content, strNode(s))
	}
	return n
}

func optDuration(d time.Duration) *yaml.Node {
	if d == 0 {
		return nil
	}
	return strNode(auth.FormatDuration(d))
}
