package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authconfig"
)

// DefaultConfigFileInterval is how often the configuration file is
// checked for changes when Config.ConfigFileInterval is zero: a mounted
// Kubernetes ConfigMap changes within a minute or so of its update.
const DefaultConfigFileInterval = 10 * time.Second

// configFile applies Config.ConfigFile: at Start, then whenever its
// content changes.
//
// Every node of a fleet may watch the same file; they need no lock. An
// apply writes in one transaction whose updates are checked against the
// state it planned from (auth.BatchStore), so when several nodes apply the
// same new content, one writes and the others, finding their plan stale,
// plan again and find nothing to do; the others see the result through
// the store like any other change.
type configFile struct {
	path     string
	prune    bool
	svc      *admin.Service
	logger   *slog.Logger
	lastSeen [sha256.Size]byte // of the content last tried, applied or refused
	tried    bool
}

// check reads the file and applies it when its content changed since the
// last check. A bad file (unreadable, invalid, or refused by the store) is
// refused whole and logged; the store keeps the last good state.
func (f *configFile) check(ctx context.Context) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		f.logger.Error("the configuration file cannot be read; the clients and trusted issuers stay as they are", "file", f.path, "err", err)
		return
	}
	sum := sha256.Sum256(data)
	if f.tried && sum == f.lastSeen {
		return
	}
	f.tried, f.lastSeen = true, sum
	doc, err := authconfig.Parse(f.path, data)
	if err == nil {
		var p *admin.Plan
		p, err = f.svc.Apply(ctx, doc, admin.ApplyOptions{Prune: f.prune, ResolveSecret: f.resolveSecret})
		if err == nil {
			f.logPlan(doc, p)
			return
		}
	}
	f.logger.Error("the configuration file was refused, nothing was changed; the clients and trusted issuers stay as they are", "file", f.path, "err", err)
}

func (f *configFile) logPlan(doc *authconfig.Document, p *admin.Plan) {
	if !p.Applied {
		f.logger.Info("configuration file unchanged against the store", "file", f.path, "digest", doc.Digest, "objects", len(p.Objects))
		return
	}
	var changes []string
	for _, o := range p.Objects {
		if o.Action == admin.PlanUnchanged {
			continue
		}
		fields := make([]string, len(o.Fields))
		for i, fc := range o.Fields {
			fields[i] = fc.Field
		}
		changes = append(changes, fmt.Sprintf("%s %s %q [%s]", o.Action, o.Kind, o.ID, strings.Join(fields, " ")))
	}
	f.logger.Info("configuration file applied", "file", f.path, "digest", doc.Digest,
		"create", p.Summary.Create, "update", p.Summary.Update, "delete", p.Summary.Delete, "unchanged", p.Summary.Unchanged,
		"changes", strings.Join(changes, "; "))
}

// resolveSecret reads from_file (relative to the configuration file's
// directory, as a mounted Secret beside the ConfigMap would be) and
// from_env sources.
func (f *configFile) resolveSecret(c authconfig.Client) (string, error) {
	return authconfig.ReadSecret(filepath.Dir(f.path), c.Secret, os.Getenv)
}

// watchConfigFile checks the file every interval, the first check after
// a random part of it so that the nodes of a fleet started together do
// not all apply a change at the same instant.
func (s *Server) watchConfigFile(ctx context.Context, f *configFile) {
	interval := s.cfg.ConfigFileInterval
	wait := interval/2 + rand.N(interval/2+1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		f.check(configFileContext(ctx))
		wait = interval
	}
}

// newConfigFile is the watcher of Config.ConfigFile, nil without one. Its
// writes go through the replica, so that this node serves them at once,
// and are audited as made by this node.
func (s *Server) newConfigFile() *configFile {
	c := &s.cfg
	if c.ConfigFile == "" {
		return nil
	}
	return &configFile{
		path:   c.ConfigFile,
		prune:  c.ConfigFilePrune,
		logger: s.logger,
		svc: &admin.Service{Store: s.replica, Keys: s.keys, Clock: s.clock,
			AllowHTTPJWKSURI: c.AllowHTTPJWKSURI, AllowPrivateAddresses: c.AllowPrivateAddresses},
	}
}

// configFileContext is the audit identity of the file's applies: the
// node (the actor is always "apply"; see admin.Service.Apply).
func configFileContext(ctx context.Context) context.Context {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	return auth.WithAudit(ctx, auth.Audit{Actor: "serve:" + host, RemoteAddr: host})
}
