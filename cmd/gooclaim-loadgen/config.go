package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
)

// Config is one run's settings. DefaultConfig holds the defaults; the zero
// value is not used.
type Config struct {
	// Clients is how many clients are created; requests go to them round-robin.
	Clients int
	// ServerBin is the gooclaim-auth binary; empty: beside this program, else built.
	ServerBin string
	// Alg is the signing algorithm of the server's key (serve --signing-alg).
	Alg string
	// Connections is the number of concurrent workers, each keeping one connection alive.
	Connections int
	// Duration is how long each target is measured, after Warmup.
	Duration time.Duration
	// Warmup is how long each target is driven before measuring starts.
	Warmup time.Duration
	// Rounds is how many times each target is driven, alternating baseline, service (and scaleout).
	Rounds int
	// Body is the request encoding: "form" or "json".
	Body string
	// Auth is the client authentication method: "post" (client_secret_post) or "basic".
	Auth string
	// RateLimit is passed to serve --rate-limit when set; empty keeps the server's default.
	RateLimit string
	// NoRequestLog passes serve --no-request-log.
	NoRequestLog bool
	// JSON prints the report as one JSON object.
	JSON bool
	// Keep keeps the temporary directory (database, KEK, logs, clients.json).
	Keep bool
	// StartTimeout bounds building the server and waiting for each server to be ready.
	StartTimeout time.Duration
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
	// Target is the token endpoint's base URL of an already running server;
	// with ClientsFile, no server is started and no baseline is measured.
	Target string
	// ClientsFile holds the credentials for Target: [{"client_id":…,"client_secret":…}].
	ClientsFile string
	// Scaleout also starts and drives a third target: serve over PostgreSQL
	// (a fresh schema of PostgresURL's database) with the Redis rate limiter
	// (a fresh key prefix in RedisURL's Redis), holding the same clients.
	Scaleout bool
	// PostgresURL is the PostgreSQL database of the scale-out target.
	PostgresURL string
	// RedisURL is the Redis of the scale-out target.
	RedisURL string
	// Pin runs the servers on the first allowed CPU (GOMAXPROCS=1) and the
	// load generator on the others, where possible (pin.go).
	Pin bool
	// TLS serves the service and the ceiling over HTTPS with a self-signed
	// certificate and drives each in the three connection modes (tlsmode.go).
	TLS bool
	// ReconnectConnections is the number of workers in the TLS modes that
	// open a connection per request.
	ReconnectConnections int

	// Soak, when set, runs the soak instead: the capacity measured closed
	// loop (Rounds × Duration), then an open-loop constant rate of SoakLoad
	// times it for Soak, the server's memory, goroutines and open fds read
	// from its ops listener every SampleEvery, and a verdict on whether they
	// stay flat after SoakWarmup (zero: a third of Soak, at most a minute).
	Soak        time.Duration
	SoakLoad    float64
	SoakWarmup  time.Duration
	SampleEvery time.Duration

	// Growth, when set, runs the growth measurement instead: one database
	// and one server per number of clients, each driven round-robin over
	// its first Active clients and over all of them, in Rounds alternating
	// rounds; and on the largest, a mixed run with GetWorkers workers
	// fetching the JWK Set and the discovery document.
	Growth     []int
	Active     int
	GetWorkers int

	// Policies, when set, runs the policies measurement instead: one
	// service, Clients plain clients and Clients more with three claim
	// expressions and a condition, driven in Rounds alternating rounds
	// (policies.go).
	Policies bool
	// Reuse, when set, runs the token reuse measurement instead: one
	// service, Clients clients whose tokens are always signed and Clients
	// more whose live tokens are given again, in Rounds alternating rounds
	// (reuse.go).
	Reuse bool
}

// Defaults of --postgres-url and --redis-url when their environment
// variables (the ones the backend tests read) are unset.
const (
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// envOr returns the environment variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// DefaultConfig returns the settings of a run without flags.
func DefaultConfig() Config {
	return Config{
		Clients:        10000,
		Alg:            auth.ES256,
		Connections:    64,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Rounds:         1,
		Body:           "form",
		Auth:           "post",
		StartTimeout:   2 * time.Minute,
		RequestTimeout: 10 * time.Second,
		PostgresURL:    envOr("GOOCLAIM_TEST_POSTGRES_URL", defaultPostgresURL),
		RedisURL:       envOr("GOOCLAIM_TEST_REDIS_URL", defaultRedisURL),
		SoakLoad:       0.8,
		SampleEvery:    10 * time.Second,
		Active:         1000,
		GetWorkers:     4,
		Pin:            true,

		ReconnectConnections: 16,
	}
}

var errHelp = errors.New("help requested")

// ParseFlags reads the command line into m.Config and validates it.
func (m *Main) ParseFlags(args []string) error {
	c := DefaultConfig()
	fs := flag.NewFlagSet("gooclaim-loadgen", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.IntVar(&c.Clients, "clients", c.Clients, "number of clients to create; requests go to them round-robin")
	fs.StringVar(&c.ServerBin, "server-bin", "", "gooclaim-auth binary (default: gooclaim-auth beside this program, else built with go build ./cmd/gooclaim-auth)")
	fs.StringVar(&c.Alg, "alg", c.Alg, "signing algorithm of the server's key: ES256, EdDSA or RS256")
	fs.IntVar(&c.Connections, "connections", c.Connections, "concurrent workers, each with its own keep-alive connection")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured time per target and round")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured load before each measurement")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "rounds of ceiling, baseline, service (and scaleout with --scaleout), one after the other, the order reversed every other round; the report shows medians")
	fs.StringVar(&c.Body, "body", c.Body, "request body encoding: form or json")
	fs.StringVar(&c.Auth, "auth", c.Auth, "client authentication: post (client_secret_post) or basic (client_secret_basic)")
	fs.StringVar(&c.RateLimit, "rate-limit", "", "passed to serve --rate-limit, LIMIT/WINDOW (default: the server's, 60/1m per client)")
	fs.BoolVar(&c.NoRequestLog, "no-request-log", false, "pass --no-request-log to serve (the request log is on in the real service)")
	fs.BoolVar(&c.JSON, "json", false, "print the report as one JSON object")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary directory (database, key-encryption key, server logs, clients.json)")
	fs.DurationVar(&c.StartTimeout, "start-timeout", c.StartTimeout, "time allowed to build the server and for each server to become ready")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "time allowed for one request")
	fs.StringVar(&c.Target, "target", "", "base URL of an already running server to drive instead (needs --clients-file)")
	fs.StringVar(&c.ClientsFile, "clients-file", "", `credentials for --target: a JSON array of {"client_id":…,"client_secret":…}`)
	fs.BoolVar(&c.Scaleout, "scaleout", false, "also start and drive serve over PostgreSQL (--postgres-url, a fresh schema) with the Redis rate limiter (--redis-url, a fresh key prefix), holding the same clients")
	fs.StringVar(&c.PostgresURL, "postgres-url", c.PostgresURL, "PostgreSQL database of the --scaleout target (default: $GOOCLAIM_TEST_POSTGRES_URL, else "+defaultPostgresURL+"); a schema gooclaim_loadgen_<random> is created in it and dropped at exit")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "Redis of the --scaleout target (default: $GOOCLAIM_TEST_REDIS_URL, else "+defaultRedisURL+"); its keys go under gooclaim:loadgen:<random>: and are deleted at exit")
	fs.BoolVar(&c.Pin, "pin", c.Pin, "run the servers on the first CPU (GOMAXPROCS=1) and the load generator on the others (Linux, 2 CPUs or more; --pin=false: share them)")
	fs.BoolVar(&c.TLS, "tls", false, "serve the service and the ceiling over HTTPS (a self-signed P-256 certificate) and drive each with keep-alive, a new connection per request with TLS session resumption, and a new connection per request with a full handshake")
	fs.IntVar(&c.ReconnectConnections, "reconnect-connections", c.ReconnectConnections, "--tls: concurrent workers in the modes that open a connection per request (the same for every target)")
	fs.DurationVar(&c.Soak, "soak", 0, "run a soak of this duration instead: measure the capacity (--rounds × --duration, closed loop), then hold --soak-load of it, open loop, sampling the server's /metrics every --sample-every; prints a flat/grows verdict")
	fs.Float64Var(&c.SoakLoad, "soak-load", c.SoakLoad, "the soak's rate as a fraction of the measured capacity")
	fs.DurationVar(&c.SoakWarmup, "soak-warmup", 0, "the soak's warm-up, excluded from the verdict (default: a third of --soak, at most 1m)")
	fs.DurationVar(&c.SampleEvery, "sample-every", c.SampleEvery, "the soak's sampling interval")
	fs.Func("growth", "run the growth measurement instead, on these numbers of clients, e.g. 1000,100000,1000000", func(v string) error {
		c.Growth = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("%q: want a comma-separated list of positive numbers", v)
			}
			c.Growth = append(c.Growth, n)
		}
		return nil
	})
	fs.IntVar(&c.Active, "active", c.Active, "--growth: the size of the active subset driven round-robin beside all clients")
	fs.IntVar(&c.GetWorkers, "get-workers", c.GetWorkers, "--growth: workers fetching the JWK Set and discovery document during the mixed run (0: no mixed run)")
	fs.BoolVar(&c.Policies, "policies", false, "run the policies measurement instead: one service, --clients plain clients and --clients more with three claim expressions and a condition in CEL, driven one set after the other in each of --rounds rounds; prints tokens/s, CPU and allocations per token of each and the ratio policies ÷ plain (goal ≥ 0.95)")
	fs.BoolVar(&c.Reuse, "reuse", false, "run the token reuse measurement instead: one service, --clients clients that always get a new token and --clients more whose live token is given again (token_reuse on), driven one set after the other in each of --rounds rounds, and the ceiling serving the same two sets likewise (what the standard library allows); prints tokens/s, CPU and allocations per token of each and the ratio reused ÷ signed of each (goal ≥ 3)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: gooclaim-loadgen [flags]

Measures POST /v1/auth/token of a freshly started gooclaim-auth server against
a ceiling (a token endpoint in the standard library only: authenticate, sign,
answer) and a baseline (this module's parser and signer, no authentication),
with the same key, and prints tokens/s, latencies, server CPU and heap
allocations per token, and the service/ceiling ratios. The servers run on the
first CPU, the load generator on the others (--pin=false: shared).

With --tls the service and the ceiling serve HTTPS and are driven with
keep-alive connections, a new connection per request resuming a TLS session,
and a new connection per request with a full handshake.

With --scaleout it also starts gooclaim-auth serve over PostgreSQL and Redis
(the scale-out configuration) with the same clients, drives it in the same
rounds and prints its tokens/s as a percentage of the embedded (SQLite,
in-memory limiter) service's.

With --soak DURATION it holds 80% of the measured capacity, open loop, for
DURATION and says whether the server's memory, goroutines and open fds stay
flat. With --growth N1,N2,… it compares tokens/s, CPU per token, start-up
time and memory across databases of N1, N2, … clients. With --policies it
compares, on one service, clients with three claim expressions and a
condition in CEL against the same clients without them; with --reuse,
clients whose tokens are given again against clients whose tokens are all
signed, on the service and on the ceiling.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	if err := c.validate(); err != nil {
		return err
	}
	m.Config = c
	m.args = args
	return nil
}

// validate checks every setting and reports all problems at once.
func (c *Config) validate() error {
	var p []string
	if c.Target == "" && c.Clients < 1 {
		p = append(p, "--clients: at least 1")
	}
	switch c.Alg {
	case auth.ES256, auth.EdDSA, auth.RS256:
	default:
		p = append(p, fmt.Sprintf("--alg %q: use ES256, EdDSA or RS256", c.Alg))
	}
	if c.Connections < 1 || c.Connections > 10000 {
		p = append(p, "--connections: between 1 and 10000")
	}
	if c.Duration <= 0 {
		p = append(p, "--duration must be positive")
	}
	if c.Warmup < 0 {
		p = append(p, "--warmup must not be negative")
	}
	if c.Rounds < 1 {
		p = append(p, "--rounds: at least 1")
	}
	if c.Body != "form" && c.Body != "json" {
		p = append(p, fmt.Sprintf("--body %q: use form or json", c.Body))
	}
	if c.Auth != "post" && c.Auth != "basic" {
		p = append(p, fmt.Sprintf("--auth %q: use post or basic", c.Auth))
	}
	if c.RateLimit != "" {
		if _, err := auth.ParseRate(c.RateLimit); err != nil {
			p = append(p, "--rate-limit: "+err.Error())
		}
	}
	if c.StartTimeout <= 0 || c.RequestTimeout <= 0 {
		p = append(p, "--start-timeout and --request-timeout must be positive")
	}
	if (c.Target == "") != (c.ClientsFile == "") {
		p = append(p, "--target and --clients-file go together")
	}
	if c.Scaleout {
		if c.Target != "" {
			p = append(p, "--scaleout starts its own servers: it does not go with --target")
		}
		if !strings.HasPrefix(c.PostgresURL, "postgres://") && !strings.HasPrefix(c.PostgresURL, "postgresql://") {
			p = append(p, fmt.Sprintf("--postgres-url %q: want postgres://USER@HOST:PORT/DATABASE?sslmode=…", redactURL(c.PostgresURL)))
		}
		if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
			p = append(p, fmt.Sprintf("--redis-url %q: want redis://HOST:6379/0 or rediss://…", redactURL(c.RedisURL)))
		}
	}
	if c.TLS && (c.Target != "" || c.Scaleout || c.Soak != 0 || len(c.Growth) > 0) {
		p = append(p, "--tls starts its own service and ceiling: not with --target, --scaleout, --soak or --growth")
	}
	if c.ReconnectConnections < 1 || c.ReconnectConnections > 10000 {
		p = append(p, "--reconnect-connections: between 1 and 10000")
	}
	if c.Soak != 0 || len(c.Growth) > 0 {
		if c.Soak != 0 && len(c.Growth) > 0 {
			p = append(p, "--soak and --growth: one at a time")
		}
		if c.Target != "" || c.Scaleout {
			p = append(p, "--soak and --growth start their own service: not with --target or --scaleout")
		}
	}
	if (c.Policies || c.Reuse) && (c.Target != "" || c.Scaleout || c.TLS || c.Soak != 0 || len(c.Growth) > 0) {
		p = append(p, "--policies and --reuse start their own service: not with --target, --scaleout, --tls, --soak or --growth")
	}
	if c.Policies && c.Reuse {
		p = append(p, "--policies and --reuse are two measurements: run them one after the other")
	}
	if c.Soak < 0 || c.SoakWarmup < 0 || (c.Soak > 0 && c.SoakWarmup >= c.Soak) {
		p = append(p, "--soak must be positive and --soak-warmup shorter than it")
	}
	if c.SoakLoad <= 0 || c.SoakLoad > 1 {
		p = append(p, "--soak-load: a fraction in (0, 1]")
	}
	if c.SampleEvery < time.Second {
		p = append(p, "--sample-every: at least 1s")
	}
	if !slices.IsSorted(c.Growth) {
		p = append(p, "--growth: list the sizes in increasing order (the first is the reference)")
	}
	if c.Active < 1 || c.GetWorkers < 0 {
		p = append(p, "--active: at least 1; --get-workers: not negative")
	}
	if c.Target != "" {
		if u, err := url.Parse(c.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("--target %q: an http(s) base URL such as http://127.0.0.1:8080", c.Target))
		}
	}
	if len(p) > 0 {
		return errors.New("invalid settings:\n  " + strings.Join(p, "\n  "))
	}
	return nil
}

// rate is the per-client limit the service applies.
func (c *Config) rate() auth.Rate {
	if c.RateLimit == "" {
		return issuer.DefaultRate
	}
	r, _ := auth.ParseRate(c.RateLimit) // validated
	return r
}

// Main is one run of the load generator: ParseFlags, Run, Close.
type Main struct {
	Config Config

	stdout, stderr io.Writer
	args           []string
	cleanup        []func() // run in reverse order by Close
}

// NewMain returns a Main with the default settings that writes its report to stdout.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr}
}

// Close stops the servers and removes the temporary directory (unless Keep).
func (m *Main) Close() error {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
	m.cleanup = nil
	return nil
}

func (m *Main) onClose(f func()) { m.cleanup = append(m.cleanup, f) }

// logf writes a progress line to stderr.
func (m *Main) logf(format string, args ...any) {
	fmt.Fprintf(m.stderr, "loadgen: "+format+"\n", args...)
}
