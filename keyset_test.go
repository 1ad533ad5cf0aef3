package auth_test

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

func TestDiffKeys(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	k := func(id string) auth.Key {
		return auth.Key{ID: id, Algorithm: auth.ES256, Public: []byte(id), Sealed: []byte("s" + id), CreatedAt: at, SigningFrom: at}
	}
	stored := []auth.Key{k("a"), k("b")}
	ins, rem, err := auth.DiffKeys(stored, []auth.Key{k("b"), k("c")})
	if err != nil || len(ins) != 1 || ins[0].ID != "c" || len(rem) != 1 || rem[0] != "a" {
		t.Fatalf("diff: %v %v %v", ins, rem, err)
	}
	changed := k("a")
	changed.Sealed = []byte("other")
	noTime := k("d")
	noTime.SigningFrom = time.Time{}
	for name, next := range map[string][]auth.Key{
		"changed key":  {changed},
		"empty ID":     {k("")},
		"duplicate ID": {k("c"), k("c")},
		"zero time":    {noTime},
	} {
		if _, _, err := auth.DiffKeys(stored, next); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("%s: err %v, want EINVALID", name, err)
		}
	}
	if ins, rem, err := auth.DiffKeys(stored, auth.CloneKeys(stored)); err != nil || len(ins)+len(rem) != 0 {
		t.Fatalf("no-op diff: %v %v %v", ins, rem, err)
	}
}
