package testservices

import (
	"net"
	"strings"
	"testing"
)

func TestRequireService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reachable := "postgres://user:s3cret@" + ln.Addr().String() + "/test?sslmode=disable"
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "postgres://user:s3cret@" + closed.Addr().String() + "/test"
	closed.Close()

	const envVar, example = "GOOCLAIM_TEST_X_URL", "postgres://127.0.0.1/test"
	tests := []struct {
		name       string
		env        map[string]string
		url        string
		skip       bool
		fatal      bool
		msgContain string
	}{
		{"no URL, no CI: skip", map[string]string{}, "", true, false, "set " + envVar + "=" + example + " to run the X tests"},
		{"no URL, CI: fatal", map[string]string{"CI": "true"}, "", false, true, "CI is set but " + envVar + " is not"},
		{"unreachable, CI: fatal", map[string]string{"CI": "1", envVar: unreachable}, "", false, true, "is unreachable"},
		{"unreachable, no CI: skip", map[string]string{envVar: unreachable}, "", true, false, "is unreachable"},
		{"reachable: the URL", map[string]string{envVar: reachable}, reachable, false, false, ""},
		{"reachable, CI: the URL", map[string]string{"CI": "true", envVar: reachable}, reachable, false, false, ""},
		{"a Unix socket: the URL, untried", map[string]string{"CI": "true", envVar: "postgres:///test?host=/run/postgresql"},
			"postgres:///test?host=/run/postgresql", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, skip, fatal := requireService(func(k string) string { return tt.env[k] }, "X", envVar, example)
			if url != tt.url || (skip != "") != tt.skip || (fatal != "") != tt.fatal {
				t.Fatalf("requireService = %q, skip %q, fatal %q; want %q, skip %v, fatal %v", url, skip, fatal, tt.url, tt.skip, tt.fatal)
			}
			msg := skip + fatal
			if !strings.Contains(msg, tt.msgContain) {
				t.Errorf("message %q; want it to contain %q", msg, tt.msgContain)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("message %q shows the password", msg)
			}
		})
	}
}

func TestServiceAddr(t *testing.T) {
	tests := map[string]string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable": "127.0.0.1:5432",
		"postgresql://db.example.com/test":                        "db.example.com:5432",
		"postgres://u:p@[::1]/test":                               "[::1]:5432",
		"redis://127.0.0.1:6379/0":                                "127.0.0.1:6379",
		"redis://cache/0":                                         "cache:6379",
		"postgres:///test?host=/run/postgresql":                   "",
		"host=127.0.0.1 dbname=test":                              "",
	}
	for in, want := range tests {
		if got := serviceAddr(in); got != want {
			t.Errorf("serviceAddr(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestMissing: the one rule, for the shared servers and the private ones
// alike: skip, or with CI set (to anything) fail.
func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		env         map[string]string
		skip, fatal string
	}{
		{map[string]string{}, "s", ""},
		{map[string]string{"CI": ""}, "s", ""},
		{map[string]string{"CI": "true"}, "", "f"},
		{map[string]string{"CI": "1"}, "", "f"},
	} {
		skip, fatal := missing(func(k string) string { return tc.env[k] }, "s", "f")
		if skip != tc.skip || fatal != tc.fatal {
			t.Errorf("env %v: skip %q, fatal %q; want %q, %q", tc.env, skip, fatal, tc.skip, tc.fatal)
		}
	}
}
