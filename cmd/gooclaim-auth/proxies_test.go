package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// requestLogs returns the request log lines of the token endpoint so far.
func (ts *testServer) requestLogs() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["path"] == "/v1/auth/token" {
			out = append(out, m)
		}
	}
	return out
}

// tokenFrom sends a token request without a client_id (charged to the
// address) with the headers given, and returns its status, the remaining
// count of the address's limit, and the request log line.
func (ts *testServer) tokenFrom(headers ...string) (status int, remaining string, line map[string]any) {
	ts.t.Helper()
	before := len(ts.requestLogs())
	r := ts.jsonReq(`{"grant_type": "client_credentials"}`, headers...)
	if p := r.Header.Get("RateLimit-Policy"); !strings.HasPrefix(p, `"address"`) {
		ts.t.Fatalf("policy %q: not charged to the address", p)
	}
	waitUntil(ts.t, func() bool { return len(ts.requestLogs()) > before })
	logs := ts.requestLogs()
	return r.StatusCode, r.Header.Get("X-RateLimit-Remaining"), logs[len(logs)-1]
}

func prefixes(t *testing.T, s string) prefixesValue {
	t.Helper()
	var p prefixesValue
	if err := p.Set(s); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrustedProxies: forwarding headers decide the per-address limit and
// the logged address only when the TCP peer (here 127.0.0.1) is a trusted
// proxy, and then only the right-most address not itself trusted.
func TestTrustedProxies(t *testing.T) {
	limit := rateValue{Limit: 3, Window: time.Minute}

	t.Run("trusted", func(t *testing.T) {
		ts := startTestServer(t, nil, func(c *serveConfig) {
			c.ipRateLimit = limit
			c.trustedProxies = prefixes(t, "127.0.0.1,10.0.0.0/8")
		})
		for _, tc := range []struct {
			name    string
			headers []string
			remote  string
		}{
			{"XFF", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
			{"XFF: spoofed left-most entries ignored", []string{"X-Forwarded-For", "198.51.100.66, 192.0.2.1, 203.0.113.8"}, "203.0.113.8"},
			{"XFF: a trusted hop is skipped", []string{"X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.2.3.4"}, "203.0.113.9"},
			{"Forwarded", []string{"Forwarded", `for="[2001:db8::5]:4711";proto=https`}, "2001:db8::5"},
			{"Forwarded: spoofed first element ignored", []string{"Forwarded", "for=198.51.100.66, for=203.0.113.10"}, "203.0.113.10"},
			{"malformed XFF: the peer", []string{"X-Forwarded-For", "definitely-not-an-ip"}, "127.0.0.1"},
			{"malformed Forwarded: the peer", []string{"Forwarded", "for=unknown"}, "127.0.0.1"},
			{"headers that disagree: the peer", []string{"X-Forwarded-For", "203.0.113.11", "Forwarded", "for=198.51.100.66"}, "127.0.0.1"},
			{"no header: the peer", nil, "127.0.0.1"},
		} {
			_, _, line := ts.tokenFrom(tc.headers...)
			if line["remote"] != tc.remote {
				t.Errorf("%s: logged remote %v, want %s", tc.name, line["remote"], tc.remote)
			}
			if tc.remote != "127.0.0.1" && line["peer"] != "127.0.0.1" {
				t.Errorf("%s: logged peer %v, want the proxy 127.0.0.1", tc.name, line["peer"])
			}
		}
		// The limit is per believed address: 203.0.113.50 spends its 3, then
		// is refused while its neighbour is not.
		for i := range 3 {
			if _, rem, _ := ts.tokenFrom("X-Forwarded-For", "203.0.113.50"); rem != []string{"2", "1", "0"}[i] {
				t.Fatalf("request %d: remaining %s", i, rem)
			}
		}
		if status, _, _ := ts.tokenFrom("X-Forwarded-For", "203.0.113.50"); status != 429 {
			t.Fatalf("4th request of the same address: %d, want 429", status)
		}
		// Spoofing a different left-most address does not escape it.
		if status, _, _ := ts.tokenFrom("X-Forwarded-For", "198.51.100.1, 203.0.113.50"); status != 429 {
			t.Fatalf("spoofed left-most entry escaped the limit: %d", status)
		}
		if status, rem, _ := ts.tokenFrom("X-Forwarded-For", "203.0.113.51"); status == 429 || rem != "2" {
			t.Fatalf("another address: %d, remaining %s", status, rem)
		}
	})

	t.Run("not trusted by default", func(t *testing.T) {
		ts := startTestServer(t, nil, func(c *serveConfig) { c.ipRateLimit = limit })
		for i, h := range [][]string{
			{"X-Forwarded-For", "203.0.113.1"},
			{"Forwarded", "for=203.0.113.2"},
			{"X-Forwarded-For", "203.0.113.3"},
		} {
			_, rem, line := ts.tokenFrom(h...)
			if line["remote"] != "127.0.0.1" || line["peer"] != nil {
				t.Errorf("%v believed: %v", h, line)
			}
			if rem != []string{"2", "1", "0"}[i] {
				t.Errorf("request %d: remaining %s; want every request charged to 127.0.0.1", i, rem)
			}
		}
		if status, _, _ := ts.tokenFrom("X-Forwarded-For", "203.0.113.4"); status != 429 {
			t.Fatalf("a fresh X-Forwarded-For escaped the limit: %d", status)
		}
	})

	t.Run("untrusted peer", func(t *testing.T) {
		ts := startTestServer(t, nil, func(c *serveConfig) {
			c.ipRateLimit = limit
			c.trustedProxies = prefixesValue{netip.MustParsePrefix("10.0.0.0/8")}
		})
		_, _, line := ts.tokenFrom("X-Forwarded-For", "203.0.113.1")
		if line["remote"] != "127.0.0.1" {
			t.Fatalf("the header of a peer outside --trusted-proxies was believed: %v", line)
		}
	})
}

func TestTrustedProxiesSetting(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "p.yaml", "trusted-proxies: [10.0.0.0/8, \"192.0.2.1\"]\n")
	got := configPrint(t, nil, "--config", cfg)
	if got["trusted-proxies"].Value != "10.0.0.0/8,192.0.2.1/32" {
		t.Fatalf("from the file: %+v", got["trusted-proxies"])
	}
	got = configPrint(t, map[string]string{"GOOCLAIM_TRUSTED_PROXIES": "172.16.0.0/12"}, "--config", cfg)
	if got["trusted-proxies"].Value != "172.16.0.0/12" {
		t.Fatalf("the environment does not replace the file: %+v", got["trusted-proxies"])
	}
	got = configPrint(t, nil, "--trusted-proxies", "10.0.0.1", "--trusted-proxies", "::1")
	if got["trusted-proxies"].Value != "10.0.0.1/32,::1/128" {
		t.Fatalf("repeated flags: %+v", got["trusted-proxies"])
	}
	bad := writeConfig(t, dir, "bad.yaml", "trusted-proxies: [10.0.0.0/33]\n")
	_, errOut, code := runEnv(t, nil, "serve", "--config", bad, "--database", dir+"/x.db")
	if code == 0 || !strings.Contains(errOut, bad+":1: trusted-proxies: invalid CIDR address: 10.0.0.0/33: want CIDRs or addresses") {
		t.Fatalf("bad CIDR: %q", errOut)
	}
}
