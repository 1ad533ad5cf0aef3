package redis

// Queued is the number of requests of l waiting for the next round trip.
func Queued(l *Limiter) int {
	l.batch.mu.Lock()
	defer l.batch.mu.Unlock()
	return len(l.batch.queue)
}

// MaxInFlight is how many round trips a Limiter sends at a time.
const MaxInFlight = maxInFlight
