package credential

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gooclaim/auth"
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
	v := NewVerifier(0)
	now := time.Now()
	secret := NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: HashGenerated(secret)}}}
	if !verified(t, v, c, secret, now) {
		t.Fatal("the right secret was refused")
	}
	for _, wrong := range []string{"", secret + "x", secret[:len(secret)-1], strings.ToUpper(secret)} {
		if verified(t, v, c, wrong, now) {
			t.Fatalf("wrong secret %q accepted", wrong)
		}
	}
	if verified(t, v, nil, secret, now) {
		t.Fatal("unknown client accepted")
	}
}

func TestVerifyImportedRemembersAfterSuccess(t *testing.T) {
	v := NewVerifier(0)
	now := time.Now()
	hash, err := HashImported("S3cureP@ssw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || KindOf(hash) != KindArgon2id {
		t.Fatalf("hash %q is not a PHC argon2id string", hash)
	}
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: hash}}}
	if verified(t, v, c, "S3cureP@ssw0rd", now) {
		t.Fatal("wrong secret accepted before remembering")
	}
	if len(v.remembered) != 0 {
		t.Fatal("a failed check was remembered")
	}
	if !verified(t, v, c, "S3cureP@ssw0rd!", now) {
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
	if !verified(t, v, c, "S3cureP@ssw0rd!", now) || verified(t, v, c, "S3cureP@ssw0rd?", now) {
		t.Fatal("remembered check gives the wrong answer")
	}
}

func TestVerifyExpiredAndSeveralSecrets(t *testing.T) {
	v := NewVerifier(0)
	now := time.Now()
	oldS, newS := NewSecret(), NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{
		{ID: "old", Hash: HashGenerated(oldS), ExpiresAt: now.Add(time.Hour)},
		{ID: "new", Hash: HashGenerated(newS)},
	}}
	if !verified(t, v, c, oldS, now) || !verified(t, v, c, newS, now) {
		t.Fatal("both live secrets must work during a grace period")
	}
	if verified(t, v, c, oldS, now.Add(time.Hour)) {
		t.Fatal("an expired secret was accepted")
	}
}

// verified is Verify for the tests that expect no error.
func verified(t *testing.T, v *Verifier, c *auth.Client, secret string, now time.Time) bool {
	t.Helper()
	ok, err := v.Verify(c, secret, now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return ok
}

// TestVerifyImportedBusy: when as many argon2id checks run as allowed, a
// check that needs another is refused at once with ErrBusy; generated
// secrets and remembered imported ones need no slot and are not.
func TestVerifyImportedBusy(t *testing.T) {
	v := NewVerifier(1)
	now := time.Now()
	hash, err := HashImported("S3cureP@ssw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	imported := &auth.Client{ID: "imp", Secrets: []auth.Secret{{ID: "a", Hash: hash}}}
	gen := NewSecret()
	generated := &auth.Client{ID: "gen", Secrets: []auth.Secret{{ID: "a", Hash: HashGenerated(gen)}}}

	v.slow <- struct{}{} // the one slot is taken, as by a check running
	if ok, err := v.Verify(imported, "wrong guess", now); ok || !errors.Is(err, ErrBusy) {
		t.Fatalf("an argon2id check with every slot taken: %v, %v; want false, ErrBusy", ok, err)
	}
	if !verified(t, v, generated, gen, now) {
		t.Fatal("a generated secret was refused while argon2id checks are busy")
	}
	<-v.slow
	if !verified(t, v, imported, "S3cureP@ssw0rd!", now) {
		t.Fatal("the imported secret after the slot was freed")
	}
	v.slow <- struct{}{}
	defer func() { <-v.slow }()
	if !verified(t, v, imported, "S3cureP@ssw0rd!", now) {
		t.Fatal("a remembered imported secret needs no slot, yet was refused")
	}
	if ok, err := v.Verify(imported, "another guess", now); ok || err != nil {
		t.Fatalf("a wrong guess once the secret is remembered: %v, %v; want false from memory, no slot needed", ok, err)
	}
	if v.MaxSlowChecks() != 1 || NewVerifier(0).MaxSlowChecks() != runtime.GOMAXPROCS(0) {
		t.Fatalf("MaxSlowChecks %d and %d by default; want 1 and GOMAXPROCS", v.MaxSlowChecks(), NewVerifier(0).MaxSlowChecks())
	}
}

// TestVerifyImportedSharesIdenticalChecks: a check of the same secret
// against the same hash as one already running waits for its answer
// instead of starting a second argon2id computation (or being refused for
// want of a slot).
func TestVerifyImportedSharesIdenticalChecks(t *testing.T) {
	v := NewVerifier(1)
	now := time.Now()
	hash, err := HashImported("S3cureP@ssw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{ID: "imp", Secrets: []auth.Secret{{ID: "a", Hash: hash}}}
	// A check of this very secret is under way and holds the only slot.
	mac := v.mac("S3cureP@ssw0rd!")
	running := &slowCall{done: make(chan struct{})}
	v.inflight[hash+string(mac[:])] = running
	v.slow <- struct{}{}

	results := make(chan bool, 3)
	for range 3 {
		go func() {
			ok, err := v.Verify(c, "S3cureP@ssw0rd!", now)
			results <- ok && err == nil
		}()
	}
	select {
	case <-results:
		t.Fatal("a check returned before the one it shares had finished")
	case <-time.After(50 * time.Millisecond):
	}
	running.ok = true // the answer of the shared check, never computed here
	close(running.done)
	for range 3 {
		if !<-results {
			t.Fatal("a waiting check did not get the shared answer")
		}
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
	v := NewVerifier(0)
	s := NewSecret()
	c := &auth.Client{ID: "c", Secrets: []auth.Secret{{ID: "a", Hash: HashGenerated(s)}}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(c, s, now)
	}
}
