package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// metadata is the part of the authorization server metadata (RFC 8414 §2)
// the kit reads.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
	// IntrospectionEndpoint is read only when needed, so that a document
	// with a strange one still serves its jwks_uri.
	IntrospectionEndpoint json.RawMessage `json:"introspection_endpoint"`
}

// discover reads the JWKS URL from the authorization server metadata
// (RFC 8414 §3), trying the OpenID Connect location when the RFC 8414 one
// has no document.
func discover(ctx context.Context, cfg *settings) (string, error) {
	md, where, err := fetchMetadata(ctx, cfg)
	if err != nil {
		return "", err
	}
	return metadataEndpoint(cfg, where, "jwks_uri", md.JWKSURI)
}

// discoverIntrospection reads the introspection endpoint's URL (RFC 7662
// §4) from the authorization server metadata, under the rules of discover.
func discoverIntrospection(ctx context.Context, cfg *settings) (string, error) {
	md, where, err := fetchMetadata(ctx, cfg)
	if err != nil {
		return "", err
	}
	var endpoint string
	if md.IntrospectionEndpoint != nil && json.Unmarshal(md.IntrospectionEndpoint, &endpoint) != nil {
		return "", fmt.Errorf("discovery: %s: introspection_endpoint is not a string", where)
	}
	return metadataEndpoint(cfg, where, "introspection_endpoint", endpoint)
}

// fetchMetadata returns the issuer's metadata and where it was found. The
// document's issuer must be the configured one exactly (RFC 8414 §3.3).
func fetchMetadata(ctx context.Context, cfg *settings) (*metadata, string, error) {
	var tried []string
	for _, u := range metadataURLs(cfg.issuer) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := cfg.client.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			tried = append(tried, fmt.Sprintf("%s: HTTP %d", u, resp.StatusCode))
			continue
		}
		body, err := readDocument(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, "", fmt.Errorf("discovery: %s: %w", u, err)
		}
		var md metadata
		if err := json.Unmarshal(body, &md); err != nil {
			return nil, "", fmt.Errorf("discovery: %s is not authorization server metadata: %w", u, err)
		}
		if md.Issuer != cfg.issuer {
			return nil, "", fmt.Errorf("discovery: %s names the issuer %q, not %q: refusing it (RFC 8414 §3.3)", u, md.Issuer, cfg.issuer)
		}
		return &md, u, nil
	}
	return nil, "", fmt.Errorf("discovery: no authorization server metadata: %s", strings.Join(tried, "; "))
}

// metadataEndpoint checks a URL named in the metadata found at where: it
// must be present, acceptable to the Config (https, or http on loopback),
// and https if the issuer is.
func metadataEndpoint(cfg *settings, where, name, value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("discovery: %s has no %s", where, name)
	}
	if err := checkURL(value, cfg.allowHTTP); err != nil {
		return "", fmt.Errorf("discovery: %s: %s: %w", where, name, err)
	}
	if strings.HasPrefix(cfg.issuer, "https:") && !strings.HasPrefix(value, "https:") {
		return "", fmt.Errorf("discovery: %s: %s %q is not https like the issuer", where, name, value)
	}
	return value, nil
}

// metadataURLs lists where the metadata may be: the RFC 8414 §3.1 location
// (the well-known path inserted before the issuer's path), the same appended
// to an issuer with a path, and the OpenID Connect Discovery location.
func metadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	base := strings.TrimSuffix(issuer, "/")
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path}
	if path != "" {
		urls = append(urls, base+"/.well-known/oauth-authorization-server")
	}
	return append(urls, base+"/.well-known/openid-configuration")
}
