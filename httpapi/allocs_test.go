package httpapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"

	"github.com/gooclaim/auth"
)

// The token path's allocation budgets: the most heap allocations one issued
// token may cost the token endpoint's whole handler — routing, request log
// (JSON, written directly as serve does: RequestLogJSON), metrics Observer,
// parsing, rate limit, secret check, claims, signing, response — per
// request encoding, not counting those of the signature itself inside the
// standard library (crypto/ecdsa's SignASN1 makes about 59 that no caller
// can avoid; ed25519.Sign none), which the test measures and subtracts.
// Issue 14 brought them from 40 (form, basic) and 82 (json) to 11, 11 and
// 12, and X-Content-Type-Options' value, now shared, to 10, 10 and 11;
// each budget is that plus one.
//
// The 10 of a form request: the body's copy its parameters point into; the
// client decoded from the replica; the limiter key "client:<id>"; the
// secret check's SHA-256 input (credential.Verifier); the rate-limit
// headers' string and value array; the jti; the Token; the access token
// string; the token response's header array.
// Basic adds the decoded credentials' string. (Through slog, without
// RequestLogJSON, the line adds two: slog's Record past five attributes
// and its boxing of the duration_ms float.)
const (
	tokenPathAllocBudgetForm  = 11
	tokenPathAllocBudgetJSON  = 11
	tokenPathAllocBudgetBasic = 12
)

var tokenPathAllocBudget = map[string]float64{
	"form":  tokenPathAllocBudgetForm,
	"json":  tokenPathAllocBudgetJSON,
	"basic": tokenPathAllocBudgetBasic,
}

// TestTokenPathAllocations guards the token endpoint's allocations per
// request (BenchmarkTokenHandler measures the same path, plus the
// allocations of building each request and recorder). It is not a timing
// test: allocation counts are deterministic for a given Go version.
func TestTokenPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, alg := range benchAlgs {
		t.Run(alg, func(t *testing.T) {
			st := newStackOf(t, alg, 1)
			sig := signatureAllocs(t, alg)
			id, secret := st.creds[0][0], st.creds[0][1]
			for _, enc := range []struct {
				name string
				enc  encoding
			}{{"form", formRequest}, {"json", jsonRequest}, {"basic", basicRequest}} {
				t.Run(enc.name, func(t *testing.T) {
					req := newReplayed(t, enc.enc(id, secret))
					w := &discardWriter{h: http.Header{}}
					run := func() {
						req.rewind()
						w.reset()
						st.observed.ServeHTTP(w, req.r)
					}
					run()
					if w.status != http.StatusOK {
						t.Fatalf("status %d, want 200", w.status)
					}
					total := testing.AllocsPerRun(200, run)
					if w.status != http.StatusOK {
						t.Fatalf("status %d, want 200", w.status)
					}
					ours := total - sig
					t.Logf("%s %s: %.0f allocations per request, %.0f of them in the signature", alg, enc.name, total, sig)
					if budget := tokenPathAllocBudget[enc.name]; ours > budget {
						t.Errorf("a %s token request (%s) allocates %.0f times outside the signature, over the budget of %.0f.\n"+
							"Find the new allocations (the expected ones are listed above tokenPathAllocBudgetForm) before raising the budget:\n"+
							"  go test -run XXX -bench 'TokenHandler/%s/%s$' -benchmem -memprofile mem.out -memprofilerate 1 ./httpapi/\n"+
							"  go tool pprof -sample_index=alloc_objects -focus logRequests -top httpapi.test mem.out\n"+
							"and remove them from the token path (pooled buffers, no per-request maps, strings or closures); "+
							"raise the budget only for a behaviour that cannot be had without, and say why in the commit.",
							enc.name, alg, ours, budget, alg, enc.name)
					}
				})
			}
		})
	}
}

// signatureAllocs is how many allocations one signature of alg costs in the
// standard library, on a key of its own.
func signatureAllocs(t *testing.T, alg string) float64 {
	digest := sha256.Sum256([]byte("claims"))
	switch alg {
	case auth.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() { ecdsa.SignASN1(rand.Reader, k, digest[:]) })
	case auth.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() { ed25519.Sign(k, digest[:]) })
	}
	t.Fatalf("no signature measure for %s", alg)
	return 0
}

// replayed is a request whose body can be read again, so that the same
// request can be served many times without allocating a new one.
type replayed struct {
	r    *http.Request
	body []byte
	rd   bytes.Reader
}

func newReplayed(t *testing.T, r *http.Request) *replayed {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := &replayed{r: r, body: body}
	r.Body = io.NopCloser(&p.rd)
	return p
}

func (p *replayed) rewind() { p.rd.Reset(p.body) }

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, its header map reused from one request to the next.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.status = 0
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

// tokenPathAllocBudgetReused is the budget of a form request answered with
// a token given again (issuer.TokenCache): 8, the form request's 10 less
// the jti and the access token string signing makes; the kept token's
// copy replaces the Token. Plus one, as the others.
const tokenPathAllocBudgetReused = 9

// TestReusedTokenPathAllocations guards the allocations of a token given
// again, as TestTokenPathAllocations those of a signed one.
func TestReusedTokenPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	st := newStackOf(t, auth.ES256, 1)
	req := newReplayed(t, formRequest(st.creds[0][0], st.creds[0][1]))
	w := &discardWriter{h: http.Header{}}
	run := func() {
		req.rewind()
		w.reset()
		st.reused.ServeHTTP(w, req.r)
	}
	run()
	if w.status != http.StatusOK {
		t.Fatalf("status %d, want 200", w.status)
	}
	n := testing.AllocsPerRun(200, run)
	t.Logf("a token given again: %.0f allocations per request", n)
	if n > tokenPathAllocBudgetReused {
		t.Errorf("a token given again allocates %.0f times per request, over the budget of %d; find them with\n"+
			"  go test -run XXX -bench 'TokenHandler/ES256/form_reused$' -benchmem -memprofile mem.out -memprofilerate 1 ./httpapi/",
			n, tokenPathAllocBudgetReused)
	}
}
