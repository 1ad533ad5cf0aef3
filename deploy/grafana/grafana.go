// Package grafana ships the Grafana dashboard of Gooclaim Auth,
// gooclaim-auth.json: tokens by outcome and their latency, the rate
// limiter's backend and fallbacks, store and Redis errors and latency, the
// replica's sync age, the signing keys' age and time to rotation, and the
// build of each node. Its queries read the metrics of package metrics, and
// a test checks each name and label they use against a scrape, so that the
// two cannot drift apart.
//
// Import it in Grafana (Dashboards → New → Import), choosing a Prometheus
// data source that scrapes every node's ops listener (GET /metrics).
package grafana

import _ "embed"

// Dashboard is gooclaim-auth.json.
//
//go:embed gooclaim-auth.json
var Dashboard []byte
