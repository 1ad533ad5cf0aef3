package authconfig

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, and a document it accepts exports to a
// file that parses again to the same settings.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/problems/*.yaml")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"gooclaim.com/auth/v1","kind":"AuthConfig","clients":[{"client_id":"a","jwks":{"k":[1.0,-0,1e400]}}]}`))
	f.Add([]byte("apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients: [{client_id: a, metadata: {1: 0x10, true: ~x}, federated: [a==b]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse returned %T, want *Error: %v", err, err)
			}
			return
		}
		cs, ts := clientsOf(d), issuersOf(d)
		out, err := Export(cs, ts)
		if err != nil {
			t.Fatalf("Export of a parsed document: %v", err)
		}
		back, err := Parse("export.yaml", out)
		if err != nil {
			t.Fatalf("the export of\n%s\ndoes not parse:\n%s\n%v", data, out, err)
		}
		checkSameSettings(t, back, cs, ts)
	})
}
