package redis_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/redis"
)

// BenchmarkRedisAllowConcurrent runs Allow from many goroutines (32 per
// GOMAXPROCS) over 1000 keys, as a busy scale-out node does. Besides ns/op
// and allocs/op it reports, per decision: the round trips to Redis
// (commands and pipelines sent), the CPU time of this process (user+sys,
// which includes the syscalls of every round trip), and the CPU time of
// the Redis server (INFO cpu; other clients of the same server add to it).
func BenchmarkRedisAllowConcurrent(b *testing.B) {
	const keys = 1000
	names := make([]string, keys)
	for i := range names {
		names[i] = "client:" + strconv.Itoa(i)
	}
	for _, bc := range []struct {
		name string
		rate auth.Rate
	}{
		{"allowed", auth.Rate{Limit: 1 << 30, Window: time.Second}},
		{"refused", auth.Rate{Limit: 10, Window: time.Hour}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := testClient(b)
			trips := new(atomic.Int64)
			c.AddHook(tripHook{trips})
			l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: testPrefix(b, c)})
			ctx := context.Background()
			var next atomic.Uint64
			redisBefore := redisCPU(b, c)
			cpuBefore, cpuOK := processCPU()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Allow(ctx, names[next.Add(1)%keys], bc.rate); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			cpuAfter, _ := processCPU()
			redisAfter := redisCPU(b, c)
			n := float64(b.N)
			b.ReportMetric(float64(trips.Load())/n, "trips/op")
			if cpuOK {
				b.ReportMetric(float64(cpuAfter-cpuBefore)/n, "cpu-ns/op")
			}
			b.ReportMetric(float64(redisAfter-redisBefore)/n, "redis-cpu-ns/op")
		})
	}
}

// tripHook counts the round trips a client makes: commands sent alone and
// pipelines.
type tripHook struct{ n *atomic.Int64 }

func (h tripHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h tripHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h tripHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// redisCPU is the CPU time the Redis server has used (used_cpu_sys plus
// used_cpu_user of INFO cpu), in nanoseconds.
func redisCPU(tb testing.TB, c goredis.UniversalClient) time.Duration {
	tb.Helper()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	s := bufio.NewScanner(strings.NewReader(info))
	for s.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(s.Text()), ":")
		if ok && (name == "used_cpu_sys" || name == "used_cpu_user") {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("INFO cpu: %s: %v", s.Text(), err)
			}
			total += v
		}
	}
	return time.Duration(total * float64(time.Second))
}
