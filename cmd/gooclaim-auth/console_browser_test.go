package main

// Browser tests of the admin web console (console/assets), driving a
// headless Chromium with chromedp against a real server. They need
// /usr/bin/chromium (or $GOOCLAIM_CHROMIUM): without it they are skipped,
// unless $CI is set, where a missing browser fails them.
//
// With GOOCLAIM_CONSOLE_SCREENSHOTS=DIR they save a screenshot of every
// page in DIR (for docs/console.md).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserBudget bounds a whole browser test.
const browserBudget = 60 * time.Second

// chromiumPath is the browser to drive, or skips (fails under CI) without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("GOOCLAIM_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the console's browser tests need Chromium at %s (or $GOOCLAIM_CHROMIUM) under CI: %v", path, err)
		}
		t.Skipf("no Chromium at %s (set $GOOCLAIM_CHROMIUM): skipping the console's browser tests", path)
	}
	return path
}

// browser is a headless Chromium tab, with the page's uncaught exceptions
// and error messages (a Content-Security-Policy violation among them)
// collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts a headless Chromium for the test, at 1280×800.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserBudget)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	b := &browser{ctx: bctx}
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The network's 4xx answers, which the tests provoke, are not
			// the page's errors; a CSP violation is a security entry.
			if m.IsException() || m.Source == "security" || m.Type == chromedp.ConsoleError && m.Source != "network" {
				b.addError(fmt.Sprintf("%s (%s %s:%d)", m.Text, m.Type, m.URL, m.Line+1))
			}
		}
	}()
	return b
}

func (b *browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// checkNoErrors fails the test if the page threw or logged an error.
func (b *browser) checkNoErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("the console page: %s", e)
	}
}

// do runs chromedp actions, failing the test with what on error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the text of the first element matching the CSS selector sel, once visible.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	b.do(t, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// requireConsole skips the test when the server does not serve the console
// at /console/ (its server side not merged yet).
func requireConsole(t *testing.T, ts *testServer) {
	t.Helper()
	resp, err := http.Get(ts.url + "/console/")
	if err != nil {
		t.Fatalf("GET /console/: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "js/app.js") {
		t.Skipf("the server does not serve the console at /console/ (status %d): skipping until it does", resp.StatusCode)
	}
}

// signIn opens the console and signs in with an admin client's credentials.
func (b *browser) signIn(t *testing.T, base, id, secret string) {
	t.Helper()
	b.do(t, "sign in",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-client-id"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-id"]`), id),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-secret"]`), secret),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
	)
}

// open shows the console page at hash (#/clients, …) and waits until it has loaded.
func (b *browser) open(t *testing.T, hash string) {
	t.Helper()
	b.do(t, "open "+hash,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", hash)),
		chromedp.WaitVisible(chromedp.CSS(`#main h1`)),
		// Loaded: no loading indicator left.
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('.loading').length === 0`),
	)
}

// screenshot saves the whole page as dir/name.png.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: a PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// screenshotDir is where screenshots go: $GOOCLAIM_CONSOLE_SCREENSHOTS, or
// nowhere ("") without it.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GOOCLAIM_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshotPages saves a screenshot of every page of the console.
func (b *browser) screenshotPages(t *testing.T, dir string, clientID string) {
	t.Helper()
	pages := []struct{ name, hash string }{
		{"overview", "#/overview"},
		{"clients", "#/clients"},
		{"client", "#/clients/" + clientID},
		{"client-edit", "#/clients/" + clientID + "/edit"},
		{"client-new", "#/clients/new"},
		{"keys", "#/keys"},
		{"audit", "#/audit"},
	}
	for _, p := range pages {
		b.open(t, p.hash)
		b.screenshot(t, dir, p.name)
	}
}

// TestConsoleSignInWithCredentials signs in with an admin client's
// credentials, finds the clients (a hostile name shown as text), and
// checks the token is kept nowhere but in memory; a wrong secret is
// refused in the API's words.
func TestConsoleSignInWithCredentials(t *testing.T) {
	chromiumPath(t)
	ts := startTestServer(t, nil)
	requireConsole(t, ts)
	adminID, adminSecret := ts.createClient("--name", "console admin", "--admin")
	hostile := `<img src=x onerror=alert(1)>`
	otherID, _ := ts.createClient("--name", hostile, "--scope", "claims:read")
	b := newBrowser(t)
	start := time.Now()

	// A wrong secret: the token endpoint's refusal, in its words.
	b.do(t, "sign in with a wrong secret",
		chromedp.Navigate(ts.url+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-client-id"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-id"]`), adminID),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-secret"]`), "not-the-secret"),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-message"] .alert-error`)),
	)
	if msg := b.text(t, `[data-testid="signin-message"]`); !strings.Contains(msg, "invalid_client") {
		t.Errorf("a wrong secret shows %q, want the token endpoint's invalid_client refusal", msg)
	}

	b.signIn(t, ts.url, adminID, adminSecret)
	if who := b.text(t, `[data-testid="signed-in-as"]`); !strings.Contains(who, adminID) {
		t.Errorf("the header says %q, want the admin client %s", who, adminID)
	}

	// The token is in memory only.
	stored := eval[string](t, b, `JSON.stringify([localStorage.length, sessionStorage.length, document.cookie, location.href])`)
	if strings.Contains(stored, "eyJ") || !strings.HasPrefix(stored, `[0,0,""`) {
		t.Errorf("after sign-in the storage, cookies and URL are %s: want nothing kept", stored)
	}

	// The clients, the hostile name as text.
	b.open(t, "#/clients")
	b.do(t, "wait for the client list", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-client-id=%q]`, otherID))))
	name := b.text(t, fmt.Sprintf(`tr[data-client-id=%q] [data-testid="client-link"]`, otherID))
	if name != hostile {
		t.Errorf("the client's name shows as %q, want the text %q", name, hostile)
	}
	if imgs := eval[int](t, b, `document.querySelectorAll('main img').length`); imgs != 0 {
		t.Errorf("the client list has %d <img> elements: a name was rendered as HTML", imgs)
	}

	if dir := screenshotDir(t); dir != "" {
		b.screenshotPages(t, dir, otherID)
	}

	// Signing out forgets the token: back to the sign-in form.
	b.do(t, "sign out",
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-client-id"]`)),
	)
	b.checkNoErrors(t)
	if d := time.Since(start); d > browserBudget {
		t.Errorf("the browser test took %v, over its %v budget", d, browserBudget)
	}
}
