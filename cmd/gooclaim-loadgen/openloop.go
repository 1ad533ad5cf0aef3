package main

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// intervalStats is what an open-loop run saw in one sampling interval.
type intervalStats struct {
	Seconds  float64        `json:"t_seconds"` // end of the interval, since the start
	Sent     int            `json:"sent"`
	OK       int            `json:"ok"`
	Non200   map[string]int `json:"non_200,omitempty"`
	P50Ms    float64        `json:"p50_ms"`
	P99Ms    float64        `json:"p99_ms"`
	MaxMs    float64        `json:"max_ms"`
	Sample   *opsSample     `json:"server,omitempty"`
	ScrapeEr string         `json:"scrape_error,omitempty"`

	lat []time.Duration
}

// openLoop sends requests at a constant rate, whatever the answers' latency:
// the arrival rate a real population of clients would have. Request n is due
// at start+n/rate; its latency counts from when it was due, so a server that
// falls behind shows it in the percentiles (no coordinated omission). The
// requests go round-robin over d's clients through up to `workers` keep-alive
// connections. Every `every` it closes an interval, calls sample (the
// server's metrics) and passes the interval to onInterval.
type openLoop struct {
	d          *driver
	rate       float64
	workers    int
	duration   time.Duration
	every      time.Duration
	timeout    time.Duration
	sample     func(context.Context) (opsSample, error)
	onInterval func(*intervalStats)
}

type answer struct {
	lat    time.Duration
	status string // "200", another status, "timeout" or "conn_error"
}

func (o *openLoop) run(ctx context.Context) ([]*intervalStats, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.workers,
		MaxIdleConnsPerHost: o.workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	start := time.Now()
	end := start.Add(o.duration)
	due := make(chan time.Time, o.workers*4)
	results := make(chan answer, 4096)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() {
			for t := range due {
				i := int((o.d.next.Add(1) - 1) % uint64(len(o.d.reqs.bodies)))
				status, _, _, err := o.d.do(ctx, client, i, false)
				r := answer{lat: time.Since(t), status: strconv.Itoa(status)}
				if err != nil {
					r.status = errorKind(err)
				}
				if ctx.Err() != nil {
					return
				}
				results <- r
			}
		})
	}
	// The scheduler: every millisecond, release the requests now due.
	go func() {
		defer close(due)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		sent := 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if !now.Before(end) {
					return
				}
				n := int(now.Sub(start).Seconds() * o.rate)
				for ; sent < n; sent++ {
					at := start.Add(time.Duration(float64(sent) / o.rate * float64(time.Second)))
					select {
					case due <- at:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	var out []*intervalStats
	cur := &intervalStats{Non200: map[string]int{}}
	nextClose := start.Add(o.every)
	closeInterval := func(at time.Time) {
		cur.Seconds = at.Sub(start).Seconds()
		slices.Sort(cur.lat)
		cur.P50Ms, cur.P99Ms = ms(percentile(cur.lat, 0.5)), ms(percentile(cur.lat, 0.99))
		if len(cur.lat) > 0 {
			cur.MaxMs = ms(cur.lat[len(cur.lat)-1])
		}
		cur.lat = nil
		if o.sample != nil {
			if s, err := o.sample(ctx); err != nil {
				cur.ScrapeEr = err.Error()
			} else {
				s.Seconds = cur.Seconds
				cur.Sample = &s
			}
		}
		if o.onInterval != nil {
			o.onInterval(cur)
		}
		out = append(out, cur)
		cur = &intervalStats{Non200: map[string]int{}}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				if cur.Sent > 0 {
					closeInterval(time.Now())
				}
				return out, ctx.Err()
			}
			cur.Sent++
			cur.lat = append(cur.lat, r.lat)
			if r.status == "200" {
				cur.OK++
			} else {
				cur.Non200[r.status]++
			}
		case now := <-tick.C:
			if !now.Before(nextClose) {
				closeInterval(now)
				nextClose = nextClose.Add(o.every)
			}
		}
	}
}
