package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// RedisCommands are the command label values of the Redis metrics: the
// commands the service sends (the rate limiter's script, the replay
// cache's SET NX), pipelines, and "other".
var RedisCommands = []string{"evalsha", "eval", "set", "ping", "pipeline", "other"}

type redisMetrics struct {
	duration map[string]prometheus.Observer
	errors   map[string]prometheus.Counter
}

// InstrumentRedis times every command c sends and counts its failures, as
// gooclaim_redis_operation_duration_seconds{command} and
// gooclaim_redis_errors_total{command}, through a go-redis hook. A miss
// (redis.Nil) and NOSCRIPT (the script is then sent whole) are answers, not
// failures; nor is a caller that gave up. The handshake of a new connection
// (HELLO, AUTH, SELECT, CLIENT …) is left out: the driver ignores its
// refusals (CLIENT SETINFO on an older server), and a handshake that fails
// fails the command that needed the connection, which is counted. Call it
// once per client, before the client is shared.
func (m *Metrics) InstrumentRedis(c goredis.UniversalClient) {
	m.redisOnce.Do(func() {
		duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "redis_operation_duration_seconds",
			Help:    "Time of each Redis command or pipeline, round trip included, whatever its result.",
			Buckets: LatencyBuckets,
		}, []string{"command"})
		errs := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "redis_errors_total",
			Help: "Redis commands that failed: unreachable, timed out, or refused by the server.",
		}, []string{"command"})
		m.reg.MustRegister(duration, errs)
		rm := &redisMetrics{duration: map[string]prometheus.Observer{}, errors: map[string]prometheus.Counter{}}
		for _, cmd := range RedisCommands {
			rm.duration[cmd] = duration.WithLabelValues(cmd)
			rm.errors[cmd] = errs.WithLabelValues(cmd)
		}
		m.redis = rm
	})
	c.AddHook(redisHook{m.redis})
}

func (r *redisMetrics) observe(cmd string, start time.Time, err error) {
	d, ok := r.duration[cmd]
	if !ok {
		cmd = "other"
		d = r.duration[cmd]
	}
	d.Observe(time.Since(start).Seconds())
	if isRedisFailure(err) {
		r.errors[cmd].Inc()
	}
}

// handshake names the commands go-redis sends to set up a connection.
var handshake = map[string]bool{"hello": true, "auth": true, "select": true, "client": true, "readonly": true}

func isRedisFailure(err error) bool {
	return err != nil &&
		!errors.Is(err, goredis.Nil) &&
		!errors.Is(err, context.Canceled) &&
		!goredis.HasErrorPrefix(err, "NOSCRIPT")
}

type redisHook struct{ m *redisMetrics }

var _ goredis.Hook = redisHook{}

func (redisHook) DialHook(next goredis.DialHook) goredis.DialHook {
	// A failed dial fails the command that needed the connection: counted there.
	return next
}

func (h redisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		name := cmd.Name()
		if handshake[name] {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.m.observe(name, start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && handshake[cmds[0].Name()] {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.m.observe("pipeline", start, err)
		return err
	}
}
