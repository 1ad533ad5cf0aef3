package issuer

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gooclaim/auth"
)

// FuzzAppendClaims checks that appendClaims writes exactly what
// json.Marshal(&claims) does, for any claim values.
func FuzzAppendClaims(f *testing.F) {
	f.Add("http://localhost:8080", "gooclaim_app_abc", "https://api.gooclaim.com", "", "claims:read", int64(1700000000), int64(1700003600), "jti-AbC_-", "", 1, "", 0, "", "", 0)
	f.Add("https://a.example/<x>&y", "id\"\\", "aud\u2028", "aud2", "", int64(0), int64(-1), "", "inc-1", 2, "actor", 1, "", "", 0)
	f.Add("\xff\xfe", "\x00\x1f\x7f", "", "", "s1 s2", int64(1<<62), int64(-1<<63), "é漢🎉", "\b\f\n\r\t", 0, "<\u2028\xff\">", 3, "", "", 0)
	f.Add("i", "s", "a", "b", "c", int64(1), int64(2), "j", "k", -1, "", 2, "", "", 0)
	f.Add("i", "s", "a", "", "", int64(1), int64(2), "j", "", 1, "", 0, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "", 1)
	f.Add("i", "s", "a", "", "", int64(1), int64(2), "j", "", 1, "a", 1, "", "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2", 1)
	f.Add("i", "s", "a", "", "", int64(1), int64(2), "j", "", 1, "", 0, "k\"<", "x\u2028", 1)
	f.Add("i", "s", "a", "", "", int64(1), int64(2), "j", "", 1, "", 0, "", "", 1)
	f.Fuzz(func(t *testing.T, iss, sub, aud1, aud2, scope string, iat, exp int64, jti, inc string, nAud int, actor string, nAct int, jkt, x5t string, nCnf int) {
		var aud auth.Audience
		switch {
		case nAud < 0: // nil
		case nAud == 0:
			aud = auth.Audience{}
		case nAud == 1:
			aud = auth.Audience{aud1}
		default:
			aud = auth.Audience{aud1, aud2}
		}
		c := auth.Claims{Issuer: iss, Subject: sub, Audience: aud, ClientID: sub + "c", Scope: scope,
			IssuedAt: iat, Expiry: exp, JWTID: jti, ClientIncarnation: inc}
		if nCnf > 0 { // a sender-constrained token (RFC 7800)
			c.Cnf = &auth.Confirmation{JKT: jkt, X5TS256: x5t}
		}
		for i := range min(max(nAct, 0), 4) { // a chain of delegations, the latest actor outermost
			c.Act = &auth.Actor{Subject: actor + string(rune('0'+i)), Act: c.Act}
		}
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendClaims(nil, &c); !bytes.Equal(got, want) {
			t.Fatalf("appendClaims:\n got %s\nwant %s", got, want)
		}
	})
}
