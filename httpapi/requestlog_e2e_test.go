package httpapi_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"sync"
	"testing"

	"github.com/gooclaim/auth"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writes, as
// RequestLogJSON's writer must be.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

var logTime = regexp.MustCompile(`^\{"time":"[^"]*"`)

// TestRequestLogJSONSameLine: with RequestLogJSON the request's line is the
// one slog writes without it, but for the time; with the logger above INFO
// there is none, as through slog.
func TestRequestLogJSONSameLine(t *testing.T) {
	st := newStackOf(t, auth.EdDSA, 1)
	id, secret := st.creds[0][0], st.creds[0][1]
	for _, enc := range []struct {
		name string
		enc  encoding
	}{{"form", formRequest}, {"json", jsonRequest}, {"basic", basicRequest}} {
		var viaSlog, direct lockedBuffer
		serve(t, st.server(slog.New(slog.NewJSONHandler(&viaSlog, nil)), nil), enc.enc(id, secret))
		h := slog.NewJSONHandler(&direct, nil)
		serve(t, st.server(slog.New(h), &direct), enc.enc(id, secret))
		a := logTime.ReplaceAllString(viaSlog.b.String(), `{"time":"T"`)
		b := logTime.ReplaceAllString(direct.b.String(), `{"time":"T"`)
		// The jti and duration differ from one token to the next.
		norm := regexp.MustCompile(`"(jti|duration_ms)":("[^"]*"|[0-9.]+)`)
		a, b = norm.ReplaceAllString(a, `"$1":X`), norm.ReplaceAllString(b, `"$1":X`)
		if a != b || a == "" {
			t.Errorf("%s: the direct line differs from slog's:\nslog   %s\ndirect %s", enc.name, a, b)
		}
		if !logTime.MatchString(direct.b.String()) {
			t.Errorf("%s: no time in %s", enc.name, direct.b.String())
		}
	}
	var quiet lockedBuffer
	serve(t, st.server(slog.New(slog.NewJSONHandler(&quiet, &slog.HandlerOptions{Level: slog.LevelWarn})), &quiet), formRequest(id, secret))
	if quiet.b.Len() != 0 {
		t.Errorf("a line with the logger at WARN: %s", quiet.b.String())
	}
}
