package admin_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeyViews: the CLI and the admin API print the same JSON for keys, as
// the OpenAPI document's Key, NewKey and RevokedKey describe it.
func TestKeyViews(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k := auth.Key{ID: "k1", Algorithm: auth.ES256, CreatedAt: at, SigningFrom: at.Add(10 * time.Minute),
		Sealed: []byte("sealed"), Public: []byte("public")}
	retired := issuer.KeyStatus{Key: k, State: issuer.KeyRetired, RetiredAt: at.Add(time.Hour), PublishedTil: at.Add(2 * time.Hour)}

	if got := admin.ViewKeys(nil); got == nil || len(got) != 0 {
		t.Errorf("ViewKeys(nil) = %#v, want an empty list", got)
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"Key", admin.ViewKeys([]issuer.KeyStatus{{Key: k, State: issuer.KeyNext}, retired}),
			`[{"kid":"k1","alg":"ES256","state":"next","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z"},` +
				`{"kid":"k1","alg":"ES256","state":"retired","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z",` +
				`"retired_at":"2026-01-02T04:04:05Z","published_until":"2026-01-02T05:04:05Z"}]`},
		{"NewKey", admin.ViewNewKey(k),
			`{"kid":"k1","alg":"ES256","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z"}`},
		{"RevokedKey", admin.ViewRevokedKey(issuer.RevokedKey{Key: k, State: issuer.KeyActive, Replacement: &k}, "stolen"),
			`{"revoked":{"kid":"k1","alg":"ES256","state":"active","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z"},` +
				`"replacement":{"kid":"k1","alg":"ES256","state":"active","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z"},"reason":"stolen"}`},
		{"RevokedKey without replacement or reason", admin.ViewRevokedKey(issuer.RevokedKey{Key: k, State: issuer.KeyNext}, ""),
			`{"revoked":{"kid":"k1","alg":"ES256","state":"next","created_at":"2026-01-02T03:04:05Z","signing_from":"2026-01-02T03:14:05Z"}}`},
	} {
		if got := marshal(t, tc.v); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestAuditEventViews: every member present but an empty source, the time
// in UTC, before and after null when missing or unreadable.
func TestAuditEventViews(t *testing.T) {
	if got := admin.ViewAuditEvents(nil); got == nil || len(got) != 0 {
		t.Errorf("ViewAuditEvents(nil) = %#v, want an empty list", got)
	}
	at := time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))
	got := marshal(t, admin.ViewAuditEvents([]auth.AuditEvent{
		{Seq: 1, At: at, Actor: "cli:ops", Action: auth.ActionClientCreate, TargetKind: "client", TargetID: "app", After: json.RawMessage(`{"name":"app"}`)},
		{Seq: 2, At: at, Actor: "system", Action: auth.ActionKeysRotate, TargetKind: "keys", TargetID: "k1", Before: json.RawMessage(`{`)},
		{Seq: 3, At: at, Actor: "client:ops", Action: auth.ActionIssuerDelete, TargetKind: "issuer", TargetID: "k8s", Source: "sha256:ab via client:ops"},
	}))
	want := `[{"seq":1,"at":"2026-01-02T03:04:05Z","actor":"cli:ops","action":"client.create","target_kind":"client","target_id":"app","remote_addr":"","before":null,"after":{"name":"app"}},` +
		`{"seq":2,"at":"2026-01-02T03:04:05Z","actor":"system","action":"keys.rotate","target_kind":"keys","target_id":"k1","remote_addr":"","before":null,"after":null},` +
		`{"seq":3,"at":"2026-01-02T03:04:05Z","actor":"client:ops","action":"issuer.delete","target_kind":"issuer","target_id":"k8s","remote_addr":"","source":"sha256:ab via client:ops","before":null,"after":null}]`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
