package authconfig

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth"
)

// document reads the root mapping into doc.
func (p *parser) document(root *yaml.Node, doc *Document) {
	readFields(p, "", "", "apiVersion: "+APIVersion, documentFields, root, doc)
}

// Export writes the settings of clients and issuers as a document that
// Parse reads back to the same settings: issuers sorted by Name, clients
// by ID, fields in the order of the format, those with their zero value
// left out. A client with a secret gets  secret: {generate: true}: the
// file never holds secrets or their hashes. State is left out too:
// ManagedBy, incarnations, times and TokensRevokedBefore. The bytes depend
// on the settings only, so that an export can be compared and committed.
func Export(clients []*auth.Client, issuers []*auth.TrustedIssuer) ([]byte, error) {
	doc := &Document{}
	for _, t := range issuers {
		if t == nil {
			return nil, fmt.Errorf("export: a trusted issuer is nil")
		}
		doc.Issuers = append(doc.Issuers, Issuer{Issuer: t})
	}
	for _, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("export: a client is nil")
		}
		e := Client{Client: c}
		if len(c.Secrets) > 0 {
			e.Secret.Generate = true
		}
		doc.Clients = append(doc.Clients, e)
	}
	slices.SortStableFunc(doc.Issuers, func(a, b Issuer) int { return cmp.Compare(a.Issuer.Name, b.Issuer.Name) })
	slices.SortStableFunc(doc.Clients, func(a, b Client) int { return cmp.Compare(a.Client.ID, b.Client.ID) })
	return encode(writeFields(documentFields, doc))
}

// encode writes a document's root node. Strings that are not UTF-8 are
// refused: YAML would write them as !!binary, which is not the format.
func encode(root *yaml.Node) ([]byte, error) {
	if s, ok := invalidUTF8(root); ok {
		return nil, fmt.Errorf("export: %q is not valid UTF-8 and cannot be written in YAML", s)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return b.Bytes(), nil
}

func invalidUTF8(n *yaml.Node) (string, bool) {
	if !utf8.ValidString(n.Value) {
		return n.Value, true
	}
	for _, c := range n.Content {
		if s, ok := invalidUTF8(c); ok {
			return s, true
		}
	}
	return "", false
}

// metadataNode is the client's metadata, sorted by name.
func metadataNode(m map[string]string) *yaml.Node {
	if len(m) == 0 {
		return nil
	}
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n.Content = append(n.Content, strNode(k), strNode(m[k]))
	}
	return n
}

// federatedNode is the client's federated identities, in their order, as
// {issuer, subject} mappings.
func federatedNode(fs []auth.FederatedIdentity) *yaml.Node {
	if len(fs) == 0 {
		return nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range fs {
		m := writeFields(federatedFields, &fs[i])
		m.Style = yaml.FlowStyle
		n.Content = append(n.Content, m)
	}
	return n
}

func secretNode(s SecretSource) *yaml.Node {
	if s.IsZero() {
		return nil
	}
	n := writeFields(secretFields, &s)
	n.Style = yaml.FlowStyle
	return n
}
