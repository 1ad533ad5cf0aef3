// Command gooclaim-loadgen measures the token endpoint (POST /v1/auth/token,
// the client credentials grant of RFC 6749 §4.4) of the real gooclaim-auth
// server against a bare baseline in the same run.
//
// With no flags it creates a temporary SQLite database holding 10000 clients,
// starts `gooclaim-auth serve` on it as a separate process, then two more
// servers, this program re-executed with a hidden subcommand:
//
//   - the ceiling (`ceiling-server`, ceiling.go): a token endpoint written
//     with the standard library only — parse, authenticate against SHA-256
//     secret hashes, sign the same claims with the same key (unsealed by
//     the parent into the temporary directory), answer;
//   - the baseline (`baseline-server`, baseline.go): this module's parser
//     and signer, no client authentication, no rate limit, no request log.
//
// It drives each target in turn with the same load and prints tokens/s,
// latency percentiles, server CPU and heap allocations per token and the
// non-200 answers of each, the service/ceiling ratios (issue 14's goal:
// ceiling CPU per token ÷ service's ≥ 0.90) and the service/baseline ones.
// The servers run on the first CPU with GOMAXPROCS=1 and this program on
// the others (pin.go; --pin=false shares them).
//
// With --tls the service and the ceiling serve HTTPS with a self-signed
// certificate and are driven with keep-alive connections, a new connection
// per request resuming a TLS session, and a new connection per request with
// a full handshake (tlsmode.go); the report adds the resumptions counted and
// what a new connection costs.
//
// With --scaleout it also starts a third target, `gooclaim-auth serve` as one
// node of a fleet runs it: over PostgreSQL (--postgres-url, in a schema
// gooclaim_loadgen_<random> made for the run) with the fleet-wide Redis rate
// limiter (--redis-url, under the key prefix gooclaim:loadgen:<random>:),
// holding the same clients with the same secrets. It is driven in the same
// rounds, and the report adds the scale-out/embedded ratio of tokens/s. The
// schema is dropped and the keys deleted at exit, interrupted or not, unless
// --keep.
//
// With --target URL --clients-file FILE it drives an already running server
// instead, with the credentials in FILE (a JSON array of
// {"client_id": …, "client_secret": …}).
//
// With --soak DURATION it measures one service's capacity closed loop,
// then sends requests open loop at --soak-load (80%) of it for DURATION,
// reading the server's ops listener (/metrics: resident memory, heap in use,
// goroutines, open descriptors) every --sample-every, and reports the
// latency per interval, the errors by status and whether each series stays
// flat after the warm-up (soak.go).
//
// With --growth 1000,100000,1000000 it builds one database per size (in
// bulk), starts one service per database, times each start-up to ready,
// reads its memory, and drives them all in alternating rounds over an
// active subset of clients and over all of them, then the JWK Set and
// discovery document beside the token load on the largest (growth.go).
//
// The servers run on loopback only; all are stopped when the run ends or
// is interrupted, and the temporary directory is removed unless --keep.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// baselineCommand is the hidden subcommand that runs the baseline server.
const baselineCommand = "baseline-server"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first interrupt, restore the default behaviour so that a
		// second one ends the program at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == baselineCommand {
		if err := runBaseline(ctx, args[1:], stderr); err != nil {
			fmt.Fprintln(stderr, "baseline-server:", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 && args[0] == ceilingCommand {
		if err := runCeiling(ctx, args[1:], stderr); err != nil {
			fmt.Fprintln(stderr, "ceiling-server:", err)
			return 1
		}
		return 0
	}
	m := NewMain(stdout, stderr)
	if err := m.ParseFlags(args); err != nil {
		if err == errHelp {
			return 0
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted: the servers are stopped and the temporary directory removed (unless --keep)")
		return 130
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}
