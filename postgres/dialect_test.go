package postgres

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// TestOpenUnreachable needs no server: nothing listens on port 1.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://gooclaim:hunter2@127.0.0.1:1/auth?sslmode=disable", Options{})
	msg := auth.ErrorMessage(err)
	if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(msg, "cannot reach PostgreSQL at 127.0.0.1:1") ||
		!strings.Contains(msg, "check --database") {
		t.Errorf("Open of an unreachable server = %v (message %q); want EUNAVAILABLE, cannot reach", err, msg)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestOpenTimeout connects to a server that accepts connections but never
// answers.
func TestOpenTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = Open(ctx, "postgres://gooclaim:hunter2@"+ln.Addr().String()+"/auth?sslmode=disable", Options{})
	msg := auth.ErrorMessage(err)
	if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(msg, "timed out connecting to PostgreSQL at "+ln.Addr().String()) {
		t.Errorf("Open of a silent server = %v (message %q); want EUNAVAILABLE, timed out", err, msg)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://gooclaim:hunter2@127.0.0.1:notaport/auth", Options{})
	if auth.ErrorCode(err) != auth.EINVALID || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of a bad URL = %v; want EINVALID, without the password", err)
	}

	url := authtest.PostgresURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(url, "/"+cfg.Database, "/gooclaim_missing_database", 1)
	_, err = Open(t.Context(), missing, Options{})
	if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(auth.ErrorMessage(err), "does not exist") {
		t.Errorf("Open of a missing database = %v (message %q); want EUNAVAILABLE, does not exist", err, auth.ErrorMessage(err))
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"postgres://u:hunter2@db:5432/auth?sslmode=disable": "postgres://u:xxxxx@db:5432/auth?sslmode=disable",
		"postgres://u@db/auth":                              "postgres://u@db/auth",
		"postgres://u@db/auth?password=hunter2":             "postgres://u@db/auth?password=xxxxx",
		"host=db user=u password=hunter2 dbname=auth":       "host=db user=u password=xxxxx dbname=auth",
		"host=db password = 'hun ter2' dbname=auth":         "host=db password = xxxxx dbname=auth",
		"postgres://u:hunter2@db:notaport/auth":             "postgres://u:xxxxx@db:notaport/auth",
		"postgresql://u:hun%40ter2@db/auth?sslmode=require": "postgresql://u:xxxxx@db/auth?sslmode=require",
	}
	for in, want := range tests {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q; want %q", in, got, want)
		}
	}
}
