package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/oauthwire"
)

// handleJWKS serves the key set. Its max-age is at most half the publish-ahead
// delay, so that a verifier that cached the set has refetched it, with the
// next key in it, before that key signs its first token.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	body, etag, err := s.Keys.JWKS(s.Clock.Now())
	if err != nil {
		s.Logger.Error("build JWKS", "err", err)
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	maxAge := min(5*time.Minute, s.Keys.Policy().PublishAhead/2)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(maxAge/time.Second), 10))
	h.Set("ETag", etag)
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	w.Write(body)
}

// Metadata is the authorization server metadata of RFC 8414 §2.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// The algorithms of private_key_jwt assertions (RFC 8414 §2).
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthSigningAlgValues  []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationEndpointAuthSigningAlgValues     []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	// RFC 8705 §3.3: tokens are bound to the client certificate the
	// request came with.
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// Not in RFC 8414 but read by OpenID Connect libraries that fetch
	// /.well-known/openid-configuration; ours sign access tokens only.
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ServiceDocumentation             string   `json:"service_documentation,omitempty"`
	// The algorithms of DPoP proofs (RFC 9449 §5.1); absent without DPoP.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

func (s *Server) metadata() Metadata {
	iss := s.Issuer.Config().Issuer
	// federated_jwt is not listed: a federated client sends its trusted
	// issuer's token with the wire format of private_key_jwt
	// (client_assertion_type jwt-bearer, RFC 7523 §2.2), which is what a
	// client library needs to know, and no registry defines another name.
	methods := []string{auth.AuthClientSecretBasic, auth.AuthClientSecretPost}
	if len(s.AssertionAlgorithms) > 0 {
		methods = append(methods, auth.AuthPrivateKeyJWT)
	}
	// No mtls_endpoint_aliases (RFC 8705 §5): the one listener asks every
	// client for a certificate without requiring one, so the endpoints
	// above serve mutual TLS and the other methods alike.
	bound := s.MutualTLS || s.ClientCertHeader != ""
	if bound {
		if s.TLSClientAuth {
			methods = append(methods, auth.AuthTLSClientAuth)
		}
		methods = append(methods, auth.AuthSelfSignedTLSClientAuth)
	}
	var dpopAlgs []string
	if s.DPoP != nil {
		dpopAlgs = dpop.Algorithms
	}
	return Metadata{
		DPoPSigningAlgValuesSupported:     dpopAlgs,
		Issuer:                            iss,
		TokenEndpoint:                     iss + TokenPath,
		JWKSURI:                           iss + JWKSPath,
		ScopesSupported:                   s.Scopes.Scopes(),
		ResponseTypesSupported:            []string{}, // no authorization endpoint: no response types
		GrantTypesSupported:               []string{auth.GrantClientCredentials, auth.GrantTokenExchange},
		TokenEndpointAuthMethodsSupported: methods,
		TokenEndpointAuthSigningAlgValuesSupported: s.AssertionAlgorithms,
		IntrospectionEndpoint:                      iss + IntrospectPath,
		IntrospectionEndpointAuthMethodsSupported:  methods,
		IntrospectionEndpointAuthSigningAlgValues:  s.AssertionAlgorithms,
		RevocationEndpoint:                         iss + RevokePath,
		RevocationEndpointAuthMethodsSupported:     methods,
		RevocationEndpointAuthSigningAlgValues:     s.AssertionAlgorithms,
		TLSClientCertificateBoundAccessTokens:      bound,
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{s.Keys.Policy().Algorithm},
	}
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	oauthwire.WriteJSON(w, http.StatusOK, s.metadata())
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2): "*", or a list of
// entity tags any of which matches weakly (W/ is ignored).
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
