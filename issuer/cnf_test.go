package issuer

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gooclaim/auth"
)

// TestAppendClaimsCnf: the cnf claim is written as json.Marshal writes it,
// with either member or both.
func TestAppendClaimsCnf(t *testing.T) {
	for _, cnf := range []*auth.Confirmation{{X5TS256: "abc_-"}, {JKT: "k"}, {JKT: "k", X5TS256: "x"}, {}} {
		c := auth.Claims{Issuer: "i", Subject: "s", Audience: auth.Audience{"a"}, ClientID: "s", JWTID: "j", Cnf: cnf,
			Act: &auth.Actor{Subject: "b"}}
		want, _ := json.Marshal(&c)
		if got := appendClaims(nil, &c); !bytes.Equal(got, want) {
			t.Errorf("appendClaims:\n got %s\nwant %s", got, want)
		}
	}
}
