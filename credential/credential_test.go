package credential

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	auth "github.com/gooclaim/gooclaim-auth"
)

func TestNewClientIDAndSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, s := NewClientID(), NewSecret()
		if !strings.HasPrefix(id, ClientIDPrefix) || len(id) != len(ClientIDPrefix)+20 {
			t.Fatalf("client id %q: want %q and 20 characters", id, ClientIDPrefix)
		}
		if !strings.HasPrefix(s, SecretPrefix) || len(s) != len(SecretPrefix)+43 {
			t.Fatalf("secret %q: want %q and 43 base64url characters (256 bits)", s, SecretPrefix)
		}
		if seen[id] || seen[s] {
			t.Fatal("a generated value repeated")
		}
		seen[id], seen[s] = true, true
	}
}

func TestVerifyGenerated(t *testing.T) {
	v := NewVerifier()
	now := time.Now()
	secret := NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: HashGenerated(secret)}}}
	if !v.Verify(c, secret, now) {
		t.Fatal("the right secret was refused")
	}
	for _, wrong := range []string{"", secret + "x", secret[:len(secret)-1], strings.ToUpper(secret)} {
		if v.Verify(c, wrong, now) {
			t.Fatalf("wrong secret %q accepted", wrong)
		}
	}
	if v.Verify(nil, secret, now) {
		t.Fatal("unknown client accepted")
	}
}

func TestVerifyImportedRemembersAfterSuccess(t *testing.T) {
	v := NewVerifier()
	now := time.Now()
	hash, err := HashImported("S3cureP@ssw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || KindOf(hash) != KindArgon2id {
		t.Fatalf("hash %q is not a PHC argon2id string", hash)
	}
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: hash}}}
	if v.Verify(c, "S3cureP@ssw0rd", now) {
		t.Fatal("wrong secret accepted before remembering")
	}
	if len(v.remembered) != 0 {
		t.Fatal("a failed check was remembered")
	}
	if !v.Verify(c, "S3cureP@ssw0rd!", now) {
		t.Fatal("right secret refused")
	}
	if len(v.remembered) != 1 {
		t.Fatal("a successful slow check was not remembered")
	}
	for k := range v.remembered {
		if unsafe.StringData(k) == unsafe.StringData(hash) {
			t.Fatal("the remembered key shares the client's memory; it would keep a replica chunk alive")
		}
	}
	if !v.Verify(c, "S3cureP@ssw0rd!", now) || v.Verify(c, "S3cureP@ssw0rd?", now) {
		t.Fatal("remembered check gives the wrong answer")
	}
}

func TestVerifyExpiredAndSeveralSecrets(t *testing.T) {
	v := NewVerifier()
	now := time.Now()
	oldS, newS := NewSecret(), NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{
		{ID: "old", Hash: HashGenerated(oldS), ExpiresAt: now.Add(time.Hour)},
		{ID: "new", Hash: HashGenerated(newS)},
	}}
	if !v.Verify(c, oldS, now) || !v.Verify(c, newS, now) {
		t.Fatal("both live secrets must work during a grace period")
	}
	if v.Verify(c, oldS, now.Add(time.Hour)) {
		t.Fatal("an expired secret was accepted")
	}
}

func TestTamperedArgon2Refused(t *testing.T) {
	for _, h := range []string{
		"$argon2id$v=19$m=999999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		"$argon2id$garbage",
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
	} {
		if argon2Equal("x", h) {
			t.Fatalf("%q accepted", h)
		}
	}
}

func TestCheckImported(t *testing.T) {
	for _, bad := range []string{"", "a\n", "a\x00b", strings.Repeat("a", 1025), "\xff"} {
		if CheckImported(bad) == nil {
			t.Errorf("CheckImported(%q) accepted", bad)
		}
	}
	if err := CheckImported("S3cureP@ssw0rd!"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerifyGenerated(b *testing.B) {
	v := NewVerifier()
	s := NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: HashGenerated(s)}}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(c, s, now)
	}
}
