package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/redis"
)

// testClient returns a client for the test Redis (authtest.RedisURL: the
// test is skipped without one, outside CI), closed when the test ends.
func testClient(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	c, err := redis.ParseURL(authtest.RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix no other test uses, and deletes its keys
// when the test ends (before c is closed, if c was made earlier in the test).
func testPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	prefix := "gooclaim:test:" + rand.Text() + ":"
	tb.Cleanup(func() {
		if err := deletePrefix(c, prefix); err != nil {
			tb.Errorf("delete the test keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

func deletePrefix(c goredis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// logLines collects a logger's output.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogger() (*slog.Logger, *logLines) {
	l := new(logLines)
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many lines are at level and contain msg.
func (l *logLines) count(level slog.Level, msg string) int {
	n := 0
	for line := range strings.Lines(l.String()) {
		if strings.Contains(line, "level="+level.String()+" ") && strings.Contains(line, msg) {
			n++
		}
	}
	return n
}

func TestParseURL(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c, err := redis.ParseURL("redis://:pw@127.0.0.1:6390/2")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		o := c.(*goredis.Client).Options()
		want := goredis.Options{Addr: "127.0.0.1:6390", Password: "pw", DB: 2,
			DialTimeout: time.Second, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
			PoolSize: 10, PoolTimeout: time.Second, MaxRetries: 1, ContextTimeoutEnabled: true}
		got := goredis.Options{Addr: o.Addr, Password: o.Password, DB: o.DB,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
			PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout, MaxRetries: o.MaxRetries, ContextTimeoutEnabled: o.ContextTimeoutEnabled}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("options\n got %+v\nwant %+v", got, want)
		}
		if o.TLSConfig != nil {
			t.Error("TLS for redis://")
		}
	})
	t.Run("the URL's settings win", func(t *testing.T) {
		c, err := redis.ParseURL("rediss://u:pw@example.com/0?dial_timeout=3s&read_timeout=2s&pool_size=50&max_retries=-1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		o := c.(*goredis.Client).Options()
		if o.DialTimeout != 3*time.Second || o.ReadTimeout != 2*time.Second || o.PoolSize != 50 || o.MaxRetries != 0 {
			t.Errorf("dial %v read %v pool %d retries %d; want 3s 2s 50 0", o.DialTimeout, o.ReadTimeout, o.PoolSize, o.MaxRetries)
		}
		if o.TLSConfig == nil || o.TLSConfig.ServerName != "example.com" {
			t.Errorf("TLS config %+v; want one for example.com", o.TLSConfig)
		}
	})
	t.Run("errors never show the password", func(t *testing.T) {
		for _, u := range []string{
			"redis://:s3cretPW@host:bad/0",
			"redis://:s3cretPW@host/notadb",
			"redis://user:s3cretPW@host/0/1",
			"redis://:s3cretPW@host/0?bogus=1",
			"redis://:s3cretPW@host/0?dial_timeout=xyz",
			"redis://:s3cretPW@host/s3cretPW",
			"http://:s3cretPW@host/0",
			"unix://:s3cretPW@/tmp/redis.sock",
			"redis://:s3cret%zzPW@host/0",
			"redis://:s3cret#PW@host/0",
			"redis://:12#s3cretPW@host/0",
			"redis://:12/s3cretPW@host/0",
			"redis://:12?s3cretPW@host/0",
			"redis://user:s3cretPW@[::1/0",
		} {
			c, err := redis.ParseURL(u)
			if err == nil {
				c.Close()
				t.Errorf("ParseURL(%q): no error", u)
				continue
			}
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				if s := fmt.Sprintf("%v %+v %#v", e, e, e); strings.Contains(s, "s3cret") || strings.Contains(s, "PW") {
					t.Errorf("ParseURL(%q): the error shows the password: %s", u, s)
				}
			}
			t.Logf("%s: %v", u, err)
		}
	})
}
