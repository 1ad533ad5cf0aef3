package auth

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAuditClientView: the audit view holds every setting, the policies
// and token reuse included (so that a change of a claim, a condition or
// the reuse setting shows in the trail), and never a secret's hash.
func TestAuditClientView(t *testing.T) {
	c := &Client{ID: "c", Name: "C", Scopes: []string{"a"},
		Claims: map[string]string{"tenant": "client.metadata.tenant"}, Condition: `ip_in(request.remote_ip, ["10.0.0.0/8"])`,
		Quotas: []Rate{{Limit: 10, Window: 24 * 60 * 60 * 1e9}}, QuotaMode: QuotaWarn, TokenReuse: ReuseOff,
		Secrets: []Secret{{ID: "s1", Hash: "sha256:c2VjcmV0LWhhc2g"}}}
	raw := AuditClientView(c)
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if claims, _ := v["claims"].(map[string]any); claims["tenant"] != "client.metadata.tenant" {
		t.Errorf("claims: %v", v["claims"])
	}
	if v["condition"] != `ip_in(request.remote_ip, ["10.0.0.0/8"])` || v["quota_mode"] != "warn" {
		t.Errorf("condition %v, quota_mode %v", v["condition"], v["quota_mode"])
	}
	if v["token_reuse"] != "off" {
		t.Errorf("token_reuse %v; want off", v["token_reuse"])
	}
	if _, ok := mapOf(t, AuditClientView(&Client{ID: "c"}))["token_reuse"]; ok {
		t.Error("the audit view of a client that follows the server's token reuse setting has token_reuse; want it left out, as before the setting existed")
	}
	if strings.Contains(string(raw), "c2VjcmV0LWhhc2g") {
		t.Errorf("the audit view holds a secret's hash: %s", raw)
	}
}

func mapOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
