package httpapi

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocument checks the embedded document on its own: it loads,
// is a valid OpenAPI 3.1 document and has every public path. The contract
// test in cmd/gooclaim-auth checks a running server against it.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{TokenPath, IntrospectPath, RevokePath, JWKSPath, MetadataPath, OIDCMetadataPath, HealthPath, ReadyPath, OpenAPIPath,
		AdminPrefix + "clients", AdminPrefix + "clients/{id}", AdminPrefix + "keys", AdminPrefix + "keys/rotate", AdminPrefix + "audit"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("no path %s in the document", p)
		}
	}
}
