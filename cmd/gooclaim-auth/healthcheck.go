package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// defaultHealthcheckURL is the liveness endpoint of the ops listener
// (--ops-listen, 127.0.0.1:9090 by default).
const defaultHealthcheckURL = "http://127.0.0.1:9090/healthz"

// healthcheckTimeout bounds the whole probe: connect, request and answer.
const healthcheckTimeout = 3 * time.Second

// newHealthcheckCmd is the probe for images without curl or a shell (the
// distroless image's HEALTHCHECK): GET a URL, exit 0 on a 2xx answer and 1
// otherwise.
func newHealthcheckCmd(e *env) *cobra.Command {
	target := defaultHealthcheckURL
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a running server: exit 0 if its health endpoint answers 2xx, 1 otherwise",
		Long: `Send GET to a health endpoint of a running server and exit 0 if it answers
2xx within 3 seconds, 1 otherwise (refused, timed out, or any other status).
For container health checks in images that have no curl or shell: the
Docker image runs it as its HEALTHCHECK.

The default URL is the ops listener's /healthz (--ops-listen, 127.0.0.1:9090
by default); give another with --url.`,
		Example: "  gooclaim-auth healthcheck\n  gooclaim-auth healthcheck --url http://127.0.0.1:8080/healthz",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			status, err := probe(cmd.Context(), target, healthcheckTimeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", target, status)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", target, "http(s) URL to GET")
	return cmd
}

// probe GETs target and returns its status line, or an error if the request
// fails, takes longer than timeout, or the status is not 2xx.
func probe(ctx context.Context, target string, timeout time.Duration) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want an http:// or https:// URL", target)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("healthcheck %s: %w", target, err)
	}
	// No proxy from the environment: the probe is for the server itself,
	// usually on loopback.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("healthcheck %s: %s", target, resp.Status)
	}
	return resp.Status, nil
}
