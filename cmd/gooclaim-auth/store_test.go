package main

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://gooclaim:s3cret@db:5432/gooclaim":                      "postgres://gooclaim:REDACTED@db:5432/gooclaim",
		"postgres://gooclaim:p@ss@db/x?sslmode=verify-full":                "postgres://gooclaim:REDACTED@db/x?sslmode=verify-full",
		"postgres://gooclaim@db/x?password=s3cret&sslmode=disable":         "postgres://gooclaim@db/x?password=REDACTED&sslmode=disable",
		"postgresql://u@db/x?sslmode=verify-full&sslpassword=k&PASSWORD=z": "postgresql://u@db/x?sslmode=verify-full&sslpassword=REDACTED&PASSWORD=REDACTED",
		"redis://:s3cret@redis:6379/0":                                     "redis://:REDACTED@redis:6379/0",
		"rediss://default:s3cret@redis:6380/0":                             "rediss://default:REDACTED@redis:6380/0",
		"postgres://u:pa/ss@db/x?sslmode=disable":                          "postgres://u:REDACTED@db/x?sslmode=disable",
		"redis://redis:6379/0":                                             "redis://redis:6379/0",
		"postgres://u@db/x@y":                                              "postgres://u@db/x@y",
		"./gooclaim-auth.db":                                               "./gooclaim-auth.db",
		"sqlite:/var/lib/a@b.db":                                           "sqlite:/var/lib/a@b.db",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
