package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
)

// OpenAPIPath is where the service serves its OpenAPI document.
const OpenAPIPath = "/openapi.yaml"

// openAPIDocument is the OpenAPI 3.1 document of every public endpoint:
// the contract that cmd/gooclaim-auth's TestOpenAPIContract checks a real
// server's requests and responses against.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPIDocument returns a copy of the OpenAPI document served at OpenAPIPath.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

// handleOpenAPI serves the OpenAPI document.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.Write(openAPIDocument)
}
