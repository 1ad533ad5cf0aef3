package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

type keyView struct {
	KID         string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	SigningFrom time.Time `json:"signing_from"`
}

// publicKeyFields are the only fields a key may show.
var publicKeyFields = []string{"kid", "alg", "state", "created_at", "signing_from", "retired_at", "published_until"}

func checkPublicFields(t *testing.T, body []byte, objects func(map[string]json.RawMessage) []map[string]json.RawMessage) {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, o := range objects(doc) {
		for f := range o {
			if !slices.Contains(publicKeyFields, f) {
				t.Fatalf("a key shows %q: %s", f, body)
			}
		}
	}
}

func TestAdminKeys(t *testing.T) {
	t.Run("without a key ring", func(t *testing.T) {
		e := newAdminEnv(t, false)
		var list struct {
			Keys []keyView `json:"keys"`
		}
		e.call("GET", "/v1/admin/keys", "").decode(t, http.StatusOK, &list)
		if list.Keys == nil || len(list.Keys) != 0 {
			t.Fatalf("%s", e.bodies[len(e.bodies)-1])
		}
		e.call("POST", "/v1/admin/keys/rotate", "").wantError(t, 503, "temporarily_unavailable", "key-encryption key")
	})

	e := newAdminEnv(t, true)
	var first keyView
	r := e.call("POST", "/v1/admin/keys/rotate", `{"publish_ahead":"0"}`)
	r.decode(t, http.StatusOK, &first)
	checkPublicFields(t, r.body, func(d map[string]json.RawMessage) []map[string]json.RawMessage {
		return []map[string]json.RawMessage{d}
	})
	if first.KID == "" || first.Algorithm != auth.ES256 || first.SigningFrom.After(time.Now()) {
		t.Fatalf("%s", r.body)
	}
	var next keyView
	e.call("POST", "/v1/admin/keys/rotate", "").decode(t, http.StatusOK, &next)
	if d := next.SigningFrom.Sub(next.CreatedAt); d != 10*time.Minute {
		t.Fatalf("default publish-ahead: the key signs %s after its creation, want 10m", d)
	}
	r = e.call("GET", "/v1/admin/keys", "")
	var list struct {
		Keys []keyView `json:"keys"`
	}
	r.decode(t, http.StatusOK, &list)
	checkPublicFields(t, r.body, func(d map[string]json.RawMessage) []map[string]json.RawMessage {
		var keys []map[string]json.RawMessage
		json.Unmarshal(d["keys"], &keys)
		return keys
	})
	if len(list.Keys) != 2 || list.Keys[0].KID != first.KID || list.Keys[0].State != "active" ||
		list.Keys[1].KID != next.KID || list.Keys[1].State != "next" {
		t.Fatalf("%s", r.body)
	}
	stored, _ := e.db.Keys(t.Context())
	for _, k := range stored {
		for _, b := range e.bodies {
			for _, secret := range [][]byte{k.Sealed, k.Public} {
				if strings.Contains(string(b), string(secret)) || strings.Contains(string(b), jsonBytes(secret)) {
					t.Fatalf("a response shows key material of %s", k.ID)
				}
			}
		}
	}
	for _, body := range []string{`{"publish_ahead":"soon"}`, `{"publish_ahead":"-1m"}`, `{"algorithm":"RS256"}`} {
		e.call("POST", "/v1/admin/keys/rotate", body).wantError(t, 400, "invalid_request")
	}
}

// jsonBytes is how encoding/json shows a []byte.
func jsonBytes(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

type auditEvent struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetKind string          `json:"target_kind"`
	TargetID   string          `json:"target_id"`
	RemoteAddr string          `json:"remote_addr"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

type auditPage struct {
	Events    []auditEvent `json:"events"`
	NextAfter int64        `json:"next_after"`
}

// TestAdminAuditAndSecrecy makes every kind of change through the API,
// then reads the audit trail back, and checks that no response ever showed
// a secret hash (or a secret outside the response that made it).
func TestAdminAuditAndSecrecy(t *testing.T) {
	e := newAdminEnv(t, true)
	hashes := map[string]bool{}
	collect := func() {
		clients, err := e.db.ListClients(t.Context(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clients {
			for _, s := range c.Secrets {
				hashes[s.Hash] = true
			}
		}
	}
	start := time.Now().Add(-time.Second)

	created := e.create(`{"name":"svc","scopes":["a"]}`)
	id := created.Client.ClientID
	path := "/v1/admin/clients/" + id
	secrets := []string{created.ClientSecret}
	collect()
	e.create(`{"client_id":"legacy","name":"legacy","client_secret":"S3cureP@ssw0rd!"}`)
	collect()
	e.callAs("ci-bot", "PATCH", path, `{"name":"svc-2"}`, "application/json").decode(t, http.StatusOK, nil)
	e.call("POST", path+"/disable", "").decode(t, http.StatusOK, nil)
	e.call("POST", path+"/enable", "").decode(t, http.StatusOK, nil)
	var rot withSecret
	e.call("POST", path+"/rotate-secret", `{"grace":"1h"}`).decode(t, http.StatusOK, &rot)
	secrets = append(secrets, rot.ClientSecret)
	collect()
	e.call("POST", path+"/revoke-secret", `{"old":true}`).decode(t, http.StatusOK, nil)
	e.call("POST", path+"/revoke-tokens", "").decode(t, http.StatusOK, nil)
	var key keyView
	e.call("POST", "/v1/admin/keys/rotate", "").decode(t, http.StatusOK, &key)
	collect()
	e.call("GET", "/v1/admin/clients", "").decode(t, http.StatusOK, nil)
	e.call("GET", "/v1/admin/clients/legacy", "").decode(t, http.StatusOK, nil)
	e.call("DELETE", "/v1/admin/clients/legacy", "").decode(t, http.StatusNoContent, nil)
	e.call("PATCH", path, `{"name":""}`).wantError(t, 400, "invalid_request", "name") // refused: no event

	var all auditPage
	r := e.call("GET", "/v1/admin/audit", "")
	r.decode(t, http.StatusOK, &all)
	type want struct{ actor, action, kind, target string }
	wants := []want{
		{"client:ops", auth.ActionClientCreate, "client", id},
		{"client:ops", auth.ActionClientCreate, "client", "legacy"},
		{"client:ci-bot", auth.ActionClientUpdate, "client", id},
		{"client:ops", auth.ActionClientDisable, "client", id},
		{"client:ops", auth.ActionClientEnable, "client", id},
		{"client:ops", auth.ActionSecretRotate, "client", id},
		{"client:ops", auth.ActionSecretRevoke, "client", id},
		{"client:ops", auth.ActionClientRevokeTokens, "client", id},
		{"client:ops", auth.ActionKeysRotate, "keys", key.KID},
		{"client:ops", auth.ActionClientDelete, "client", "legacy"},
	}
	if len(all.Events) != len(wants) || all.NextAfter != 0 {
		t.Fatalf("%d events, want %d: %s", len(all.Events), len(wants), r.body)
	}
	for i, w := range wants {
		ev := all.Events[i]
		if ev.Actor != w.actor || ev.Action != w.action || ev.TargetKind != w.kind || ev.TargetID != w.target ||
			ev.RemoteAddr != "127.0.0.1" || ev.At.Before(start) || ev.At.After(time.Now()) || (i > 0 && ev.Seq <= all.Events[i-1].Seq) {
			t.Errorf("event %d: %+v, want %+v from 127.0.0.1", i, ev, w)
		}
	}
	ev := all.Events
	if string(ev[0].Before) != "null" || !strings.Contains(string(ev[0].After), `"name":"svc"`) {
		t.Errorf("create: before %s after %s", ev[0].Before, ev[0].After)
	}
	if !strings.Contains(string(ev[2].Before), `"name":"svc"`) || !strings.Contains(string(ev[2].After), `"name":"svc-2"`) {
		t.Errorf("update: before %s after %s", ev[2].Before, ev[2].After)
	}
	if string(ev[9].After) != "null" || !strings.Contains(string(ev[9].Before), `"legacy"`) {
		t.Errorf("delete: before %s after %s", ev[9].Before, ev[9].After)
	}

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []int // indexes into wants
		}{
			{"actor=client:ci-bot", []int{2}},
			{"action=" + auth.ActionSecretRotate, []int{5}},
			{"target_id=legacy", []int{1, 9}},
			{"target_id=" + id + "&actor=client:ops&action=" + auth.ActionClientDisable, []int{3}},
			{"after=" + itoa(ev[7].Seq), []int{8, 9}},
			{"since=" + url.QueryEscape(start.UTC().Format(time.RFC3339)), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{"until=" + url.QueryEscape(start.UTC().Format(time.RFC3339)), []int{}},
			{"since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), []int{}},
		} {
			t.Run(tc.query, func(t *testing.T) {
				var p auditPage
				e.call("GET", "/v1/admin/audit?"+tc.query, "").decode(t, http.StatusOK, &p)
				var got []int64
				for _, ev := range p.Events {
					got = append(got, ev.Seq)
				}
				var w []int64
				for _, i := range tc.want {
					w = append(w, ev[i].Seq)
				}
				if !slices.Equal(got, w) || p.NextAfter != 0 {
					t.Fatalf("seqs %v next_after %d, want %v", got, p.NextAfter, w)
				}
			})
		}
	})

	t.Run("pages", func(t *testing.T) {
		var seqs []int64
		after, pages := int64(0), 0
		for {
			var p auditPage
			e.call("GET", "/v1/admin/audit?limit=4&after="+itoa(after), "").decode(t, http.StatusOK, &p)
			pages++
			for _, ev := range p.Events {
				seqs = append(seqs, ev.Seq)
			}
			if p.NextAfter == 0 {
				break
			}
			if len(p.Events) != 4 || p.NextAfter != p.Events[3].Seq || pages > 3 {
				t.Fatalf("page %d: %s", pages, e.bodies[len(e.bodies)-1])
			}
			after = p.NextAfter
		}
		var want []int64
		for _, ev := range ev {
			want = append(want, ev.Seq)
		}
		if pages != 3 || !slices.Equal(seqs, want) {
			t.Fatalf("%d pages, seqs %v, want %v", pages, seqs, want)
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		for _, tc := range []struct{ query, desc string }{
			{"since=yesterday", "since"},
			{"until=2026-13-01T00:00:00Z", "until"},
			{"since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "since"},
			{"after=-1", "after"},
			{"after=x", "after"},
			{"limit=0", "limit"},
			{"limit=5000", "limit"},
			{"client_id=x", `"client_id"`},
		} {
			e.call("GET", "/v1/admin/audit?"+tc.query, "").wantError(t, 400, "invalid_request", tc.desc)
		}
	})

	t.Run("not editable", func(t *testing.T) {
		for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
			r := e.call(m, "/v1/admin/audit", `{"seq":1}`)
			r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", m)
			if allow := r.header.Get("Allow"); allow != "GET, HEAD" {
				t.Errorf("%s: Allow %q", m, allow)
			}
		}
		for _, m := range []string{"PUT", "PATCH", "DELETE"} {
			e.call(m, "/v1/admin/audit/"+itoa(ev[0].Seq), "").wantError(t, http.StatusNotFound, "not_found")
		}
		var again auditPage
		e.call("GET", "/v1/admin/audit", "").decode(t, http.StatusOK, &again)
		if len(again.Events) != len(wants) || again.Events[0].Seq != ev[0].Seq {
			t.Fatal("the audit trail changed")
		}
	})

	// No response ever showed a secret hash; secrets in clear appeared only
	// in the answer that made them.
	if len(hashes) != 3 { // the first secret, the imported one, the rotated one
		t.Fatalf("collected %d hashes", len(hashes))
	}
	for i, b := range e.bodies {
		s := string(b)
		for h := range hashes {
			if strings.Contains(s, h) || strings.Contains(s, hashBody(h)) {
				t.Fatalf("response %d shows the secret hash %s: %s", i, h, s)
			}
		}
		if strings.Contains(s, "sha256:") || strings.Contains(s, "$argon2id$") || strings.Contains(s, "S3cureP@ssw0rd!") {
			t.Fatalf("response %d shows a secret hash: %s", i, s)
		}
		n := 0
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("response %d shows %d secrets", i, n)
		}
	}
	for _, sec := range secrets {
		n := 0
		for _, b := range e.bodies {
			if strings.Contains(string(b), sec) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("a secret appears in %d responses, want only the one that made it", n)
		}
	}
}

// hashBody is the part of an encoded hash after its scheme, in case a
// response showed it without the prefix.
func hashBody(h string) string {
	if i := strings.LastIndexAny(h, ":$"); i >= 0 && len(h)-i > 16 {
		return h[i+1:]
	}
	return h
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAdminRoutes(t *testing.T) {
	e := newAdminEnv(t, true)
	id := e.create(`{"name":"svc"}`).Client.ClientID
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"PUT", "/v1/admin/clients", "GET, HEAD, POST"},
		{"DELETE", "/v1/admin/clients", "GET, HEAD, POST"},
		{"POST", "/v1/admin/clients/" + id, "GET, HEAD, PATCH, DELETE"},
		{"PUT", "/v1/admin/clients/" + id, "GET, HEAD, PATCH, DELETE"},
		{"GET", "/v1/admin/clients/" + id + "/disable", "POST"},
		{"DELETE", "/v1/admin/clients/" + id + "/enable", "POST"},
		{"GET", "/v1/admin/clients/" + id + "/rotate-secret", "POST"},
		{"PUT", "/v1/admin/clients/" + id + "/revoke-secret", "POST"},
		{"GET", "/v1/admin/clients/" + id + "/revoke-tokens", "POST"},
		{"POST", "/v1/admin/keys", "GET, HEAD"},
		{"DELETE", "/v1/admin/keys", "GET, HEAD"},
		{"GET", "/v1/admin/keys/rotate", "POST"},
		{"PATCH", "/v1/admin/audit", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.call(tc.method, tc.path, "")
			r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", tc.method, tc.allow)
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	for _, p := range []string{"/v1/admin/", "/v1/admin/nothing", "/v1/admin/clients/" + id + "/secrets", "/v1/admin/clients/", "/v1/admin/keys/current"} {
		t.Run("GET "+p, func(t *testing.T) {
			e.call("GET", p, "").wantError(t, http.StatusNotFound, "not_found", p)
		})
	}
	if c, err := e.db.Client(t.Context(), id); err != nil || c.Disabled || len(c.Secrets) != 1 {
		t.Fatalf("a refused request changed the client: %+v %v", c, err)
	}
}
