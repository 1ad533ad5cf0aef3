package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// target is one server under load.
type target struct {
	driver *driver
	child  *child // nil for --target
}

// Run sets everything up, drives the targets and prints the report.
func (m *Main) Run(ctx context.Context) error {
	c := &m.Config
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

	s := driveSettings{connections: c.Connections, warmup: c.Warmup, duration: c.Duration, requestTimeout: c.RequestTimeout}
	for round := 1; round <= c.Rounds; round++ {
		for _, t := range targets {
			m.logf("round %d/%d: %s (%s warmup, %s measured, %d connections)", round, c.Rounds, t.driver.name, c.Warmup, c.Duration, c.Connections)
			p, err := t.driver.run(ctx, round, s)
			if err != nil {
				return fmt.Errorf("drive %s: %w", t.driver.name, err)
			}
			if t.child != nil && t.child.exited() {
				return fmt.Errorf("%s exited during the run (%v); its log %s ends with:\n%s", t.child.name, t.child.err, t.child.logPath, t.child.logTail())
			}
			rep.addPhase(p)
		}
	}
	rep.finish(c)
	if c.JSON {
		return rep.writeJSON(m.stdout)
	}
	rep.writeText(m.stdout)
	return nil
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

	m.logf("creating %d clients in %s", c.Clients, ws.database)
	t0 := time.Now()
	creds, err := createClients(ctx, ws.database, c.Clients)
	if err != nil {
		return nil, err
	}
	rep.Setup.CreateSeconds = since(t0)
	rep.Setup.ClientsCreated = len(creds)
	if err := writeClientsFile(ws.clientsFile, creds); err != nil {
		return nil, err
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

	serverAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", serverAddr, "--database", ws.database,
		"--key-encryption-key-file", ws.kekFile, "--signing-alg", c.Alg}
	if c.RateLimit != "" {
		args = append(args, "--rate-limit", c.RateLimit)
	}
	if c.NoRequestLog {
		args = append(args, "--no-request-log")
	}
	m.logf("starting %s %v", bin, args)
	t0 = time.Now()
	srv, err := startChild(ctx, "service", bin, args, filepath.Join(ws.dir, "server.log"))
	if err != nil {
		return nil, err
	}
	m.onClose(srv.stop)
	if err := srv.waitReady(ctx, "http://"+serverAddr+"/readyz", c.StartTimeout); err != nil {
		return nil, err
	}
	rep.Setup.ServiceReadySeconds = since(t0)

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start the baseline: %w", err)
	}
	baseAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(serverAddr)
	bargs := []string{baselineCommand, "--database", ws.database, "--kek", ws.kekFile,
		"--listen", baseAddr, "--issuer", "http://localhost:" + port}
	t0 = time.Now()
	base, err := startChild(ctx, "baseline", exe, bargs, filepath.Join(ws.dir, "baseline.log"))
	if err != nil {
		return nil, err
	}
	m.onClose(base.stop)
	if err := base.waitReady(ctx, "http://"+baseAddr+"/readyz", c.StartTimeout); err != nil {
		return nil, err
	}
	rep.Setup.BaselineReadySeconds = since(t0)

	reqs := newRequestSet(creds, c.Body, c.Auth)
	bd, err := newDriver("baseline", "http://"+baseAddr, reqs)
	if err != nil {
		return nil, err
	}
	sd, err := newDriver("service", "http://"+serverAddr, reqs)
	if err != nil {
		return nil, err
	}
	bd.pid, sd.pid = base.cmd.Process.Pid, srv.cmd.Process.Pid
	rep.URLs["baseline"], rep.URLs["service"] = bd.url.String(), sd.url.String()
	return []*target{{driver: bd, child: base}, {driver: sd, child: srv}}, nil
}
