package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/console"
)

// signInLink runs `gooclaim-auth console` against ts's database and
// returns the link's code and page.
func (ts *testServer) signInLink(args ...string) (code, page string) {
	ts.t.Helper()
	out, errOut, rc := ts.cli("", append([]string{"console", "--issuer", ts.url + "/"}, args...)...)
	if rc != 0 {
		ts.t.Fatalf("console: exit %d: %s", rc, errOut)
	}
	if strings.Count(errOut, "one minute") != 1 {
		ts.t.Errorf("console's standard error %q: want one line saying the link lasts one minute", errOut)
	}
	link, err := url.Parse(strings.TrimSpace(out))
	if err != nil || strings.Count(out, "\n") != 1 {
		ts.t.Fatalf("console printed %q: want one URL", out)
	}
	if link.Path != "/console/" || link.RawQuery != "" || ts.url+"/console/" != link.Scheme+"://"+link.Host+link.Path {
		ts.t.Fatalf("link %s: want %s/console/#…, the code in the fragment only", link, ts.url)
	}
	frag, err := url.ParseQuery(link.Fragment)
	if err != nil {
		ts.t.Fatal(err)
	}
	return frag.Get("code"), frag.Get("page")
}

// redeem posts a sign-in code to /console/session.
func (ts *testServer) redeem(code string) response {
	ts.t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code})
	r := ts.do("POST", "/console/session", "application/json", string(body))
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		ts.t.Errorf("POST /console/session: Cache-Control %q, want no-store", cc)
	}
	return r
}

// wantInvalidCode checks the one answer to a refused sign-in code.
func wantInvalidCode(t *testing.T, r response) {
	t.Helper()
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; body %s", r.StatusCode, r.body)
	}
	if code, desc := r.errorBody(t); code != "invalid_code" || !strings.Contains(desc, "gooclaim-auth console") {
		t.Errorf("body %s, want invalid_code saying to run gooclaim-auth console", r.body)
	}
}

// TestConsoleSignIn: a link from the CLI signs in once, on any node, for an
// admin token the admin API accepts; the second use is refused on every
// node; disabling the console's client ends the session and the links.
func TestConsoleSignIn(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		code, page := a.signInLink("--page", "clients")
		if page != "clients" {
			t.Errorf("page %q, want clients", page)
		}
		a.waitForClient(console.ClientID, true)
		b.waitForClient(console.ClientID, true)

		r := a.redeem(code)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("redeem: status %d, body %s", r.StatusCode, r.body)
		}
		var s struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int64  `json:"expires_in"`
			Page        string `json:"page"`
		}
		if err := json.Unmarshal(r.body, &s); err != nil || s.TokenType != "Bearer" || s.ExpiresIn != 900 || s.Page != "clients" || s.AccessToken == "" {
			t.Fatalf("session %s (%v)", r.body, err)
		}
		for _, n := range []*testServer{a, b} {
			if r := n.do("GET", "/v1/admin/clients", "", "", "Authorization", "Bearer "+s.AccessToken); r.StatusCode != http.StatusOK {
				t.Fatalf("admin API with the console's token: status %d, body %s", r.StatusCode, r.body)
			}
			wantInvalidCode(t, n.redeem(code)) // used: refused on every node
		}
		if !strings.Contains(a.logs.String()+b.logs.String(), `"created_by":"cli:`) {
			t.Error("the redemption is not logged with created_by")
		}

		// A second run keeps the client as it is (and may open any page,
		// the latest ones too); disabling it ends everything.
		code2, page2 := a.signInLink("--page", "policies")
		if page2 != "policies" {
			t.Errorf("page %q, want policies", page2)
		}
		if _, e, rc := a.cli("", "clients", "disable", console.ClientID); rc != 0 {
			t.Fatalf("disable: %s", e)
		}
		for _, n := range []*testServer{a, b} {
			waitUntil(t, func() bool {
				return n.do("GET", "/v1/admin/clients", "", "", "Authorization", "Bearer "+s.AccessToken).StatusCode == http.StatusUnauthorized
			})
		}
		wantInvalidCode(t, b.redeem(code2))
	})
}

// TestConsoleExpiredAndForgedCodes: a code past its minute, or altered,
// gets the same answer as a used one.
func TestConsoleExpiredAndForgedCodes(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	ts := startTestServer(t, clock)
	code, _ := ts.signInLink()
	ts.waitForClient(console.ClientID, true)
	wantInvalidCode(t, ts.redeem(code[:len(code)-2]+"AA"))
	wantInvalidCode(t, ts.redeem(strings.Repeat("A", 5000)[:4000]))
	clock.Advance(console.CodeTTL + time.Second)
	wantInvalidCode(t, ts.redeem(code))

	for _, tc := range []struct {
		name, ct, body string
		status         int
	}{
		{"not JSON", "text/plain", `{"code":"x"}`, http.StatusUnsupportedMediaType},
		{"too large", "application/json", `{"code":"` + strings.Repeat("A", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		{"no code", "application/json", `{}`, http.StatusBadRequest},
	} {
		if r := ts.do("POST", "/console/session", tc.ct, tc.body); r.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d; body %s", tc.name, r.StatusCode, tc.status, r.body)
		}
	}
}

// TestConsoleCommandRefusals: no --issuer, a bad one or an unknown page.
func TestConsoleCommandRefusals(t *testing.T) {
	ts := startTestServer(t, nil)
	for _, args := range [][]string{
		{"console"},
		{"console", "--issuer", "auth.example.com"},
		{"console", "--issuer", ts.url, "--page", "secrets"},
	} {
		out, errOut, rc := ts.cli("", args...)
		if rc == 0 || out != "" || !strings.Contains(errOut, "--") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want a refusal naming the flag", args, rc, out, errOut)
		}
	}
}

// consoleHeaders are the headers of every console response.
var consoleHeaders = map[string]string{
	"Content-Security-Policy":    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "no-referrer",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Cache-Control":              "no-cache",
}

// TestConsoleFiles: the console's files with their headers, index.html
// for the console's own routes, revalidation by ETag, GET and HEAD only.
func TestConsoleFiles(t *testing.T) {
	ts := startTestServer(t, nil)
	check := func(r response, status int) {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
		}
		for k, v := range consoleHeaders {
			if k == "Cache-Control" && status >= 400 {
				v = "no-store" // the Error shape's: an error is never cached
			}
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", r.Request.Method, r.Request.URL.Path, k, got, v)
			}
		}
	}
	index := ts.do("GET", "/console/", "", "")
	check(index, http.StatusOK)
	if ct := index.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" || index.Header.Get("ETag") == "" {
		t.Errorf("index: Content-Type %q, ETag %q", ct, index.Header.Get("ETag"))
	}
	route := ts.do("GET", "/console/clients/gooclaim_app_x", "", "")
	check(route, http.StatusOK)
	if string(route.body) != string(index.body) {
		t.Error("a console route does not serve index.html")
	}
	check(ts.do("GET", "/console/index.html", "", "", "If-None-Match", index.Header.Get("ETag")), http.StatusNotModified)
	// The server's settings the page needs to sign in: its admin audience.
	cfg := ts.do("GET", "/console/config.json", "", "")
	check(cfg, http.StatusOK)
	if want := `{"admin_audience":"` + auth.AdminAudience + `","admin_scope":"auth:admin"}`; string(cfg.body) != want || cfg.Header.Get("Content-Type") != "application/json" {
		t.Errorf("config.json: %q %s, want %s", cfg.Header.Get("Content-Type"), cfg.body, want)
	}
	check(ts.do("HEAD", "/console/", "", ""), http.StatusOK)
	check(ts.do("POST", "/console/", "", ""), http.StatusMethodNotAllowed)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ts.client = noRedirect
	redirect := ts.do("GET", "/console", "", "")
	ts.client = nil
	check(redirect, http.StatusMovedPermanently)
	if loc := redirect.Header.Get("Location"); loc != "/console/" {
		t.Errorf("GET /console: Location %q, want /console/", loc)
	}
	if r := ts.do("GET", "/console/session", "", ""); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET /console/session: status %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}

	off := startTestServer(t, nil, func(c *serveConfig) { c.noConsole = true })
	for _, p := range []string{"/console/", "/console", "/console/app.js"} {
		if r := off.do("GET", p, "", ""); r.StatusCode != http.StatusNotFound || r.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("--no-console: GET %s: status %d, want 404", p, r.StatusCode)
		}
	}
	if r := off.do("POST", "/console/session", "application/json", `{"code":"x"}`); r.StatusCode != http.StatusNotFound {
		t.Errorf("--no-console: POST /console/session: status %d, want 404", r.StatusCode)
	}
}
