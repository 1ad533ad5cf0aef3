package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/signing"
)

// fleet is several nodes over one PostgreSQL schema and one Redis prefix,
// each with its own listener, replica, key ring and limiters — as separate
// processes would be.
type fleet struct {
	g      *globalFlags
	prefix string
	nodes  []*testServer
}

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newFleetGlobals makes a PostgreSQL schema, a Redis prefix and a
// key-encryption key for a fleet, all removed when the test ends.
func newFleetGlobals(t *testing.T) (*globalFlags, string) {
	t.Helper()
	pgURL, redisURL := authtest.PostgresURL(t), authtest.RedisURL(t)
	schema := "gooclaim_fleet_" + randomName()
	prefix := "gooclaim:test:" + randomName() + ":"
	kekPath := filepath.Join(t.TempDir(), "kek")
	if _, err := signing.CreateKEKFile(kekPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, pgURL); err == nil {
			conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
			conn.Close(ctx)
		}
		opt, err := goredis.ParseURL(redisURL)
		if err != nil {
			return
		}
		rc := goredis.NewClient(opt)
		defer rc.Close()
		iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
	})
	return &globalFlags{database: pgURL, postgresSchema: schema, kekFile: kekPath}, prefix
}

func startFleet(t *testing.T, n int, clock *authtest.Clock, configure ...func(*serveConfig)) *fleet {
	t.Helper()
	g, prefix := newFleetGlobals(t)
	f := &fleet{g: g, prefix: prefix}
	redisURL := authtest.RedisURL(t)
	// Nodes start together, as after a deploy: migrations and the first key
	// must come out once.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var clk = clock
			cfg := append([]func(*serveConfig){func(c *serveConfig) {
				c.redisURL, c.redisPrefix = redisURL, prefix
			}}, configure...)
			var node *testServer
			if clk != nil {
				node = startTestNode(t, g, clk, cfg...)
			} else {
				node = startTestNode(t, g, nil, cfg...)
			}
			mu.Lock()
			f.nodes = append(f.nodes, node)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(f.nodes) != n {
		t.FailNow()
	}
	return f
}

// TestThreeNodes: three nodes over one PostgreSQL and one Redis behave as one
// service (issue: scale-out).
func TestThreeNodes(t *testing.T) {
	clock := authtest.NewClock(time.Now().Truncate(time.Millisecond))
	f := startFleet(t, 3, clock)
	a, b, c := f.nodes[0], f.nodes[1], f.nodes[2]
	if keys, _ := a.srv.Store().Keys(context.Background()); len(keys) != 1 {
		t.Fatalf("three nodes starting together made %d keys, want 1", len(keys))
	}
	id, secret := a.createClient("--name", "fleet", "--scope", "claims:read")
	for _, n := range f.nodes {
		n.waitForClient(id, true)
	}
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret

	t.Run("token from A verifies with the JWKS of C", func(t *testing.T) {
		tok := a.form(body).token(t)
		parsed, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		jwks := fetchJWKS(t, c)
		keys := jwks.Key(parsed.Signatures[0].Protected.KeyID)
		if len(keys) != 1 {
			t.Fatal("node C's JWKS lacks node A's signing key")
		}
		if _, err := parsed.Verify(keys[0].Key); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("90 requests over three nodes, exactly 60 accepted", func(t *testing.T) {
		other, otherSecret := b.createClient("--name", "burst", "--scope", "claims:read")
		for _, n := range f.nodes {
			n.waitForClient(other, true)
		}
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		for i := range 90 {
			node := f.nodes[i%3]
			wg.Go(func() {
				switch r := node.form("grant_type=client_credentials&client_id=" + other + "&client_secret=" + otherSecret); r.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					t.Errorf("status %d: %s", r.StatusCode, r.body)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 60 || limited.Load() != 30 {
			t.Fatalf("%d accepted and %d limited, want 60 and 30", ok.Load(), limited.Load())
		}
		for _, n := range f.nodes {
			if st := n.srv.Health().RateLimiter.Backend; st != "redis" {
				t.Errorf("node limiter backend %q", st)
			}
		}
	})

	t.Run("client disabled through B is refused by A", func(t *testing.T) {
		svc := &admin.Service{Store: b.srv.Replica()}
		start := time.Now()
		if _, err := svc.SetDisabled(context.Background(), id, true); err != nil {
			t.Fatal(err)
		}
		for a.srv.Replica().Lookup(id) == nil || !a.srv.Replica().Lookup(id).Disabled {
			// LISTEN/NOTIFY brings it in milliseconds (logged below); the
			// bound is the poll interval plus slack for a loaded machine.
			if time.Since(start) > waitLimit {
				t.Fatalf("node A did not see the change within %v", waitLimit)
			}
			time.Sleep(time.Millisecond)
		}
		delay := time.Since(start)
		if r := a.form(body); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("node A: status %d for a disabled client", r.StatusCode)
		}
		t.Logf("propagation from node B to node A: %v", delay)
		svc.SetDisabled(context.Background(), id, false)
	})

	t.Run("concurrent rotation from all three nodes yields one new key", func(t *testing.T) {
		before, _ := a.srv.Store().Keys(context.Background())
		clock.Advance(time.Duration(a.cfg.rotationPeriod)) // every node's rotation is now due
		var changed atomic.Int32
		var wg sync.WaitGroup
		for _, n := range f.nodes {
			wg.Go(func() {
				ch, err := n.srv.Keys().Maintain(context.Background())
				if err != nil {
					t.Error(err)
				}
				if ch {
					changed.Add(1)
				}
			})
		}
		wg.Wait()
		after, _ := a.srv.Store().Keys(context.Background())
		if changed.Load() != 1 || len(after) != len(before)+1 {
			t.Fatalf("%d nodes rotated, %d → %d keys; want exactly one new key", changed.Load(), len(before), len(after))
		}
		// The new key is published everywhere before any node signs with it.
		newKid := after[len(after)-1].ID
		for _, n := range f.nodes {
			waitUntil(t, func() bool { j := fetchJWKS(t, n); return len(j.Key(newKid)) == 1 })
			if kid := headerOf(t, n.form(body).token(t).AccessToken)["kid"]; kid == newKid {
				t.Fatal("a node signs with the new key before the publish-ahead delay")
			}
		}
	})
}

// TestNodeKilledMidLoad: one node dies abruptly while three serve; the
// others keep answering and nothing committed is lost.
func TestNodeKilledMidLoad(t *testing.T) {
	f := startFleet(t, 3, nil, func(c *serveConfig) { c.rateLimit = rateValue{Limit: 100000, Window: time.Minute} })
	a, b, c := f.nodes[0], f.nodes[1], f.nodes[2]
	id, secret := a.createClient("--name", "load", "--scope", "claims:read")
	for _, n := range f.nodes {
		n.waitForClient(id, true)
	}
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret

	// Clients created through C just before it dies must survive it.
	var created []string
	for range 5 {
		cl, _, err := (&admin.Service{Store: c.srv.Replica()}).CreateClient(context.Background(), admin.ClientSpec{Name: "made-on-c", Scopes: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, cl.ID)
	}

	ctx, stop := context.WithCancel(context.Background())
	var served, failedOnSurvivors atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		node := f.nodes[i%3]
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequest("POST", node.url+"/v1/auth/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					if node != c {
						failedOnSurvivors.Add(1)
					}
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					served.Add(1)
				} else if node != c {
					failedOnSurvivors.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	c.kill()
	before := served.Load()
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	if failedOnSurvivors.Load() != 0 {
		t.Fatalf("%d requests to the surviving nodes failed", failedOnSurvivors.Load())
	}
	if served.Load() <= before {
		t.Fatal("the surviving nodes stopped serving")
	}
	for _, cid := range created {
		for _, n := range []*testServer{a, b} {
			if n.srv.Replica().Lookup(cid) == nil {
				t.Fatalf("client %s created on the killed node is missing on a survivor", cid)
			}
		}
	}
	t.Logf("%d tokens served; node C killed after %d", served.Load(), before)
}

// TestRedisUnreachable: with --rate-limit-fail open a node keeps issuing
// tokens under its own limit and says so in the ops listener's /readyz;
// with closed it answers 503.
func TestRedisUnreachable(t *testing.T) {
	for _, mode := range []string{"open", "closed"} {
		t.Run(mode, func(t *testing.T) {
			ts := startTestServer(t, nil, func(c *serveConfig) { c.redisURL, c.rateLimitFail = "redis://127.0.0.1:1/0", mode })
			id, secret := ts.createClient("--name", "svc", "--scope", "a")
			r := ts.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret)
			status, ready := ts.readyDetail()
			if mode == "open" {
				r.token(t)
				if status != 200 || ready.Rate["backend"] != "fallback" {
					t.Fatalf("ops /readyz %d %v", status, ready.Rate)
				}
				return
			}
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("fail closed: status %d %s", r.StatusCode, r.body)
			}
			if code, _ := r.errorBody(t); code != "temporarily_unavailable" {
				t.Fatalf("code %q", code)
			}
			if ready.Rate["backend"] != "unavailable" {
				t.Fatalf("ops /readyz rate_limiter %v", ready.Rate)
			}
		})
	}
}

// TestFleetFederation (issue 15): three nodes over PostgreSQL and Redis
// agree on trusted issuers and federated identities within the usual
// propagation time: an issuer added and a binding made through node A
// authenticate at node C, the rate limit of a federated client is one
// across the fleet, and an issuer disabled through node B is refused by
// node A.
func TestFleetFederation(t *testing.T) {
	f := startFleet(t, 3, nil)
	a, b, c := f.nodes[0], f.nodes[1], f.nodes[2]
	ctx := context.Background()
	oidc := testoidc.New(t, "ES256")
	const aud = "urn:gooclaim:test:fleet"
	a.mustCLI("", "issuers", "add", "k8s", "--issuer", oidc.URL, "--audience", aud, "--allow-http-jwks-uri", "--allow-private-addresses")
	a.federatedClient("--name", "importer", "--scope", "claims:read", "--rate-limit", "10/1m",
		"--federated", "k8s=system:serviceaccount:claims:importer")
	a.federatedClient("--name", "exporter", "--scope", "claims:read", "--federated", "k8s=system:serviceaccount:claims:exporter")
	exporterToken := oidc.Kubernetes("claims", "exporter", []string{aud})
	start := time.Now()
	for _, n := range f.nodes {
		waitUntil(t, func() bool {
			t := n.srv.Replica().IssuerByURL(oidc.URL)
			return t != nil && n.srv.Replica().FederatedClient(t.Name, "system:serviceaccount:claims:importer") != nil
		})
	}
	t.Logf("issuer and binding on every node after %v", time.Since(start))
	token := oidc.Kubernetes("claims", "importer", []string{aud})
	if tok := c.federatedRequest(token).token(t); tok.AccessToken == "" {
		t.Fatal("no token from node C")
	}

	t.Run("one budget across the fleet for the bound client", func(t *testing.T) {
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		for i := range 15 {
			node := f.nodes[i%3]
			wg.Go(func() {
				switch r := node.federatedRequest(token); r.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					t.Errorf("status %d: %s", r.StatusCode, r.body)
				}
			})
		}
		wg.Wait()
		// One token was issued before: 9 of the 15 fit in the 10 a minute.
		if ok.Load() != 9 || limited.Load() != 6 {
			t.Fatalf("%d accepted and %d limited, want 9 and 6", ok.Load(), limited.Load())
		}
	})

	t.Run("issuer disabled through B is refused by A", func(t *testing.T) {
		if r := a.federatedRequest(exporterToken); r.StatusCode != http.StatusOK {
			t.Fatalf("node A: status %d %s before the issuer is disabled", r.StatusCode, r.body)
		}
		svc := &admin.Service{Store: b.srv.Replica()}
		disabled := true
		if _, err := svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitUntil(t, func() bool { t := a.srv.Replica().IssuerByURL(oidc.URL); return t != nil && t.Disabled })
		t.Logf("propagation of the issuer's change from node B to node A: %v", time.Since(start))
		if r := a.federatedRequest(exporterToken); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("node A: status %d for a disabled issuer's token", r.StatusCode)
		}
	})
}
