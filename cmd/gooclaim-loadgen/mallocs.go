package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Allocations per token come from the server's cumulative count of heap
// allocations, read before and after a measured phase. The service shows it
// on its ops listener's /metrics as go_memstats_mallocs_total; the ceiling
// and the baseline on GET /debug/mallocs (serveMallocs, the same sum).
// Neither reading is on the token path.

// opsMallocs reads go_memstats_mallocs_total from /metrics at base (http://HOST:PORT).
func opsMallocs(base string) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		body, err := getSmall(ctx, base+"/metrics")
		if err != nil {
			return 0, err
		}
		var n float64
		found := false
		err = eachMetric(strings.NewReader(body), base, func(name string, v float64) bool {
			if name == "go_memstats_mallocs_total" {
				n, found = v, true
			}
			return !found
		})
		if err != nil {
			return 0, err
		}
		if found {
			return uint64(n), nil
		}
		return 0, fmt.Errorf("%s/metrics has no go_memstats_mallocs_total", base)
	}
}

// debugMallocs reads GET /debug/mallocs at base (http://HOST:PORT).
func debugMallocs(base string) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		body, err := getSmall(ctx, base+"/debug/mallocs")
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(body), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/debug/mallocs: %w", base, err)
		}
		return n, nil
	}
}

// mallocsClient reads the counts over connections of its own, never the
// phase's, and keeps one alive so that a reading costs the server the same
// each time (calibrated by readingCost).
var mallocsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

func getSmall(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := mallocsClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("read %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// readingCost is how many allocations one reading causes in the idle
// server: the difference between two readings made one after the other
// (after a first that opens the connection), the least of a few tries.
// A phase's count is two readings apart, so it holds about one reading's
// allocations, which are subtracted.
func readingCost(ctx context.Context, read func(context.Context) (uint64, error)) (uint64, error) {
	prev, err := read(ctx)
	if err != nil {
		return 0, err
	}
	best := uint64(0)
	for i := range 4 {
		n, err := read(ctx)
		if err != nil {
			return 0, err
		}
		if d := n - prev; i == 0 || d < best {
			best = d
		}
		prev = n
	}
	return best, nil
}

// measureMallocs sets up d to read its server's allocations with read.
// A server that cannot be read leaves the column empty, with a note.
func (m *Main) measureMallocs(ctx context.Context, d *driver, read func(context.Context) (uint64, error)) {
	cost, err := readingCost(ctx, read)
	if err != nil {
		m.logf("cannot read %s's heap allocations (%v): no allocations per token for it", d.name, err)
		return
	}
	d.mallocs, d.mallocsCost = read, cost
}
