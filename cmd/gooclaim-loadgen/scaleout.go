package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/postgres"
)

// The scale-out target is `gooclaim-auth serve` as one node of a fleet
// would run it: its clients and keys in PostgreSQL, its rate limit in Redis.
// Each run gets a schema and a key prefix of its own, so that runs (and
// tests) sharing a server cannot meet, and removes both at exit.

// copyWorkers is how many clients are stored in PostgreSQL at once. Each
// CreateClient is one transaction with its own commit (and WAL flush);
// several in flight let PostgreSQL flush their commits together. For 10000
// clients on the 2-CPU machine this was written on: 24.0s one at a time,
// 15.1s with 4, 9.0s with 8, 8.6s with 16 (the store's pool holds 8
// connections).
const copyWorkers = 8

// scaleoutNames returns a fresh schema name and Redis key prefix.
func scaleoutNames() (schema, prefix string) {
	b := make([]byte, 6)
	rand.Read(b)
	r := hex.EncodeToString(b)
	return "gooclaim_loadgen_" + r, "gooclaim:loadgen:" + r + ":"
}

// openScaleoutStore opens the scale-out schema (created if missing) and
// brings it up to date, as serve would.
func openScaleoutStore(ctx context.Context, pgURL, schema string) (*postgres.DB, error) {
	db, err := postgres.Open(ctx, pgURL, postgres.Options{Schema: schema})
	if err != nil {
		return nil, fmt.Errorf("--scaleout: %w (check --postgres-url)", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("--scaleout: migrate schema %s: %w", schema, err)
	}
	return db, nil
}

// copyClients stores the clients, exactly as created in the SQLite database
// (same IDs, names, scopes, secret hashes and IDs), with workers goroutines.
// They are copied rather than created again through admin.Service: a client
// created with a given secret counts as imported and gets an argon2id hash,
// which would cost the scale-out node what the embedded one does not pay.
func copyClients(ctx context.Context, db *postgres.DB, clients []*auth.Client, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, len(clients)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(clients) {
					return
				}
				if err := db.CreateClient(ctx, clients[i].Clone()); err != nil {
					once.Do(func() {
						first = fmt.Errorf("store client %d of %d in PostgreSQL: %w", i+1, len(clients), err)
						cancel()
					})
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// dropSchema drops the scale-out schema and everything in it.
func dropSchema(ctx context.Context, pgURL, schema string) error {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redactURL(pgURL), err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	return err
}

// deleteKeys deletes every Redis key under prefix (SCAN, then DEL by batch)
// and returns how many it deleted.
func deleteKeys(ctx context.Context, rc goredis.UniversalClient, prefix string) (int, error) {
	n := 0
	var cursor uint64
	for {
		keys, next, err := rc.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			if err := rc.Del(ctx, keys...).Err(); err != nil {
				return n, err
			}
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// redisCPU returns the CPU time (user and system, all threads) the Redis
// server has used so far, from INFO cpu; zero when unknown. It counts every
// client of that Redis, not only the scale-out node.
func redisCPU(rc goredis.UniversalClient) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := rc.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	found := 0
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_sys" && k != "used_cpu_user") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0
		}
		total += f
		found++
	}
	if found != 2 {
		return 0
	}
	return time.Duration(total * float64(time.Second))
}

// readiness is what a server's /readyz says about its store and limiter.
type readiness struct {
	Store struct {
		Backend string `json:"backend"`
		Clients int    `json:"clients"`
	} `json:"store"`
	RateLimiter struct {
		Backend          string `json:"backend"`
		FallbackRequests int64  `json:"fallback_requests"`
		LastError        string `json:"last_error"`
	} `json:"rate_limiter"`
}

// readyDetail reads the /readyz detail of a server's ops listener (the
// public /readyz answers the status only), to check which store and
// limiter it really uses.
func readyDetail(ctx context.Context, baseURL string) (*readiness, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	var body struct {
		Detail readiness `json:"detail"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("GET %s/readyz: %s: %w", baseURL, resp.Status, err)
	}
	return &body.Detail, nil
}

// redactURL hides the password of a connection URL, in its user info or
// in a password query parameter.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") || strings.Contains(strings.ToLower(s), "password") {
			return "(a URL that does not parse; not shown, as it may hold a password)"
		}
		return s
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
