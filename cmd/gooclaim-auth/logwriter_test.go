package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogWriterBuffersInfoAndFlushesWarnings(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, time.Hour)
	logger := slog.New(flushingHandler{slog.NewJSONHandler(lw, nil), lw})
	logger.Info("request")
	if out.String() != "" {
		t.Fatal("an info line was written at once")
	}
	logger.Warn("trouble")
	if s := out.String(); !strings.Contains(s, "request") || !strings.Contains(s, "trouble") {
		t.Fatalf("a warning did not flush: %q", s)
	}
	logger.Info("last")
	lw.Close()
	if !strings.Contains(out.String(), "last") {
		t.Fatal("Close lost buffered lines")
	}

	var timed syncBuffer
	lw = newLogWriter(&timed, 10*time.Millisecond)
	defer lw.Close()
	slog.New(slog.NewJSONHandler(lw, nil)).Info("soon")
	waitUntil(t, func() bool { return strings.Contains(timed.String(), "soon") })
}
