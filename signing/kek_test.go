package signing_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gooclaim/auth/signing"
)

func TestParseKEK(t *testing.T) {
	key := make([]byte, 32)
	// Bytes that make the standard and URL alphabets differ (+/ vs -_).
	for i := range key {
		key[i] = byte(0xfb + i)
	}
	std := base64.StdEncoding.EncodeToString(key)
	if !strings.ContainsAny(std, "+/") {
		t.Fatalf("test key %q does not exercise the alphabets", std)
	}
	want := mustParseKEK(t, []byte(std)).Fingerprint()

	good := []struct{ name, text string }{
		{"std padded", std},
		{"std unpadded", strings.TrimRight(std, "=")},
		{"url padded", base64.URLEncoding.EncodeToString(key)},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(key)},
		{"newline", std + "\n"},
		{"crlf and spaces", "  " + std + "\r\n"},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			kek, err := signing.ParseKEK([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := kek.Fingerprint(); got != want {
				t.Errorf("fingerprint %s, want %s: decoded to another key", got, want)
			}
		})
	}

	bad := []struct{ name, text, wantErr string }{
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), "31 bytes, want 32"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key, 0)), "33 bytes, want 32"},
		{"empty", " \n", "empty"},
		{"garbage", "this is not base64 at all!!", "not valid base64"},
		{"mixed alphabets", "+" + base64.RawURLEncoding.EncodeToString(key)[1:], "not valid base64"},
		{"hex", strings.Repeat("ab", 32), "48 bytes, want 32"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.ParseKEK([]byte(tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Errorf("error %q does not say how to make a key", err)
			}
			if len(tc.text) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.text)) {
				t.Errorf("error %q repeats the key text", err)
			}
		})
	}
}

func TestKEKFingerprint(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	text := base64.StdEncoding.EncodeToString(key)
	a, b := mustParseKEK(t, []byte(text)), mustParseKEK(t, []byte(text))
	other := newKEK(t)
	fp := a.Fingerprint()
	if len(fp) != 8 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("fingerprint %q, want 8 hex digits", fp)
	}
	if fp != b.Fingerprint() {
		t.Errorf("same key, fingerprints %s and %s", fp, b.Fingerprint())
	}
	if fp == other.Fingerprint() {
		t.Errorf("different keys, same fingerprint %s", fp)
	}
	if strings.Contains(text, fp) || strings.Contains(base64.StdEncoding.EncodeToString(key[:8]), fp) {
		t.Errorf("fingerprint %s shows the key", fp)
	}
}

func TestSealOpen(t *testing.T) {
	kek := newKEK(t)
	plaintext := []byte("PKCS #8 would go here")
	aad := []byte("kid-1")
	sealed := kek.Seal(plaintext, aad)

	if len(sealed) != 1+12+len(plaintext)+16 {
		t.Errorf("sealed is %d bytes, want version + nonce + ciphertext + tag = %d", len(sealed), 1+12+len(plaintext)+16)
	}
	if bytes.Contains(sealed, plaintext) {
		t.Error("sealed value contains the plaintext")
	}
	if again := kek.Seal(plaintext, aad); bytes.Equal(again, sealed) {
		t.Error("two seals of the same plaintext are equal: nonce not random")
	}
	got, err := kek.Open(sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Errorf("Open = %q, want %q", got, plaintext)
	}

	tampered := func(i int) []byte {
		s := bytes.Clone(sealed)
		s[i] ^= 1
		return s
	}
	fails := []struct {
		name   string
		kek    *signing.KEK
		sealed []byte
		aad    []byte
		want   string
	}{
		{"tampered ciphertext", kek, tampered(1 + 12 + 3), aad, "wrong key-encryption key?"},
		{"tampered tag", kek, tampered(len(sealed) - 1), aad, "wrong key-encryption key?"},
		{"tampered nonce", kek, tampered(1), aad, "wrong key-encryption key?"},
		{"wrong aad", kek, sealed, []byte("kid-2"), "wrong key-encryption key?"},
		{"no aad", kek, sealed, nil, "wrong key-encryption key?"},
		{"wrong KEK", newKEK(t), sealed, aad, "wrong key-encryption key?"},
		{"unknown version", kek, tampered(0), aad, "version"},
		{"truncated", kek, sealed[:20], aad, "too short"},
		{"empty", kek, nil, aad, "too short"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.kek.Open(tc.sealed, tc.aad)
			if err == nil {
				t.Fatalf("Open succeeded: %q", got)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cannot decrypt signing key") {
				t.Errorf("error %q, want one saying %q", err, tc.want)
			}
			if tc.want == "wrong key-encryption key?" && !errors.Is(err, signing.ErrWrongKEK) {
				t.Errorf("error %v is not ErrWrongKEK", err)
			}
		})
	}
}

func TestKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	created, err := signing.CreateKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %#o, want 0600", fi.Mode().Perm())
	}
	text, _ := os.ReadFile(path)
	if len(text) != 45 || text[44] != '\n' {
		t.Errorf("file holds %q, want 44 base64 characters and a newline", text)
	}
	loaded, err := signing.LoadKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != created.Fingerprint() {
		t.Errorf("loaded key %s, created %s", loaded.Fingerprint(), created.Fingerprint())
	}
	sealed := created.Seal([]byte("secret"), nil)
	if _, err := loaded.Open(sealed, nil); err != nil {
		t.Errorf("loaded key cannot open what the created key sealed: %v", err)
	}

	// Never overwritten.
	if _, err := signing.CreateKEKFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateKEKFile over an existing file: %v, want fs.ErrExist", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, text) {
		t.Error("CreateKEKFile changed an existing file")
	}

	// LoadOrCreate loads an existing file, creates a missing one.
	kek, wasCreated, err := signing.LoadOrCreateKEKFile(path)
	if err != nil || wasCreated || kek.Fingerprint() != created.Fingerprint() {
		t.Errorf("LoadOrCreateKEKFile(existing) = %v, %v, %v; want the existing key, false, nil", kek, wasCreated, err)
	}
	path2 := filepath.Join(t.TempDir(), "kek")
	kek, wasCreated, err = signing.LoadOrCreateKEKFile(path2)
	if err != nil || !wasCreated {
		t.Fatalf("LoadOrCreateKEKFile(missing) = %v, %v, %v; want a new key, true, nil", kek, wasCreated, err)
	}
	if again, err := signing.LoadKEKFile(path2); err != nil || again.Fingerprint() != kek.Fingerprint() {
		t.Errorf("LoadKEKFile after LoadOrCreateKEKFile = %v, %v", again, err)
	}
	if _, _, err := signing.LoadOrCreateKEKFile(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Error("LoadOrCreateKEKFile in a missing directory succeeded")
	}
}

func TestLoadKEKFileRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // not subject to umask
			t.Fatal(err)
		}
		return path
	}
	key := make([]byte, 32)
	rand.Read(key)
	good := base64.StdEncoding.EncodeToString(key) + "\n"

	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
			path := write("kek-"+mode.String(), good, mode)
			_, err := signing.LoadKEKFile(path)
			if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("mode %#o: error %v, want one saying to chmod 600 %s", mode, err, path)
			}
		}
		if _, err := signing.LoadKEKFile(write("kek-0400", good, 0o400)); err != nil {
			t.Errorf("mode 0400: %v", err)
		}
	}

	path := write("short", base64.StdEncoding.EncodeToString(key[:31]), 0o600)
	if _, err := signing.LoadKEKFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "31 bytes") {
		t.Errorf("31-byte key file: %v, want an error naming the file and the length", err)
	}
	if _, err := signing.LoadKEKFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := signing.LoadKEKFile(dir); err == nil {
		t.Error("LoadKEKFile(a directory) succeeded")
	}
}

func newKEK(t testing.TB) *signing.KEK {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return mustParseKEK(t, []byte(base64.StdEncoding.EncodeToString(key)))
}

func mustParseKEK(t testing.TB, text []byte) *signing.KEK {
	t.Helper()
	kek, err := signing.ParseKEK(text)
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func TestKEKDerive(t *testing.T) {
	a := newKEK(t)
	b := newKEK(t)
	if bytes.Equal(a.Derive("x"), a.Derive("y")) {
		t.Error("two labels derive the same key")
	}
	if !bytes.Equal(a.Derive("x"), a.Derive("x")) || len(a.Derive("x")) != 32 {
		t.Error("a label does not derive one 32-byte key")
	}
	if bytes.Equal(a.Derive("x"), b.Derive("x")) {
		t.Error("two key-encryption keys derive the same key")
	}
}
