package server

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth/metrics"
)

// The admin console's live figures (GET /v1/admin/stats): every node
// samples its own counters each metrics.StatsInterval; with Redis, it
// also publishes its summary there for statsTTL, so that any node can
// answer for the whole fleet. A node that stops publishing drops out of
// the answer when its entry expires.
const (
	statsTTL     = 30 * time.Second
	statsTimeout = 2 * time.Second // a Redis that does not answer costs the page this much at most
)

// nodeName names this node in the figures: its host name and the port
// it listens on, which tell the nodes of a fleet (and of a test) apart.
func (s *Server) nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	return net.JoinHostPort(host, port)
}

// runStats samples every metrics.StatsInterval until ctx ends.
func (s *Server) runStats(ctx context.Context) {
	t := time.NewTicker(metrics.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.SampleStats(ctx)
		}
	}
}

// SampleStats closes the current interval of the admin console's figures
// now, and publishes this node's summary to Redis when there is one. The
// server calls it every metrics.StatsInterval; tests call it to move on
// without waiting.
func (s *Server) SampleStats(ctx context.Context) {
	s.stats.Sample(time.Now())
	if s.redisCl == nil {
		return
	}
	ns := s.localStats()
	b, err := json.Marshal(ns)
	if err != nil {
		s.logger.Error("admin stats: encode this node's figures", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	now := time.Now()
	_, err = s.redisCl.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.statsKey(ns.Node), b, statsTTL)
		p.ZAdd(ctx, s.statsIndex(), goredis.Z{Score: float64(now.Unix()), Member: ns.Node})
		// The index only grows by the nodes that ever ran: forget those
		// silent for twice the TTL.
		p.ZRemRangeByScore(ctx, s.statsIndex(), "-inf", "("+itoa(now.Add(-2*statsTTL).Unix()))
		return nil
	})
	if err != nil {
		// The limiter already reports a Redis outage; this is detail.
		s.logger.Debug("admin stats: publish this node's figures to Redis", "err", err)
	}
}

// statsIndex is the sorted set of the nodes that publish figures, by the
// time of their last publication; statsKey holds one node's figures.
func (s *Server) statsIndex() string          { return s.cfg.RedisPrefix + "stats:nodes" }
func (s *Server) statsKey(node string) string { return s.cfg.RedisPrefix + "stats:node:" + node }

// localStats is this node's summary.
func (s *Server) localStats() metrics.NodeStats {
	ns := s.stats.NodeStats()
	ns.Node = s.node
	if ns.UpdatedAt.IsZero() {
		ns.UpdatedAt = time.Now()
	}
	ns.UpdatedAt = ns.UpdatedAt.UTC()
	for i := range ns.Series.T {
		ns.Series.T[i] = ns.Series.T[i].UTC()
	}
	ns.Store = metrics.StoreStats{
		Healthy:                 s.replica.SyncError() == nil,
		ReplicaStalenessSeconds: math.Round(time.Since(s.replica.LastSync()).Seconds()*1000) / 1000,
	}
	ns.Redis = metrics.RedisStats{Configured: s.redis != nil, Healthy: s.redis != nil && s.redis.State().Backend == "redis"}
	return ns
}

// fleetStats is every live node's summary, this node's first (and
// marked), the others by name: read from Redis when there is one. When
// Redis cannot be read, this node's alone, which says Redis is unhealthy.
func (s *Server) fleetStats(ctx context.Context) []metrics.NodeStats {
	own := s.localStats()
	own.This = true
	nodes := []metrics.NodeStats{own}
	if s.redisCl == nil {
		return nodes
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	names, err := s.redisCl.ZRangeByScore(ctx, s.statsIndex(), &goredis.ZRangeBy{
		Min: itoa(time.Now().Add(-2 * statsTTL).Unix()), Max: "+inf"}).Result()
	if err != nil {
		s.logger.Debug("admin stats: read the fleet's nodes from Redis", "err", err)
		return nodes
	}
	cmds := make([]*goredis.StringCmd, 0, len(names))
	_, err = s.redisCl.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, n := range names {
			if n != own.Node {
				cmds = append(cmds, p.Get(ctx, s.statsKey(n)))
			}
		}
		return nil
	})
	if err != nil && err != goredis.Nil {
		s.logger.Debug("admin stats: read the fleet's figures from Redis", "err", err)
	}
	var others []metrics.NodeStats
	for _, c := range cmds {
		b, err := c.Bytes()
		if err != nil {
			continue // expired: the node is gone
		}
		var ns metrics.NodeStats
		if json.Unmarshal(b, &ns) == nil {
			ns.This = false
			others = append(others, ns)
		}
	}
	slices.SortFunc(others, func(a, b metrics.NodeStats) int { return strings.Compare(a.Node, b.Node) })
	return append(nodes, others...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
