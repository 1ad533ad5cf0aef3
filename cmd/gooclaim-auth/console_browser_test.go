package main

// Browser tests of the admin web console (console/assets), driving a
// headless Chromium with chromedp against a real server. They need
// /usr/bin/chromium (or $GOOCLAIM_CHROMIUM): without it they are skipped,
// unless $CI is set, where a missing browser fails them.
//
// With GOOCLAIM_CONSOLE_SCREENSHOTS=DIR (relative: from the repository's
// root) TestConsoleBrowser saves viewport screenshots of every
// page in DIR, from its SQLite run (for docs/console.md).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/console"
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

// browser is a headless Chromium tab, with the page's uncaught exceptions,
// error messages and Content-Security-Policy violations collected, and any
// JavaScript dialog (alert, confirm, prompt) recorded as an error and
// dismissed.
type browser struct {
	ctx    context.Context
	mu     *sync.Mutex
	errors *[]string // shared by the tabs of one browser
}

// cspListener reports every Content-Security-Policy violation of a page as
// a console error, which the collector below picks up. Scripts added over
// the DevTools protocol are not subject to the page's CSP.
const cspListener = `document.addEventListener('securitypolicyviolation', (e) =>
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`

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
	b := &browser{ctx: bctx, mu: &sync.Mutex{}, errors: new([]string)}
	b.watch(t)
	return b
}

// freshContext opens a tab in a new browser context of b's browser: no
// state shared with b's tabs, as another browser profile would be.
func (b *browser) freshContext(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	nb := &browser{ctx: ctx, mu: b.mu, errors: b.errors}
	nb.watch(t)
	return nb
}

// watch starts the tab and collects its errors and dialogs.
func (b *browser) watch(t *testing.T) {
	t.Helper()
	if err := chromedp.Do(b.ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener}); err != nil {
		t.Fatalf("add the CSP listener: %v", err)
	}
	messages := chromedp.Console(b.ctx)
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
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.addError(fmt.Sprintf("a JavaScript %s dialog opened: %q", ev.Type, ev.Message))
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
}

func (b *browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*b.errors = append(*b.errors, s)
}

// checkNoErrors fails the test if the page threw or logged an error.
func (b *browser) checkNoErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range *b.errors {
		t.Errorf("the console page: %s", e)
	}
}

// do runs chromedp actions, failing the test with what on error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nthe page shows: %s", what, err, b.shows())
	}
}

// stepLimit bounds one step of a browser test (a wait among them).
const stepLimit = 10 * time.Second

// shows is what the page shows, for a failure's message.
func (b *browser) shows() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText.slice(0, 2000)`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return s
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

// open shows the console page at hash (#/clients, …) and waits until it
// has rendered anew and loaded: its heading is new and no loading
// indicator is left.
func (b *browser) open(t *testing.T, hash string) {
	t.Helper()
	b.do(t, "open "+hash,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
  for (const el of document.querySelectorAll('#main h1')) el.dataset.old = '1';
  if (location.hash === %[1]q) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = %[1]q;
})()`, hash)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`location.hash === %q && document.querySelector('#main h1:not([data-old])') !== null && document.querySelectorAll('.loading').length === 0`, hash)),
	)
}

// waitFor polls the JavaScript condition cond until it holds.
func (b *browser) waitFor(t *testing.T, what, cond string) {
	t.Helper()
	b.do(t, "wait for "+what, chromedp.Poll[chromedp.Void](cond))
}

// confirmDialog clicks the confirming button of the open dialog and waits
// until the dialog has closed (its action done).
func (b *browser) confirmDialog(t *testing.T, what string) {
	t.Helper()
	b.do(t, "confirm "+what,
		chromedp.Click(chromedp.CSS(`dialog[open] .dialog-actions button[type="submit"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('dialog') === null`),
	)
}

// screenshot saves the browser's viewport as dir/name.png; dir "" saves nothing.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// screenshotDir is where screenshots go: $GOOCLAIM_CONSOLE_SCREENSHOTS, a
// relative path taken from the repository's root (the tests run in
// cmd/gooclaim-auth), or nowhere ("") without it.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GOOCLAIM_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("the repository's root %s: %v", root, err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleSignInWithCredentials signs in with an admin client's
// credentials, finds the clients (a hostile name shown as text), and
// checks the token is kept nowhere but in memory; a wrong secret is
// refused in the API's words.
func TestConsoleSignInWithCredentials(t *testing.T) {
	chromiumPath(t)
	// A server with an admin audience of its own: the page learns it from
	// /console/config.json, not from a constant.
	const audience = "urn:example:ops-admin"
	ts := startTestServer(t, nil, func(c *serveConfig) { c.adminAudience = audience })
	requireConsole(t, ts)
	adminID, adminSecret := ts.createClient("--name", "console admin", "--scope", auth.ScopeAdmin, "--audience", audience)
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

// TestConsoleBrowser walks through the console in one browser per backend,
// against a real server: on SQLite, and on two nodes sharing PostgreSQL and
// Redis, signing in on node a and checking the effects on node b. With
// GOOCLAIM_CONSOLE_SCREENSHOTS set, the SQLite run saves the screenshots
// of docs/console.md.
func TestConsoleBrowser(t *testing.T) {
	chromiumPath(t)
	backends(t, func(t *testing.T, a, b *testServer) {
		requireConsole(t, a)
		j := &journey{t: t, a: a, b: b, br: newBrowser(t)}
		if a == b {
			j.shots = screenshotDir(t)
		}
		start := time.Now()
		j.signIn()
		j.oneTimeLink()
		j.createClient()
		j.disableAndEnable()
		j.keys()
		j.audit()
		j.hostileNames()
		j.overviewUnderLoad()
		j.phone()
		j.br.checkNoErrors(t)
		if d := time.Since(start); d > browserBudget/2 {
			t.Errorf("the browser walk took %v, over its %v share of the budget", d, browserBudget/2)
		}
		t.Logf("browser walk: %v", time.Since(start).Round(time.Millisecond))
	})
}

// journey is the state of TestConsoleBrowser's walk.
type journey struct {
	t      *testing.T
	a, b   *testServer // the node the browser uses, the node that checks
	br     *browser
	shots  string // the screenshot directory, or ""
	nodes  []*testServer
	admin  [2]string // an admin client's ID and secret
	client [2]string // the client created in the form: ID and secret
}

func (j *journey) step(name string) {
	j.t.Helper()
	j.t.Logf("step: %s", name)
}

// signIn: a wrong secret is refused in the token endpoint's words; the
// right one signs in.
func (j *journey) signIn() {
	t, a, br := j.t, j.a, j.br
	j.step("sign in with credentials")
	j.nodes = []*testServer{a}
	if j.b != a {
		j.nodes = append(j.nodes, j.b)
	}
	j.admin[0], j.admin[1] = createOn(t, j.nodes, "--name", "console admin", "--admin", "--rate-limit", "10000/1m")
	_, want := a.form("grant_type=client_credentials&client_id=" + j.admin[0] + "&client_secret=not-the-secret").errorBody(t)

	br.do(t, "open the sign-in page",
		chromedp.Navigate(a.url+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-client-id"]`)),
	)
	br.screenshot(t, j.shots, "signin")
	br.do(t, "sign in with a wrong secret",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-id"]`), j.admin[0]),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-secret"]`), "not-the-secret"),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-message"] .alert-error`)),
	)
	if msg := br.text(t, `[data-testid="signin-message"]`); !strings.Contains(msg, want) || !strings.Contains(msg, "invalid_client") {
		t.Errorf("a wrong secret shows %q, want the API's description %q and its code", msg, want)
	}
	// The form keeps the client ID and clears the secret after a refusal.
	br.do(t, "sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-client-secret"]`), j.admin[1]),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
	)
	if who := br.text(t, `[data-testid="signed-in-as"]`); !strings.Contains(who, j.admin[0]) {
		t.Errorf("the header says %q, want the admin client %s", who, j.admin[0])
	}
}

// oneTimeLink: a link from `gooclaim-auth console --page clients` signs in
// on the clients page and leaves the address bar; a second use, in a fresh
// browser context on the other node, is refused in the API's words.
func (j *journey) oneTimeLink() {
	t, a, b, br := j.t, j.a, j.b, j.br
	j.step("one-time sign-in link")
	out, errOut, rc := a.cli("", "console", "--issuer", a.url, "--page", "clients")
	if rc != 0 {
		t.Fatalf("gooclaim-auth console: exit %d: %s", rc, errOut)
	}
	link := strings.TrimSpace(out)
	if !strings.HasPrefix(link, a.url+"/console/#code=") || !strings.Contains(link, "page=clients") {
		t.Fatalf("gooclaim-auth console printed %q", out)
	}
	for _, n := range j.nodes {
		n.waitForClient(console.ClientID, true)
	}
	br.do(t, "open the link",
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(link),
		chromedp.Poll[chromedp.Void](`location.hash === '#/clients' && document.querySelector('[data-testid="sign-out"]') !== null &&
  (document.querySelector('#main h1') || {}).textContent === 'Clients'`),
	)
	if href := eval[string](t, br, `location.href`); strings.Contains(href, "code=") || href != a.url+"/console/#/clients" {
		t.Errorf("after the link, the address bar shows %s: want %s/console/#/clients, the code gone", href, a.url)
	}
	if who := br.text(t, `[data-testid="signed-in-as"]`); !strings.Contains(who, "cli:") || !strings.Contains(who, "sign-in link") {
		t.Errorf("after the link, the header says %q: want who made the link (cli:…)", who)
	}

	again := strings.Replace(link, a.url, b.url, 1)
	fresh := br.freshContext(t)
	fresh.do(t, "open the used link in a fresh context",
		chromedp.Navigate(again),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-message"] .alert-error`)),
	)
	msg := fresh.text(t, `[data-testid="signin-message"]`)
	code := link[strings.Index(link, "#code=")+len("#code=") : strings.Index(link, "&")]
	r := b.redeem(code)
	wantInvalidCode(t, r)
	if _, want := r.errorBody(t); !strings.Contains(msg, want) {
		t.Errorf("the used link shows %q, want the API's description %q", msg, want)
	}
	if href := eval[string](t, fresh, `location.href`); strings.Contains(href, "code=") {
		t.Errorf("after a refused link the address bar still holds the code: %s", href)
	}
}

// createClient: the create form, the secret shown once and working, then
// gone from the page.
func (j *journey) createClient() {
	t, b, br := j.t, j.b, j.br
	j.step("create a client")
	br.open(t, "#/clients")
	br.screenshot(t, j.shots, "clients")
	br.do(t, "open the create form",
		chromedp.Click(chromedp.CSS(`[data-testid="new-client"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="client-name"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-name"]`), "partner portal"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-scopes"]`), "claims:read claims:write"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-quotas"]`), "1000/1h 10000/1d"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="client-quota-mode"]`), "warn"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="client-token-reuse"]`), "on"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-claims-input"]`), `tenant="console"`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-condition-input"]`), `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])`),
	)
	br.screenshot(t, j.shots, "client-new")
	br.do(t, "create",
		chromedp.Click(chromedp.CSS(`[data-testid="create-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret-value"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#main h1`)),
	)
	secret := br.text(t, `[data-testid="secret-value"]`)
	runRegistry.addSecret(t, "the secret of the client created in the console", secret)
	id := eval[string](t, br, `decodeURIComponent(location.hash.replace(/^#\/clients\//, ''))`)
	if !strings.HasPrefix(id, "gooclaim_app_") || secret == "" {
		t.Fatalf("after create: client %q, secret of %d characters", id, len(secret))
	}
	j.client = [2]string{id, secret}
	br.screenshot(t, j.shots, "client-secret")

	b.waitForClient(id, true)
	if c := b.srv.Replica().Lookup(id); auth.FormatQuotas(c.Quotas) == nil || strings.Join(auth.FormatQuotas(c.Quotas), " ") != "1000/1h 10000/1d" || c.QuotaMode != auth.QuotaWarn {
		t.Errorf("the client created in the console has quotas %v, mode %q; want 1000/1h 10000/1d, warn", c.Quotas, c.QuotaMode)
	}
	if c := b.srv.Replica().Lookup(id); c.Claims["tenant"] != `"console"` || c.Condition != `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])` {
		t.Errorf("the client created in the console has claims %v, condition %q; want its tenant claim and loopback condition", c.Claims, c.Condition)
	}
	if c := b.srv.Replica().Lookup(id); c.TokenReuse != auth.ReuseOn {
		t.Errorf("the client created in the console has token reuse %q; want on", c.TokenReuse)
	}
	if tok := b.tokenFor(id, secret); tok == "" {
		t.Fatal("no token with the secret shown")
	}

	br.open(t, "#/clients")
	br.waitFor(t, "the new client in the list", fmt.Sprintf(`document.querySelector('tr[data-client-id=%q]') !== null`, id))
	br.open(t, "#/clients/"+id)
	br.waitFor(t, "the client's claims and condition shown", `(document.querySelector('[data-testid="client-claims"]')?.innerText || '').includes('"console"') &&
  (document.querySelector('[data-testid="client-condition"]')?.innerText || '').includes('ip_in(')`)
	br.waitFor(t, "the client's token reuse shown", `(document.querySelector('[data-testid="client-token-reuse-shown"]')?.innerText || '').startsWith('On')`)
	found := eval[bool](t, br, fmt.Sprintf(`(() => {
  const s = %q;
  return document.documentElement.outerHTML.includes(s) || document.body.innerText.includes(s) ||
    [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(s)) ||
    document.querySelector('[data-testid="secret-panel"]') !== null;
})()`, secret))
	if found {
		t.Error("back on the client's page, the secret is still in the DOM")
	}
	br.screenshot(t, j.shots, "client")
}

// disableAndEnable: disabling from the client's page stops its tokens on
// the other node; enabling brings them back.
func (j *journey) disableAndEnable() {
	t, b, br := j.t, j.b, j.br
	id, secret := j.client[0], j.client[1]
	j.step("disable and enable")
	br.do(t, "disable",
		chromedp.Click(chromedp.CSS(`[data-testid="disable-client"]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	br.confirmDialog(t, "disable")
	br.do(t, "wait for disabled", chromedp.WaitVisible(chromedp.CSS(`[data-testid="enable-client"]`)))
	waitUntil(t, func() bool { c := b.srv.Replica().Lookup(id); return c != nil && c.Disabled })
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
	r := b.form(creds)
	if code, _ := r.errorBody(t); r.StatusCode != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("a token request of the disabled client: %d %s, want 401 invalid_client", r.StatusCode, r.body)
	}
	br.do(t, "enable",
		chromedp.Click(chromedp.CSS(`[data-testid="enable-client"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="disable-client"]`)),
	)
	waitUntil(t, func() bool { c := b.srv.Replica().Lookup(id); return c != nil && !c.Disabled })
	b.tokenFor(id, secret)
}

// keys: rotate from the Keys page, then revoke the new (not yet signing)
// key through the confirmation dialog.
func (j *journey) keys() {
	t, b, br := j.t, j.b, j.br
	j.step("keys")
	kids := func() []string {
		return eval[[]string](t, br, `[...document.querySelectorAll('tr[data-kid]')].map((tr) => tr.dataset.kid)`)
	}
	cliKeys := func() string {
		out, errOut, rc := b.cli("", "keys", "list", "-o", "json")
		if rc != 0 {
			t.Fatalf("keys list: %s", errOut)
		}
		return out
	}
	br.open(t, "#/keys")
	before := kids()
	br.do(t, "rotate",
		chromedp.Click(chromedp.CSS(`[data-testid="rotate-keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open]`)),
	)
	br.confirmDialog(t, "rotate")
	br.waitFor(t, "the new key", fmt.Sprintf(`document.querySelectorAll('tr[data-kid]').length === %d`, len(before)+1))
	var kid string
	for _, k := range kids() {
		if !slices.Contains(before, k) {
			kid = k
		}
	}
	if kid == "" || !strings.Contains(cliKeys(), kid) {
		t.Fatalf("the new key %q is not in keys list: %s", kid, cliKeys())
	}
	if state := br.text(t, fmt.Sprintf(`tr[data-kid=%q] .badge`, kid)); state != "next" {
		t.Errorf("the new key's state is %q, want next", state)
	}
	br.screenshot(t, j.shots, "keys")

	br.do(t, "revoke the new key",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-kid=%q] [data-testid="revoke-key"]`, kid))),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-reason"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="revoke-reason"]`), "browser test"),
	)
	br.confirmDialog(t, "revoke")
	br.waitFor(t, "the key gone", fmt.Sprintf(`document.querySelector('tr[data-kid=%q]') === null && document.querySelectorAll('tr[data-kid]').length === %d`, kid, len(before)))
	if after := kids(); !slices.Equal(after, before) {
		t.Errorf("after revoking the new key the table shows %v, want %v again", after, before)
	}
	if strings.Contains(cliKeys(), kid) {
		t.Errorf("keys list still shows the revoked key %s", kid)
	}
}

// audit: the created client's events, filtered by its ID; the disable
// event's diff.
func (j *journey) audit() {
	t, br := j.t, j.br
	id := j.client[0]
	j.step("audit")
	br.open(t, "#/audit")
	br.do(t, "filter by the client",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="audit-target"]`), id),
		chromedp.Click(chromedp.CSS(`[data-testid="audit-filter"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('.loading').length === 0 && document.querySelector('[data-testid="audit-events"]') !== null`),
	)
	type event struct {
		Seq     string `json:"seq"`
		Action  string `json:"action"`
		Summary string `json:"summary"`
	}
	events := eval[[]event](t, br, `[...document.querySelectorAll('details.event')].map((d) => ({
  seq: d.dataset.seq, action: d.querySelector('.badge').textContent, summary: d.querySelector('summary').textContent }))`)
	var actions []string
	disableSeq := ""
	for _, e := range events {
		actions = append(actions, e.Action)
		if !strings.Contains(e.Summary, id) {
			t.Errorf("the filtered audit shows an event of another target: %+v", e)
		}
		if e.Action == "client.disable" {
			disableSeq = e.Seq
		}
	}
	if !slices.Contains(actions, "client.create") || disableSeq == "" {
		t.Fatalf("the client's audit events are %v: want client.create and client.disable", actions)
	}
	ev := fmt.Sprintf(`details.event[data-seq=%q]`, disableSeq)
	br.do(t, "open the disable event",
		chromedp.Click(chromedp.CSS(ev+` > summary`)),
		chromedp.WaitVisible(chromedp.CSS(ev+` .diff-table`)),
	)
	row := br.text(t, ev+` .diff-table tr.diff-changed`)
	if !strings.Contains(row, "disabled") || !strings.Contains(row, "false") || !strings.Contains(row, "true") {
		t.Errorf("the disable event's diff shows %q, want disabled false → true", row)
	}
	br.screenshot(t, j.shots, "audit")
}

// hostileNames: names that are HTML show as their characters, on the
// list and on the client's page, and run nothing.
func (j *journey) hostileNames() {
	t, a, b, br := j.t, j.a, j.b, j.br
	j.step("hostile names")
	names := []string{`<img src=x onerror=alert(1)>`, `"><script>alert(2)</script><b>x`}
	var ids []string
	for _, n := range names {
		id, _ := a.createClient("--name", n, "--scope", "claims:read")
		ids = append(ids, id)
	}
	const injected = `document.images.length + document.querySelectorAll('main b, main script').length +
  [...document.scripts].filter((s) => !s.src.endsWith('/console/js/app.js')).length`
	br.open(t, "#/clients")
	for i, id := range ids {
		sel := fmt.Sprintf(`tr[data-client-id=%q] [data-testid="client-link"]`, id)
		br.waitFor(t, "the hostile client in the list", fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
		if got := br.text(t, sel); got != names[i] {
			t.Errorf("the list shows the name %q as %q", names[i], got)
		}
	}
	if n := eval[int](t, br, injected); n != 0 {
		t.Errorf("the client list has %d injected elements", n)
	}
	for i, id := range ids {
		br.open(t, "#/clients/"+id)
		if got := br.text(t, `#main h1`); !strings.HasPrefix(got, names[i]) {
			t.Errorf("the client's page heading is %q, want it to start with the text %q", got, names[i])
		}
		if n := eval[int](t, br, injected); n != 0 {
			t.Errorf("the page of %q has %d injected elements", names[i], n)
		}
	}
	r := b.do("GET", "/console/", "", "")
	if csp := r.Header.Get("Content-Security-Policy"); csp != consoleHeaders["Content-Security-Policy"] {
		t.Errorf("GET /console/: Content-Security-Policy %q", csp)
	}
}

// overviewUnderLoad: the overview's figures move while token requests
// run on the other node, and the rate-limited client shows among the top.
func (j *journey) overviewUnderLoad() {
	t, a, b, br := j.t, j.a, j.b, j.br
	j.step("overview under load")
	loadID, loadSecret := createOn(t, j.nodes, "--name", "load", "--scope", "claims:read", "--rate-limit", "100000/1m")
	limitedID, limitedSecret := createOn(t, j.nodes, "--name", "limited", "--scope", "claims:read", "--rate-limit", "1/1m")
	br.open(t, "#/overview")
	number := func(testid string) int {
		return eval[int](t, br, fmt.Sprintf(`Number(document.querySelector('[data-testid=%q]').textContent.replace(/[^0-9]/g, ''))`, testid))
	}
	issued0 := number("tokens-issued-total")

	// The load, over plain HTTP (not ts.form: a goroutine cannot fail the test).
	const total = 200
	half := make(chan struct{})
	done := make(chan map[int]int, 1)
	go func() {
		statuses := map[int]int{}
		for i := range total {
			id, secret := loadID, loadSecret
			switch {
			case i%10 == 3:
				secret = "wrong"
			case i%10 == 7:
				id, secret = limitedID, limitedSecret
			}
			resp, err := http.PostForm(b.url+"/v1/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
			if err != nil {
				statuses[0]++
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[resp.StatusCode]++
			}
			if i == total/2 {
				close(half)
			}
		}
		done <- statuses
	}()
	sample := func() {
		for _, n := range j.nodes {
			n.srv.SampleStats(context.Background())
		}
	}
	refresh := func(what, cond string) {
		t.Helper()
		br.do(t, "refresh the overview for "+what,
			chromedp.Click(chromedp.CSS(`[data-testid="stats-refresh"]`)),
			chromedp.Poll[chromedp.Void](cond),
		)
	}
	issuedAbove := func(n int) string {
		return fmt.Sprintf(`Number(document.querySelector('[data-testid="tokens-issued-total"]').textContent.replace(/[^0-9]/g, '')) > %d`, n)
	}
	<-half
	sample()
	refresh("the first half", issuedAbove(issued0))
	mid := number("tokens-issued-total")
	statuses := <-done
	if statuses[http.StatusOK] < total/2 || statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusTooManyRequests] == 0 {
		t.Fatalf("the load's answers by status: %v, want 200s, 401s and 429s", statuses)
	}
	sample()
	refresh("the whole load", issuedAbove(mid)+fmt.Sprintf(` && document.querySelector('[data-testid="top-rate-limited"]').textContent.includes(%q)`, limitedID))
	if n := number("rate-limited-total"); n < statuses[http.StatusTooManyRequests] {
		t.Errorf("the overview shows %d rate-limited requests, want at least %d", n, statuses[http.StatusTooManyRequests])
	}
	if n := number("refusals-total"); n < statuses[http.StatusUnauthorized] {
		t.Errorf("the overview shows %d refusals, want at least %d", n, statuses[http.StatusUnauthorized])
	}
	if a != b {
		if n := eval[int](t, br, `document.querySelectorAll('[data-testid="overview-nodes"] tbody tr').length`); n != 2 {
			t.Errorf("the overview lists %d nodes, want 2", n)
		}
	}
	br.screenshot(t, j.shots, "overview")
}

// phone: the clients list at a phone's size.
func (j *journey) phone() {
	t, br := j.t, j.br
	if j.shots == "" {
		return
	}
	j.step("phone")
	br.do(t, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	br.open(t, "#/clients")
	br.screenshot(t, j.shots, "clients-phone")
	br.do(t, "desktop size", chromedp.EmulateReset())
}
