package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleIssuersBrowser walks through the console's trusted issuers
// against a real server, on SQLite and on two nodes sharing PostgreSQL and
// Redis (the browser on node a, the admin API of node b checking): the
// empty list, an issuer added in the form after a refusal in the API's
// words, hostile values shown as text, an edit, a removal refused while a
// client is bound to it and then done with the typed-name confirmation.
// With GOOCLAIM_CONSOLE_SCREENSHOTS set, the SQLite run saves issuers.png.
func TestConsoleIssuersBrowser(t *testing.T) {
	chromiumPath(t)
	backends(t, func(t *testing.T, a, b *testServer) {
		requireConsole(t, a)
		nodes := []*testServer{a}
		shots := ""
		if a == b {
			shots = screenshotDir(t)
		} else {
			nodes = append(nodes, b)
		}
		adminID, adminSecret := createOn(t, nodes, "--name", "console admin", "--admin", "--rate-limit", "10000/1m")
		token := b.tokenFor(adminID, adminSecret)
		adminAPI := func(method, path string, body any) response {
			t.Helper()
			raw, ct := "", ""
			if body != nil {
				j, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				raw, ct = string(j), "application/json"
			}
			return b.do(method, "/v1/admin/issuers"+path, ct, raw, "Authorization", "Bearer "+token)
		}
		refusal := func(r response, status int) string {
			t.Helper()
			if r.StatusCode != status {
				t.Fatalf("the admin API answered %d %s, want %d", r.StatusCode, r.body, status)
			}
			_, desc := r.errorBody(t)
			return desc
		}
		issuer := func() map[string]any {
			t.Helper()
			r := adminAPI("GET", "/ci-prod", nil)
			var v map[string]any
			if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
				t.Fatalf("GET /v1/admin/issuers/ci-prod: %d %s", r.StatusCode, r.body)
			}
			return v
		}
		br := newBrowser(t)
		tid := func(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[data-testid=%q]`, id)) }
		// saveAge submits the open form with the max token age bad, which
		// the API refuses in the words want, then with good, which it saves.
		saveAge := func(submit, bad, want, good string) {
			t.Helper()
			br.do(t, "submit a max token age of "+bad,
				chromedp.SetValue(tid("issuer-max-age-input"), bad),
				chromedp.Click(tid(submit)),
				chromedp.WaitVisible(chromedp.CSS(`.form-error .alert-error`)),
			)
			if got := br.text(t, `.form-error .alert-error`); !strings.Contains(got, want) {
				t.Errorf("a max token age of %s shows %q, want the API's words %q", bad, got, want)
			}
			br.do(t, "submit a max token age of "+good,
				chromedp.SetValue(tid("issuer-max-age-input"), good),
				chromedp.Click(tid(submit)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`location.hash === '#/issuers/ci-prod' && (document.querySelector('[data-testid="issuer-max-age"]') || {}).textContent === %q`, good)),
			)
		}
		start := time.Now()
		br.signIn(t, a.url, adminID, adminSecret)

		t.Log("step: the empty list, from the navigation")
		br.do(t, "open the issuers from the navigation",
			chromedp.Click(chromedp.CSS(`a[data-nav="issuers"]`)),
			chromedp.WaitVisible(tid("issuers-empty")),
		)
		if got := br.text(t, `[data-testid="issuers-empty"]`); !strings.Contains(got, "No trusted issuers yet — add one") {
			t.Errorf("the empty list says %q", got)
		}

		// The API refuses spaces in an audience but not markup; a JWK Set's
		// kid may hold anything.
		const hostileAud = `<svg/onload=alert(1)>`
		const hostileKid = `<img src=x onerror=alert(1)>`
		jwks := strings.Replace(testIssuerJWKS, `"k8s-1"`, fmt.Sprintf("%q", hostileKid), 1)
		form := map[string]any{"name": "ci-prod", "issuer": "https://ci.example.com", "jwks": json.RawMessage(jwks), "audience": hostileAud, "max_token_age": "2d"}
		want := refusal(adminAPI("POST", "", form), http.StatusBadRequest)

		t.Log("step: add an issuer in the form")
		br.do(t, "fill the create form",
			chromedp.Click(tid("new-issuer")),
			chromedp.WaitVisible(tid("issuer-name-input")),
			chromedp.SendKeys(tid("issuer-name-input"), "ci-prod"),
			chromedp.SendKeys(tid("issuer-url-input"), "https://ci.example.com"),
			chromedp.SetValue(tid("issuer-jwks-input"), jwks),
			chromedp.SendKeys(tid("issuer-audience-input"), hostileAud),
		)
		saveAge("issuer-create-submit", "2d", want, "30m")
		if v := issuer(); v["audience"] != hostileAud || v["max_token_age"] != "30m" || v["issuer"] != "https://ci.example.com" || v["jwks"] == nil {
			t.Errorf("the issuer added in the console is %v", v)
		}

		t.Log("step: hostile values as text")
		const injected = `document.images.length + document.querySelectorAll('main svg, main script').length`
		if got := br.text(t, `[data-testid="issuer-audience"]`); got != hostileAud {
			t.Errorf("the audience shows as %q, want the text %q", got, hostileAud)
		}
		if got := br.text(t, `[data-testid="issuer-jwks"]`); !strings.Contains(got, hostileKid) {
			t.Errorf("the JWK Set shows as %q, want the kid %q as text", got, hostileKid)
		}
		if n := eval[int](t, br, injected); n != 0 {
			t.Errorf("the issuer's page has %d injected elements", n)
		}
		br.open(t, "#/issuers")
		row := `tr[data-issuer-name="ci-prod"]`
		br.waitFor(t, "the issuer in the list", fmt.Sprintf(`document.querySelector(%q) !== null`, row))
		if got := br.text(t, row+` [data-testid="issuer-audience"]`); got != hostileAud {
			t.Errorf("the list shows the audience as %q, want the text %q", got, hostileAud)
		}
		if got := br.text(t, row); !strings.Contains(got, "https://ci.example.com") || !strings.Contains(got, "JWK Set (1 key)") || !strings.Contains(got, "30m") {
			t.Errorf("the list's row shows %q", got)
		}
		if n := eval[int](t, br, injected); n != 0 {
			t.Errorf("the issuer list has %d injected elements", n)
		}
		br.screenshot(t, shots, "issuers")

		t.Log("step: edit")
		want = refusal(adminAPI("PATCH", "/ci-prod", map[string]string{"max_token_age": "48h"}), http.StatusBadRequest)
		br.do(t, "save a max token age out of bounds",
			chromedp.Click(chromedp.CSS(row+` [data-testid="issuer-link"]`)),
			chromedp.WaitVisible(tid("edit-issuer")),
			chromedp.Click(tid("edit-issuer")),
			chromedp.WaitVisible(tid("issuer-max-age-input")),
		)
		saveAge("issuer-edit-submit", "48h", want, "2h")
		if v := issuer(); v["max_token_age"] != "2h" || v["audience"] != hostileAud || v["jwks"] == nil {
			t.Errorf("after the edit the issuer is %v, want a max token age of 2h and the rest unchanged", v)
		}

		t.Log("step: remove, refused while a client is bound")
		out := a.mustCLI("", "clients", "create", "--name", "deployer", "--federated", "ci-prod=repo:acme/app", "-o", "json")
		var bound struct {
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal([]byte(out), &bound); err != nil {
			t.Fatal(err)
		}
		want = refusal(adminAPI("DELETE", "/ci-prod", nil), http.StatusConflict)
		confirmBtn := `document.querySelector('dialog[open] .dialog-actions button[type="submit"]').disabled`
		br.do(t, "open the remove dialog",
			chromedp.Click(tid("remove-issuer")),
			chromedp.WaitVisible(tid("remove-confirm")),
			chromedp.SendKeys(tid("remove-confirm"), "ci-pro"),
		)
		if !eval[bool](t, br, confirmBtn) {
			t.Error("the remove dialog can be confirmed without the name typed in full")
		}
		br.do(t, "confirm the removal",
			chromedp.SendKeys(tid("remove-confirm"), "d"),
			chromedp.Click(chromedp.CSS(`dialog[open] .dialog-actions button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`dialog[open] .dialog-error .alert-error`)),
		)
		if got := br.text(t, `dialog[open] .dialog-error .alert-error`); !strings.Contains(got, want) {
			t.Errorf("removing a bound issuer shows %q, want the API's words %q", got, want)
		}
		br.do(t, "cancel",
			chromedp.Click(chromedp.CSS(`dialog[open] .dialog-actions button[value="cancel"]`)),
			chromedp.Poll[chromedp.Void](`document.querySelector('dialog') === null`),
		)
		a.mustCLI("", "clients", "delete", bound.ClientID)

		t.Log("step: remove")
		br.do(t, "open the remove dialog again",
			chromedp.Click(tid("remove-issuer")),
			chromedp.WaitVisible(tid("remove-confirm")),
			chromedp.SendKeys(tid("remove-confirm"), "ci-prod"),
		)
		br.confirmDialog(t, "remove")
		br.waitFor(t, "the empty list again", `location.hash === '#/issuers' && document.querySelector('[data-testid="issuers-empty"]') !== null`)
		if r := adminAPI("GET", "/ci-prod", nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("after the removal GET /v1/admin/issuers/ci-prod answers %d %s, want 404", r.StatusCode, r.body)
		}

		t.Log("step: an issuer named new")
		// "new" is also the create form's address; its link must open it.
		if r := adminAPI("POST", "", map[string]any{"name": "new", "issuer": "https://new.example.com", "jwks": json.RawMessage(testIssuerJWKS)}); r.StatusCode != http.StatusCreated {
			t.Fatalf("create the issuer new: %d %s", r.StatusCode, r.body)
		}
		br.open(t, "#/issuers")
		br.do(t, "open the issuer new from the list",
			chromedp.Click(chromedp.CSS(`tr[data-issuer-name="new"] [data-testid="issuer-link"]`)),
			chromedp.WaitVisible(tid("issuer-url")),
		)
		if got := br.text(t, `[data-testid="issuer-url"]`); got != "https://new.example.com" {
			t.Errorf("the issuer new's link opens a page showing %q", got)
		}

		br.checkNoErrors(t)
		t.Logf("browser walk: %v", time.Since(start).Round(time.Millisecond))
	})
}
