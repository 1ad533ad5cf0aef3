package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// pinning is where the servers and the load generator run. The servers are
// measured one at a time, so they can share one CPU: the idle ones use
// none. Kept apart from the load generator, a server's tokens/s and
// latencies are its own, not what the CPU scheduler left it.
type pinning struct {
	// ServerCPUs is where every server child runs (with GOMAXPROCS=1);
	// LoadgenCPUs where this program runs. Both empty: unpinned.
	ServerCPUs  []int `json:"server_cpus,omitempty"`
	LoadgenCPUs []int `json:"loadgen_cpus,omitempty"`
	// Note says what was done, or why nothing was.
	Note string `json:"note"`
}

// setupPinning pins this process to every allowed CPU but the first, which
// is left to the servers, unless --pin=false or it cannot be done; then it
// says so and the run goes on unpinned. Close undoes it (tests run the load
// generator in their own process).
func (m *Main) setupPinning() *pinning {
	p := &pinning{}
	if !m.Config.Pin {
		p.Note = fmt.Sprintf("unpinned (--pin=false): the servers and the load generator share the %d CPUs", runtime.NumCPU())
		return p
	}
	unpinned := func(why string) *pinning {
		p.Note = "unpinned: " + why + "; the servers and the load generator share the CPUs"
		m.logf("cannot pin to CPUs: %s; running unpinned", why)
		return p
	}
	if !pinSupported {
		return unpinned("CPU pinning is implemented on Linux only")
	}
	cpus, err := allowedCPUs()
	if err != nil {
		return unpinned(err.Error())
	}
	if len(cpus) < 2 {
		return unpinned(fmt.Sprintf("this process may use %d CPU only", len(cpus)))
	}
	undo, err := pinProcess(cpus[1:])
	if err != nil {
		return unpinned(err.Error())
	}
	// GOMAXPROCS follows the CPUs this program may use, unless set.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(len(cpus) - 1)
		// Run after undo (Close goes in reverse): the default follows the
		// restored affinity again.
		m.onClose(runtime.SetDefaultGOMAXPROCS)
	}
	m.onClose(undo)
	p.ServerCPUs, p.LoadgenCPUs = cpus[:1], cpus[1:]
	p.Note = fmt.Sprintf("servers on CPU %s (GOMAXPROCS=1, one measured at a time), load generator on CPU %s (GOMAXPROCS %d)",
		cpuList(p.ServerCPUs), cpuList(p.LoadgenCPUs), runtime.GOMAXPROCS(0))
	m.logf("pinned: %s", p.Note)
	return p
}

// cpuList writes CPUs as 0 or 1-3 or 1,3.
func cpuList(cpus []int) string {
	if len(cpus) > 1 && cpus[len(cpus)-1]-cpus[0] == len(cpus)-1 {
		return fmt.Sprintf("%d-%d", cpus[0], cpus[len(cpus)-1])
	}
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinRedis moves a Redis server running on this machine onto the load
// generator's CPUs for the run, and gives it its affinity back at Close, so
// that the scale-out node has its CPU to itself as the embedded one has:
// left to the scheduler, Redis ran on the server's CPU a quarter of the
// time and the node's tokens/s measured the sharing. It returns what it
// did, or why it did nothing (Redis elsewhere, in another PID namespace,
// not ours to move).
func (m *Main) pinRedis(ctx context.Context, rc goredis.UniversalClient, p *pinning) string {
	if len(p.LoadgenCPUs) == 0 {
		return "Redis not pinned (the run is unpinned)"
	}
	info, err := rc.Info(ctx, "server").Result()
	if err != nil {
		return "Redis not pinned: INFO server: " + err.Error()
	}
	pid := 0
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid <= 0 || !strings.Contains(processName(pid), "redis") {
		return "Redis not pinned: it is not a process of this machine that this program can see"
	}
	undo, err := pinOther(pid, p.LoadgenCPUs)
	if err != nil {
		return "Redis not pinned: " + err.Error()
	}
	m.onClose(undo)
	note := fmt.Sprintf("Redis (pid %d) moved to the load generator's CPU %s for the run, its affinity restored at exit", pid, cpuList(p.LoadgenCPUs))
	m.logf("%s", note)
	return note
}
