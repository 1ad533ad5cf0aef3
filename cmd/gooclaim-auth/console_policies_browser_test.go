package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gooclaim/auth"
)

// TestConsolePoliciesBrowser walks through the console's Policies page
// against a real server started with a default claim and a default quota:
// the defaults are shown; a tenant claim evaluates to the client's
// metadata; "Load the client's own" fills the form from the stored client;
// a bad expression shows the API's error naming the position; a hostile
// metadata value appears as text; the page reads at a phone's size. With
// GOOCLAIM_CONSOLE_SCREENSHOTS set it saves the screenshot "policies".
func TestConsolePoliciesBrowser(t *testing.T) {
	chromiumPath(t)
	ts := startTestServer(t, nil, func(c *serveConfig) {
		c.defaultClaims = claimsValue{"region": `"eu"`}
		c.defaultQuotas = quotasValue{{Limit: 10000, Window: 24 * time.Hour}}
	})
	requireConsole(t, ts)
	adminID, adminSecret := ts.createClient("--name", "console admin", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience)
	hostile := `<img src=x onerror=alert(1)>`
	id, _ := ts.createClient("--name", "tenant-svc", "--scope", "claims:read", "--metadata", "tenant=acme", "--metadata", "note="+hostile,
		"--claim", "tenant=client.metadata.tenant")
	br := newBrowser(t)
	shots := screenshotDir(t)
	start := time.Now()

	br.signIn(t, ts.url, adminID, adminSecret)
	br.do(t, "follow the Policies link", chromedp.Click(chromedp.CSS(`a[data-nav="policies"]`)))
	br.waitFor(t, "the defaults", `document.querySelector('[data-testid="default-quotas"]') !== null`)
	if got := br.text(t, `[data-testid="default-claims"]`); !strings.Contains(got, "region") || !strings.Contains(got, `"eu"`) {
		t.Errorf("the default claims show %q; want region = \"eu\"", got)
	}
	if got := br.text(t, `[data-testid="default-quotas"]`); got != "10000/1d" {
		t.Errorf("the default quotas show %q; want 10000/1d", got)
	}
	if got := br.text(t, `[data-testid="default-reuse"]`); !strings.HasPrefix(got, "Off") {
		t.Errorf("token reuse shows %q; want Off (the server was not given --reuse-tokens)", got)
	}

	// The client's own claims, with the default, evaluated from 10.1.2.3.
	br.do(t, "evaluate the client's own",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="try-client-id"]`), id),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="try-remote-ip"]`), "10.1.2.3"),
		chromedp.Click(chromedp.CSS(`[data-testid="evaluate"]`)),
	)
	br.waitFor(t, "the result", `document.querySelector('[data-testid="try-claims-result"]') !== null`)
	if got := br.text(t, `[data-testid="try-claims-result"]`); !strings.Contains(got, `"tenant": "acme"`) || !strings.Contains(got, `"region": "eu"`) {
		t.Errorf("the claims show %q; want tenant acme and region eu", got)
	}

	// The client's own loaded into the form, then a claim that reads the
	// hostile metadata value and a condition on the address.
	br.do(t, "load the client's own",
		chromedp.Click(chromedp.CSS(`[data-testid="load-own"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="try-claims"]').value === 'tenant=client.metadata.tenant'`),
	)
	br.do(t, "try a claim and a condition",
		chromedp.SetValue(chromedp.CSS(`[data-testid="try-claims"]`), "tenant=client.metadata.tenant\nnote=client.metadata.note"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="try-condition"]`), `ip_in(request.remote_ip, ["10.0.0.0/8"])`),
		chromedp.Click(chromedp.CSS(`[data-testid="evaluate"]`)),
	)
	br.waitFor(t, "the hostile claim", `(document.querySelector('[data-testid="try-claims-result"]') || {}).textContent?.includes('"note"')`)
	if got := br.text(t, `[data-testid="try-claims-result"]`); !strings.Contains(got, `"note": "<img src=x onerror=alert(1)>"`) {
		t.Errorf("the claims show %q; want the note claim's value as text", got)
	}
	if n := eval[int](t, br, `document.querySelectorAll('main img').length`); n != 0 {
		t.Errorf("the page has %d <img> elements: a metadata value was rendered as HTML", n)
	}
	if got := br.text(t, `[data-testid="try-condition-result"]`); got != "holds" {
		t.Errorf("the condition shows %q; want holds (10.1.2.3 is in 10.0.0.0/8)", got)
	}
	br.do(t, "scroll to the result", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="policy-try"]').scrollIntoView()`))
	br.screenshot(t, shots, "policies")

	// A bad expression: the API's words, naming the claim and the position.
	br.do(t, "try a syntax error",
		chromedp.SetValue(chromedp.CSS(`[data-testid="try-claims"]`), "tenant=client.metadata."),
		chromedp.Click(chromedp.CSS(`[data-testid="evaluate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="policy-try"] .alert-error`)),
	)
	if got := br.text(t, `[data-testid="policy-try"] .alert-error`); !strings.Contains(got, `claim "tenant": ERROR: <input>:1:17: Syntax error`) || !strings.Contains(got, "invalid_request") {
		t.Errorf("a syntax error shows %q; want the API's description naming claim \"tenant\" at 1:17", got)
	}
	if n := eval[int](t, br, `document.querySelectorAll('[data-testid="try-claims-result"]').length`); n != 0 {
		t.Error("a refused evaluation left the previous result on the page")
	}

	// Readable at a phone's size: nothing wider than the screen.
	br.do(t, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	br.open(t, "#/policies")
	if w := eval[int](t, br, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the policies page is %dpx wide on a 390px phone", w)
	}
	br.do(t, "desktop size", chromedp.EmulateReset())

	br.checkNoErrors(t)
	if d := time.Since(start); d > browserBudget/2 {
		t.Errorf("the browser walk took %v, over its %v share of the budget", d, browserBudget/2)
	}
}
