package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth/postgres"
	"github.com/gooclaim/auth/redis"
)

// target is one server under load.
type target struct {
	driver  *driver
	child   *child // nil for --target
	opsAddr string // the ops listener's host:port; "" for the baseline, the ceiling and --target
}

// Run sets everything up, drives the targets and prints the report.
func (m *Main) Run(ctx context.Context) error {
	c := &m.Config
	switch {
	case c.Soak > 0:
		return m.runSoak(ctx)
	case len(c.Growth) > 0:
		return m.runGrowth(ctx)
	case c.Policies:
		return m.runPolicies(ctx)
	case c.Reuse:
		return m.runReuse(ctx)
	}
	rep := newReport(m.args, c)
	var targets []*target
	var err error
	if c.Target != "" {
		targets, err = m.setupTarget(rep)
	} else {
		targets, err = m.setupServers(ctx, rep)
	}
	if err != nil {
		return err
	}

	// Plain HTTP: keep-alive only (mode ""). With --tls, every mode in
	// each round, the targets one after the other within a mode, so that
	// the figures compared were taken close together; their order is
	// reversed every other round, so that while the machine's speed drifts
	// no target is always measured first or last (ABBA).
	modes := []connMode{""}
	if c.TLS {
		modes = tlsModes
	}
	for round := 1; round <= c.Rounds; round++ {
		for _, mode := range modes {
			s := driveSettings{connections: c.Connections, warmup: c.Warmup, duration: c.Duration, requestTimeout: c.RequestTimeout, mode: mode}
			if mode == modeResume || mode == modeFull {
				s.connections = c.ReconnectConnections
			}
			order := slices.Clone(targets)
			if round%2 == 0 {
				slices.Reverse(order)
			}
			for _, t := range order {
				name := label(t.driver.name, mode)
				m.logf("round %d/%d: %s (%s warmup, %s measured, %d connections)", round, c.Rounds, name, c.Warmup, c.Duration, s.connections)
				p, err := t.driver.run(ctx, round, s)
				if err != nil {
					return fmt.Errorf("drive %s: %w", name, err)
				}
				if t.child != nil && t.child.exited() {
					return fmt.Errorf("%s exited during the run (%v); its log %s ends with:\n%s", t.child.name, t.child.err, t.child.logPath, t.child.logTail())
				}
				rep.addPhase(p)
			}
		}
	}
	if rep.Scaleout != nil {
		// Did every scale-out request go through Redis? With the default
		// --rate-limit-fail open, a slow or unreachable Redis would make the
		// node decide with its in-memory fallback instead, silently.
		so := targets[slices.IndexFunc(targets, func(t *target) bool { return t.driver.name == "scaleout" })]
		if rd, err := readyDetail(ctx, "http://"+so.opsAddr); err != nil {
			m.logf("cannot read the scale-out node's /readyz after the run: %v", err)
		} else {
			rep.Scaleout.LimiterAfter = rd.RateLimiter.Backend
			rep.Scaleout.FallbackRequests = rd.RateLimiter.FallbackRequests
			rep.Scaleout.LimiterLastError = rd.RateLimiter.LastError
		}
	}
	rep.finish(c)
	return m.writeReport(rep)
}

// setupTarget prepares the --target mode: one server, already running.
func (m *Main) setupTarget(rep *report) ([]*target, error) {
	creds, err := readClientsFile(m.Config.ClientsFile)
	if err != nil {
		return nil, err
	}
	rep.Settings.Clients = len(creds)
	d, err := newDriver("target", m.Config.Target, newRequestSet(creds, m.Config.Body, m.Config.Auth))
	if err != nil {
		return nil, err
	}
	rep.URLs["target"] = d.url.String()
	return []*target{{driver: d}}, nil
}

// setupServers makes the workspace, the database and its clients, and starts
// the service and then the baseline (which reads the key the service created).
func (m *Main) setupServers(ctx context.Context, rep *report) ([]*target, error) {
	c := &m.Config
	ws, err := newWorkspace()
	if err != nil {
		return nil, err
	}
	m.onClose(func() {
		if c.Keep {
			m.logf("kept %s", ws.dir)
			return
		}
		os.RemoveAll(ws.dir)
	})
	if c.Keep {
		rep.Workspace = ws.dir
	}
	if err := createKEK(ws.kekFile); err != nil {
		return nil, err
	}
	rep.Pinning = m.setupPinning()
	cpus := rep.Pinning.ServerCPUs // nil: unpinned
	if cpus != nil {
		rep.GOMAXPROCS = runtime.GOMAXPROCS(0)
		rep.Settings.ServerMaxCPU = "1 (pinned)"
	}
	scheme := "http"
	var tlsCert, tlsKey string
	var clientTLS *tls.Config
	if c.TLS {
		if tlsCert, tlsKey, clientTLS, err = selfSignedCert(ws.dir); err != nil {
			return nil, err
		}
		scheme = "https"
	}

	var so *scaleoutSetup
	if c.Scaleout {
		// Before the clients are made, so that a PostgreSQL or Redis that
		// is not there fails the run at once.
		if so, err = m.prepareScaleout(ctx, rep); err != nil {
			return nil, err
		}
	}

	m.logf("creating %d clients in %s", c.Clients, ws.database)
	t0 := time.Now()
	creds, clients, err := createClients(ctx, ws.database, c.Clients)
	if err != nil {
		return nil, err
	}
	rep.Setup.CreateSeconds = since(t0)
	rep.Setup.ClientsCreated = len(creds)
	if err := writeClientsFile(ws.clientsFile, creds); err != nil {
		return nil, err
	}
	if so != nil {
		m.logf("storing the same %d clients in PostgreSQL schema %s (%d at a time)", len(clients), so.schema, copyWorkers)
		t0 = time.Now()
		err := copyClients(ctx, so.db, clients, copyWorkers)
		so.db.Close()
		if err != nil {
			return nil, err
		}
		rep.Scaleout.CopySeconds = since(t0)
		rep.Scaleout.ClientsCopied = len(clients)
		rep.Scaleout.CopyWorkers = copyWorkers
	}

	t0 = time.Now()
	bin, built, err := serverBinary(ctx, c.ServerBin, ws.dir, c.StartTimeout)
	if err != nil {
		return nil, err
	}
	if built {
		rep.Setup.BuildSeconds = since(t0)
	}
	rep.Setup.ServerBin = bin

	serverAddr, serverOps, err := freeLoopbackPair()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", serverAddr, "--ops-listen", serverOps, "--database", ws.database,
		"--key-encryption-key-file", ws.kekFile, "--signing-alg", c.Alg}
	if c.RateLimit != "" {
		args = append(args, "--rate-limit", c.RateLimit)
	}
	if c.NoRequestLog {
		args = append(args, "--no-request-log")
	}
	if c.TLS {
		// The issuer then defaults to https://localhost:<port>.
		args = append(args, "--tls-cert", tlsCert, "--tls-key", tlsKey)
	}
	m.logf("starting %s %v", bin, args)
	t0 = time.Now()
	srv, err := startChildOn(ctx, "service", bin, args, filepath.Join(ws.dir, "server.log"), cpus)
	if err != nil {
		return nil, err
	}
	m.onClose(srv.stop)
	if err := srv.waitReady(ctx, "http://"+serverOps+"/readyz", c.StartTimeout); err != nil {
		return nil, err
	}
	rep.Setup.ServiceReadySeconds = since(t0)

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start the baseline and the ceiling: %w", err)
	}
	_, port, _ := net.SplitHostPort(serverAddr)
	iss := scheme + "://localhost:" + port // the service's default issuer
	reqs := newRequestSet(creds, c.Body, c.Auth)

	ceil, err := m.startCeiling(ctx, exe, ws, creds, clients, iss, tlsCert, tlsKey, cpus)
	if err != nil {
		return nil, err
	}
	rep.Setup.CeilingReadySeconds = ceil.readySeconds
	cd, err := newDriver("ceiling", scheme+"://"+ceil.addr, reqs)
	if err != nil {
		return nil, err
	}
	cd.pid, cd.tls = ceil.cmd.Process.Pid, clientTLS
	m.measureMallocs(ctx, cd, debugMallocs("http://"+ceil.opsAddr))
	rep.URLs["ceiling"] = cd.url.String()
	targets := []*target{{driver: cd, child: ceil.child}}

	var bd *driver
	if !c.TLS {
		// The baseline serves plain HTTP only: with --tls it is left out.
		baseAddr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		bargs := []string{baselineCommand, "--database", ws.database, "--kek", ws.kekFile,
			"--listen", baseAddr, "--issuer", iss}
		t0 = time.Now()
		base, err := startChildOn(ctx, "baseline", exe, bargs, filepath.Join(ws.dir, "baseline.log"), cpus)
		if err != nil {
			return nil, err
		}
		m.onClose(base.stop)
		if err := base.waitReady(ctx, "http://"+baseAddr+"/readyz", c.StartTimeout); err != nil {
			return nil, err
		}
		rep.Setup.BaselineReadySeconds = since(t0)
		if bd, err = newDriver("baseline", "http://"+baseAddr, reqs); err != nil {
			return nil, err
		}
		bd.pid = base.cmd.Process.Pid
		m.measureMallocs(ctx, bd, debugMallocs("http://"+baseAddr))
		rep.URLs["baseline"] = bd.url.String()
		targets = append(targets, &target{driver: bd, child: base})
	}

	sd, err := newDriver("service", scheme+"://"+serverAddr, reqs)
	if err != nil {
		return nil, err
	}
	sd.pid, sd.tls = srv.cmd.Process.Pid, clientTLS
	m.measureMallocs(ctx, sd, opsMallocs("http://"+serverOps))
	rep.URLs["service"] = sd.url.String()
	targets = append(targets, &target{driver: sd, child: srv, opsAddr: serverOps})
	rd, err := readyDetail(ctx, "http://"+serverOps)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	rep.Backends["service"] = fmt.Sprintf("store %s (%d clients), rate limiter %s", rd.Store.Backend, rd.Store.Clients, rd.RateLimiter.Backend)
	if so == nil {
		return targets, nil
	}

	soAddr, soOps, err := freeLoopbackPair()
	if err != nil {
		return nil, err
	}
	soArgs := []string{"serve", "--listen", soAddr, "--ops-listen", soOps, "--database", c.PostgresURL, "--postgres-schema", so.schema,
		"--redis-url", c.RedisURL, "--redis-prefix", so.prefix,
		"--key-encryption-key-file", ws.kekFile, "--signing-alg", c.Alg}
	if c.RateLimit != "" {
		soArgs = append(soArgs, "--rate-limit", c.RateLimit)
	}
	if c.NoRequestLog {
		soArgs = append(soArgs, "--no-request-log")
	}
	shown := slices.Clone(soArgs)
	shown[slices.Index(shown, "--database")+1] = redactURL(c.PostgresURL)
	shown[slices.Index(shown, "--redis-url")+1] = redactURL(c.RedisURL)
	m.logf("starting %s %v", bin, shown)
	t0 = time.Now()
	soSrv, err := startChildOn(ctx, "scaleout", bin, soArgs, filepath.Join(ws.dir, "scaleout.log"), cpus)
	if err != nil {
		return nil, err
	}
	m.onClose(soSrv.stop)
	if err := soSrv.waitReady(ctx, "http://"+soAddr+"/readyz", c.StartTimeout); err != nil {
		return nil, err
	}
	rep.Scaleout.ReadySeconds = since(t0)
	rd, err = readyDetail(ctx, "http://"+soOps)
	if err != nil {
		return nil, fmt.Errorf("scaleout: %w", err)
	}
	if rd.Store.Backend != "postgres" || rd.RateLimiter.Backend != "redis" || rd.Store.Clients != len(creds) {
		return nil, fmt.Errorf("the scale-out node reports store %q with %d clients and rate limiter %q; want postgres with %d and redis (its log: %s)",
			rd.Store.Backend, rd.Store.Clients, rd.RateLimiter.Backend, len(creds), soSrv.logPath)
	}
	rep.Backends["scaleout"] = fmt.Sprintf("store %s (%d clients, schema %s), rate limiter %s (prefix %s)",
		rd.Store.Backend, rd.Store.Clients, so.schema, rd.RateLimiter.Backend, so.prefix)
	od, err := newDriver("scaleout", "http://"+soAddr, reqs)
	if err != nil {
		return nil, err
	}
	od.pid = soSrv.cmd.Process.Pid
	od.usesRedis = true
	m.measureMallocs(ctx, od, opsMallocs("http://"+soOps))
	for _, d := range []*driver{cd, bd, sd, od} {
		if d == nil {
			continue
		}
		d.redisCPU = func() time.Duration { return redisCPU(so.redis) }
	}
	rep.URLs["scaleout"] = od.url.String()
	return append(targets, &target{driver: od, child: soSrv, opsAddr: soOps}), nil
}

// scaleoutSetup is the scale-out target's schema and key prefix while it is set up.
type scaleoutSetup struct {
	schema, prefix string
	db             *postgres.DB            // open until the clients are stored
	redis          goredis.UniversalClient // open until the run ends, for INFO cpu
}

// prepareScaleout names the scale-out schema and Redis key prefix, arranges
// for their removal at exit (unless --keep), creates and migrates the
// schema and checks that Redis answers.
func (m *Main) prepareScaleout(ctx context.Context, rep *report) (*scaleoutSetup, error) {
	c := &m.Config
	so := &scaleoutSetup{}
	so.schema, so.prefix = scaleoutNames()
	rep.Scaleout = &scaleoutInfo{
		PostgresURL: redactURL(c.PostgresURL), Schema: so.schema,
		RedisURL: redactURL(c.RedisURL), RedisPrefix: so.prefix,
		Kept: c.Keep,
	}
	rc, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	so.redis = rc
	// Registered before anything is made, so that an interrupted setup
	// leaves nothing behind either; it runs after the server is stopped
	// (Close runs the cleanups in reverse order).
	m.onClose(func() {
		defer rc.Close()
		if c.Keep {
			m.logf("kept PostgreSQL schema %s in %s and the Redis keys %s* in %s", so.schema, redactURL(c.PostgresURL), so.prefix, redactURL(c.RedisURL))
			return
		}
		// A fresh context: ctx may be the one an interrupt ended.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropSchema(cctx, c.PostgresURL, so.schema); err != nil {
			m.logf("WARNING: could not drop PostgreSQL schema %s: %v (drop it with: DROP SCHEMA %s CASCADE)", so.schema, err, so.schema)
		} else {
			m.logf("dropped PostgreSQL schema %s", so.schema)
		}
		if n, err := deleteKeys(cctx, rc, so.prefix); err != nil {
			m.logf("WARNING: could not delete the Redis keys %s*: %v", so.prefix, err)
		} else {
			m.logf("deleted %d Redis keys %s*", n, so.prefix)
		}
	})
	pctx, cancel := context.WithTimeout(ctx, c.StartTimeout)
	defer cancel()
	if err := rc.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("--scaleout: Redis at %s does not answer: %w (check --redis-url)", redactURL(c.RedisURL), err)
	}
	if rep.Pinning != nil {
		rep.Scaleout.RedisPinning = m.pinRedis(pctx, rc, rep.Pinning)
	}
	m.logf("creating PostgreSQL schema %s in %s", so.schema, redactURL(c.PostgresURL))
	if so.db, err = openScaleoutStore(pctx, c.PostgresURL, so.schema); err != nil {
		return nil, err
	}
	m.onClose(func() { so.db.Close() }) // in case the setup fails before the clients are stored
	return so, nil
}
