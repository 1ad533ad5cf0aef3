package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// maxFederatedToken bounds what is read as a workload's token: real ones
// are one or two kilobytes, and the token endpoint takes at most 64 KiB of
// body.
const maxFederatedToken = 32 << 10

// tokenFile returns a source that reads the workload's token from path, on
// every call: the platform (the kubelet, a SPIFFE helper) replaces the file
// before the token in it expires, so a token read once would go stale.
func tokenFile(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read the federated token file: %w (is the token volume mounted, and FederatedTokenFile its path?)", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxFederatedToken+1))
		if err != nil {
			return "", fmt.Errorf("read the federated token file %s: %w", path, err)
		}
		if len(data) > maxFederatedToken {
			return "", fmt.Errorf("federated token file %s: over %d bytes, not a token; is it the right file?", path, maxFederatedToken)
		}
		tok, err := checkJWTShape(string(data))
		if err != nil {
			return "", fmt.Errorf("federated token file %s: %w", path, err)
		}
		return tok, nil
	}
}

// checkJWTShape trims tok and checks that it looks like a JWT in the
// compact serialization (three base64url parts), so that a file holding
// something else (a CA bundle, a namespace name) fails here, with its
// path, rather than as the server's generic invalid_client. The token's
// content is never put in the error: it is a credential.
func checkJWTShape(tok string) (string, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("it is empty (the platform has not written the token yet, or this is the wrong file)")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("it does not hold a JWT (%d dot-separated parts, want 3)", len(parts))
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			if c := p[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", errors.New("it does not hold a JWT (a character outside base64url)")
			}
		}
	}
	return tok, nil
}

// GitHub Actions hands a job's OIDC token out over HTTP, at the URL and
// with the bearer token of these environment variables, set in jobs with
// the permission id-token: write.
const (
	GitHubActionsRequestURLEnv   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	GitHubActionsRequestTokenEnv = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// GitHubActionsToken returns a Config.FederatedToken that fetches the
// running GitHub Actions job's OIDC token, whose "aud" is audience: set it
// to what the trusted issuer expects, by default Gooclaim Auth's issuer
// URL. Empty leaves the audience to GitHub (the repository owner's URL).
// Each call fetches a new token, with hc (nil means a client with a 10s
// timeout), from $ACTIONS_ID_TOKEN_REQUEST_URL with the bearer
// $ACTIONS_ID_TOKEN_REQUEST_TOKEN. A job without "permissions: id-token:
// write" has neither variable, and the error says so.
func GitHubActionsToken(audience string, hc *http.Client) func(context.Context) (string, error) {
	if hc == nil {
		hc = defaultHTTPClient
	}
	return func(ctx context.Context) (string, error) {
		reqURL, bearer := os.Getenv(GitHubActionsRequestURLEnv), os.Getenv(GitHubActionsRequestTokenEnv)
		if reqURL == "" || bearer == "" {
			return "", fmt.Errorf("GitHub Actions OIDC token: %s or %s is not set; give the job \"permissions: id-token: write\"", GitHubActionsRequestURLEnv, GitHubActionsRequestTokenEnv)
		}
		u, err := url.Parse(reqURL)
		if err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: %s is not a URL: %w", GitHubActionsRequestURLEnv, err)
		}
		if audience != "" {
			q := u.Query()
			q.Set("audience", audience)
			u.RawQuery = q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxFederatedToken))
		if err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: reading the answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GitHub Actions OIDC token: %s answered %s: %s", u.Host, resp.Status, excerpt(body))
		}
		var v struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: the answer is not JSON with a \"value\": %w", err)
		}
		tok, err := checkJWTShape(v.Value)
		if err != nil {
			return "", fmt.Errorf("GitHub Actions OIDC token: the answer's value: %w", err)
		}
		return tok, nil
	}
}
