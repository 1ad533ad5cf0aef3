package httpapi

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gooclaim/auth/console"
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

// TestOpenAPIConsolePages: the pages a console session may open, as the
// document lists them, are those a sign-in link may name (console.Pages):
// a page added to the console without the document would fail the
// contract of every session opening it.
func TestOpenAPIConsolePages(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["ConsoleSession"]
	if s == nil || s.Value.Properties["page"] == nil {
		t.Fatal("no ConsoleSession.page in the document")
	}
	var enum []string
	for _, v := range s.Value.Properties["page"].Value.Enum {
		enum = append(enum, fmt.Sprint(v))
	}
	if !slices.Equal(enum, console.Pages) {
		t.Errorf("ConsoleSession.page enum %v, console.Pages %v", enum, console.Pages)
	}
}
