package jwkset_test

import (
	"testing"

	"github.com/gooclaim/auth/internal/jwkset"
)

func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct{ json, err string }{
		{`{"a":1,"b":{"a":2,"c":[{"a":3}]},"c":"x:y\"z:"}`, ""},
		{`{}`, ""},
		{`{"a":1,"a":2}`, "member 'a' appears twice"},
		{`{"alg":"none","a\u006cg":"ES256"}`, "member 'alg' appears twice"},
		{`{"a":{"b":1,"b":2}}`, ""}, // nested objects are the claims' own business
		{`null`, "it is not an object"},
		{`[1]`, "it is not an object"},
		{`{"a":1}{}`, "data follows it"},
		{`{"a":1} x`, "data follows it"},
		{`{"a":1`, "it is not an object"},
	} {
		m, err := jwkset.DecodeObject[any]([]byte(tc.json))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: %v (%v), want %q", tc.json, err, m, tc.err)
		}
	}
}
