package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxMetadataBytes bounds a metadata document; real ones are about a kilobyte.
const maxMetadataBytes = 1 << 20

// Metadata is the part of an authorization server's metadata (RFC 8414 §2)
// that clients use.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri,omitempty"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
}

// Discover fetches the authorization server metadata of issuer: from the
// RFC 8414 §3.1 location (/.well-known/oauth-authorization-server, inserted
// before the issuer's path, if it has one), then, if that answers anything
// but 200, from the end of the issuer's own path and from the OpenID Connect
// location (/.well-known/openid-configuration appended to the issuer).
//
// The document's "issuer" must equal issuer exactly (RFC 8414 §3.3), it must
// name a token_endpoint, and when issuer is https so must its endpoints be:
// the client secret is sent there. hc nil means a client with a 10s timeout.
func Discover(ctx context.Context, issuer string, hc *http.Client) (*Metadata, error) {
	if hc == nil {
		hc = defaultHTTPClient
	}
	urls, err := metadataURLs(issuer)
	if err != nil {
		return nil, err
	}
	var tried []string
	for _, u := range urls {
		md, status, err := fetchMetadata(ctx, hc, u)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			tried = append(tried, fmt.Sprintf("%s: HTTP %d", u, status))
			continue
		}
		if err := md.check(issuer); err != nil {
			return nil, fmt.Errorf("discovery: %s: %w", u, err)
		}
		return md, nil
	}
	return nil, fmt.Errorf("discovery: no authorization server metadata for %s: %s", issuer, strings.Join(tried, "; "))
}

// metadataURLs lists where issuer's metadata may be (RFC 8414 §3.1, and
// OpenID Connect Discovery 1.0 §4).
func metadataURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("discovery: issuer %q is not an http or https URL without query or fragment (RFC 8414 §2)", issuer)
	}
	base := strings.TrimSuffix(issuer, "/")
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path}
	if path != "" {
		urls = append(urls, base+"/.well-known/oauth-authorization-server")
	}
	return append(urls, base+"/.well-known/openid-configuration"), nil
}

// fetchMetadata GETs one metadata document; a status other than 200 is
// returned without a document.
func fetchMetadata(ctx context.Context, hc *http.Client, u string) (*Metadata, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, resp.StatusCode, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: reading %s: %w", u, err)
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, 0, fmt.Errorf("discovery: %s is not a metadata document: %w", u, err)
	}
	return &md, http.StatusOK, nil
}

// check applies the rules of Discover to a document fetched for issuer.
func (md *Metadata) check(issuer string) error {
	if md.Issuer != issuer {
		return fmt.Errorf("the document names the issuer %q, not %q: refusing it (RFC 8414 §3.3)", md.Issuer, issuer)
	}
	if md.TokenEndpoint == "" {
		return fmt.Errorf("the document has no token_endpoint")
	}
	if err := checkURL(md.TokenEndpoint); err != nil {
		return fmt.Errorf("token_endpoint: %w", err)
	}
	if strings.HasPrefix(issuer, "https:") {
		for _, e := range [][2]string{{"token_endpoint", md.TokenEndpoint}, {"jwks_uri", md.JWKSURI},
			{"introspection_endpoint", md.IntrospectionEndpoint}, {"revocation_endpoint", md.RevocationEndpoint}} {
			if e[1] != "" && !strings.HasPrefix(e[1], "https:") {
				return fmt.Errorf("%s %q is not https like the issuer", e[0], e[1])
			}
		}
	}
	return nil
}
