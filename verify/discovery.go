package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// discover reads the JWKS URL from the authorization server metadata
// (RFC 8414 §3), trying the OpenID Connect location when the RFC 8414 one
// has no document.
func discover(ctx context.Context, cfg *settings) (string, error) {
	var tried []string
	for _, u := range metadataURLs(cfg.issuer) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := cfg.client.Do(req)
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			tried = append(tried, fmt.Sprintf("%s: HTTP %d", u, resp.StatusCode))
			continue
		}
		body, err := readDocument(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", fmt.Errorf("discovery: %s: %w", u, err)
		}
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &md); err != nil {
			return "", fmt.Errorf("discovery: %s is not authorization server metadata: %w", u, err)
		}
		if md.Issuer != cfg.issuer {
			return "", fmt.Errorf("discovery: %s names the issuer %q, not %q: refusing it (RFC 8414 §3.3)", u, md.Issuer, cfg.issuer)
		}
		if md.JWKSURI == "" {
			return "", fmt.Errorf("discovery: %s has no jwks_uri", u)
		}
		if err := checkURL(md.JWKSURI, cfg.allowHTTP); err != nil {
			return "", fmt.Errorf("discovery: %s: jwks_uri: %w", u, err)
		}
		if strings.HasPrefix(cfg.issuer, "https:") && !strings.HasPrefix(md.JWKSURI, "https:") {
			return "", fmt.Errorf("discovery: %s: jwks_uri %q is not https like the issuer", u, md.JWKSURI)
		}
		return md.JWKSURI, nil
	}
	return "", fmt.Errorf("discovery: no authorization server metadata: %s", strings.Join(tried, "; "))
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
