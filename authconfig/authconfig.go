package authconfig

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/gooclaim/auth"
)

// APIVersion and Kind are the values a document's apiVersion and kind must
// have: the version names this format, so that a later one can change it
// without old files being misread.
const (
	APIVersion = "gooclaim.com/auth/v1"
	Kind       = "AuthConfig"
)

// MaxSize is the largest input Parse reads, in bytes: far above any real
// configuration, and small enough that a mistaken or hostile input cannot
// exhaust memory.
const MaxSize = 16 << 20

// Schema is the JSON Schema (draft 2020-12) of the format, with the
// meaning of every field in its descriptions; its $id is
// https://gooclaim.com/schemas/auth/v1/auth-config.json. Editors use it to
// complete and check files; Parse remains the authority.
//
//go:embed schema.json
var Schema []byte

// Document is a parsed configuration file.
type Document struct {
	// File is the name problems are reported with ("-" for standard input).
	File string
	// Digest is "sha256:" and the lowercase hex SHA-256 of the exact bytes
	// parsed, so that an apply can say which file it applied.
	Digest string
	// Issuers and Clients are in the order of the file.
	Issuers []Issuer
	Clients []Client
}

// Issuer is one entry of issuers.
type Issuer struct {
	// Issuer holds the settings of the file: Name, Issuer, JWKSURI, JWKS
	// (compact JSON, nil when absent), Audience, MaxTokenAge and Disabled.
	// Nothing else is set.
	Issuer *auth.TrustedIssuer
	// Adopt allows an apply to take over an issuer of that name made by
	// hand (auth.ManagedByApply); without it such an issuer is a conflict.
	Adopt bool
	// Line is where the entry starts.
	Line   int
	fields map[string]int
}

// FieldLine is the line of the entry's field of that YAML name ("jwks"),
// or the entry's line when the field is absent, so that a problem found
// later (by a planner) can point into the file.
func (i *Issuer) FieldLine(field string) int { return fieldLine(i.fields, field, i.Line) }

// Client is one entry of clients.
type Client struct {
	// Client holds the settings of the file: ID, Name, Scopes, Audiences,
	// TokenTTL, RateLimit, Disabled, AuthMethods, JWKS, JWKSURI, Metadata,
	// Federated, ExchangeAudiences, RequireDPoP,
	// RequireCertificateBoundTokens and TLSClientAuth. Empty lists and maps
	// are nil, JWKS is nil when absent. Nothing else is set: secrets,
	// incarnations, ManagedBy and times are state, not configuration.
	Client *auth.Client
	// Secret says whether the client has a secret and where it comes from.
	Secret SecretSource
	// Adopt allows an apply to take over a client of that ID made by
	// hand; without it such a client is a conflict.
	Adopt bool
	// Line is where the entry starts.
	Line   int
	fields map[string]int
}

// FieldLine is the line of the entry's field of that YAML name
// ("token_ttl"), or the entry's line when the field is absent.
func (c *Client) FieldLine(field string) int { return fieldLine(c.fields, field, c.Line) }

func fieldLine(fields map[string]int, field string, entry int) int {
	if l, ok := fields[field]; ok {
		return l
	}
	return entry
}

// SecretSource is a client's secret field. Its zero value means the client
// has no secret; otherwise exactly one member is set.
type SecretSource struct {
	// FromFile is a file whose content (without a final newline) is the
	// secret, read by apply.
	FromFile string
	// FromEnv is an environment variable holding the secret, read by apply.
	FromEnv string
	// Generate says the client has a secret: the one it has, or one that
	// apply generates (and shows once) when it has none.
	Generate bool
}

// IsZero reports whether the client has no secret.
func (s SecretSource) IsZero() bool { return s == SecretSource{} }

// Problem is one thing wrong with a file.
type Problem struct {
	File string `json:"file"`
	// Line is 1-based; 0 when the problem is the file as a whole (too large).
	Line int `json:"line"`
	// Object is `client "billing"`, `issuer "k8s"` (or `client #2` for an
	// entry without its ID), "" for the document itself.
	Object string `json:"object"`
	// Field is the YAML name of the field, "" when the problem is the
	// object itself.
	Field   string `json:"field"`
	Message string `json:"message"`
}

// String is "FILE:LINE: OBJECT: FIELD: MESSAGE", the parts that are empty
// left out, as compilers write it so that editors can jump to the line.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	for _, s := range []string{p.Object, p.Field} {
		if s != "" {
			b.WriteString(s + ": ")
		}
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is every problem of a file, in the order of their lines: a file
// is fixed in one round, not one problem at a time.
type Error struct {
	Problems []Problem
}

// MaxProblems bounds the problems an Error lists: a file with thousands
// (a generated one gone wrong) is told of its first ones and how many
// more, not answered with megabytes of them.
const MaxProblems = 100

// NewError is an Error of problems in the order of their lines, at most
// MaxProblems of them and then one saying how many more there are.
func NewError(problems []Problem) *Error {
	ps := slices.Clone(problems)
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	if n := len(ps) - MaxProblems; n > 0 {
		ps = append(ps[:MaxProblems:MaxProblems], Problem{File: ps[0].File, Line: ps[MaxProblems].Line,
			Message: fmt.Sprintf("and %d more problem(s) after this line, not listed: fix these first", n)})
	}
	return &Error{Problems: ps}
}

// Error lists the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
