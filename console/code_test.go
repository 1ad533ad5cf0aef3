package console_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/console"
)

var (
	key   = bytes.Repeat([]byte{7}, 32)
	other = bytes.Repeat([]byte{8}, 32)
	now   = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func TestCodeRoundTrip(t *testing.T) {
	code, err := console.NewCode(key, "cli:alice", "", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.VerifyCode(key, code, now.Add(59*time.Second))
	if err != nil {
		t.Fatalf("VerifyCode: %v", err)
	}
	if c.CreatedBy != "cli:alice" || c.Page != "overview" || len(c.JTI) != 22 || !c.ExpiresAt().Equal(now.Add(console.CodeTTL)) {
		t.Errorf("code = %+v", c)
	}
	keys, _ := console.NewCode(key, "cli:alice", "keys", now)
	if c, err := console.VerifyCode(key, keys, now); err != nil || c.Page != "keys" {
		t.Errorf("page keys: %+v, %v", c, err)
	}
	if _, err := console.NewCode(key, "cli:alice", "secrets", now); err == nil {
		t.Error("a code for an unknown page was made")
	}
	again, _ := console.NewCode(key, "cli:alice", "", now)
	if again == code {
		t.Error("two codes are equal: the jti is not random")
	}
}

func TestCodeRefusals(t *testing.T) {
	code, err := console.NewCode(key, "cli:alice", "", now)
	if err != nil {
		t.Fatal(err)
	}
	p, sig, _ := strings.Cut(code, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"x","exp":99999999999,"created_by":"cli:mallory"}`))
	flip := []byte(p)
	flip[3] ^= 1
	for _, tc := range []struct {
		name, code string
		key        []byte
		at         time.Time
	}{
		{"expired", code, key, now.Add(console.CodeTTL)},
		{"long expired", code, key, now.Add(time.Hour)},
		{"wrong key", code, other, now},
		{"short key", code, key[:16], now},
		{"payload tampered", string(flip) + "." + sig, key, now},
		{"payload replaced", forged + "." + sig, key, now},
		{"mac truncated", p + "." + sig[:len(sig)-2], key, now},
		{"no mac", p, key, now},
		{"empty", "", key, now},
		{"too long", code + strings.Repeat("A", console.MaxCodeLength), key, now},
		{"not base64", "!!!." + sig, key, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := console.VerifyCode(tc.key, tc.code, tc.at); !errors.Is(err, console.ErrInvalidCode) {
				t.Errorf("VerifyCode = %v, want ErrInvalidCode", err)
			}
		})
	}
}

func TestNewCodeBounds(t *testing.T) {
	if _, err := console.NewCode(key[:31], "cli:alice", "", now); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	if _, err := console.NewCode(key, "cli:"+strings.Repeat("a", 400), "", now); err == nil {
		t.Error("a code longer than MaxCodeLength was made")
	}
}
