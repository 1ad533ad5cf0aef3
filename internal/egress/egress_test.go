package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gooclaim/auth/internal/egress"
)

// last returns the last address of p.
func last(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// middle returns an address inside p, away from both ends.
func middle(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	if p.Bits() < len(b)*8 {
		i := p.Bits()
		b[i/8] |= 0x80 >> (i % 8) // the first host bit: the start of the upper half
	}
	b[len(b)-1] |= 0x01
	a, _ := netip.AddrFromSlice(b)
	if !p.Contains(a) {
		return p.Addr()
	}
	return a
}

// wantDenied fails unless err is a *DeniedError for a, naming a range
// that holds it.
func wantDenied(t *testing.T, a netip.Addr, err error) *egress.DeniedError {
	t.Helper()
	de, ok := errors.AsType[*egress.DeniedError](err)
	if !ok {
		t.Fatalf("%s: error %v, want a *DeniedError", a, err)
	}
	if !de.Range.Prefix.Contains(a.WithZone("").Unmap()) {
		t.Fatalf("%s: refused as in %s, which does not hold it", a, de.Range)
	}
	if !strings.Contains(err.Error(), de.Range.Prefix.String()) || !strings.Contains(err.Error(), a.WithZone("").String()) {
		t.Fatalf("error %q names neither %s nor its range %s", err, a, de.Range.Prefix)
	}
	return de
}

// TestEveryRangeIsDenied: the first, a middle and the last address of every
// range are refused, each reported in the most specific range holding it.
func TestEveryRangeIsDenied(t *testing.T) {
	all := egress.Denied()
	if len(all) < 50 {
		t.Fatalf("%d ranges: the two registries alone have 50 entries", len(all))
	}
	for _, rg := range all {
		for _, a := range []netip.Addr{rg.Prefix.Addr(), middle(rg.Prefix), last(rg.Prefix)} {
			de := wantDenied(t, a, egress.Check(a))
			if de.Range.Prefix.Bits() < rg.Prefix.Bits() {
				t.Errorf("%s reported in %s, less specific than %s", a, de.Range.Prefix, rg.Prefix)
			}
			for _, other := range all {
				if other.Prefix.Contains(a) && other.Prefix.Bits() > de.Range.Prefix.Bits() {
					t.Errorf("%s reported in %s, but %s is more specific", a, de.Range.Prefix, other.Prefix)
				}
			}
		}
	}
}

// TestAddresses: named ranges, their edges from outside, mapped and zoned
// forms, and public addresses that must pass.
func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		range_ string // "" for a public address
	}{
		// The gaps of issue 12: carrier-grade NAT (and the Alibaba Cloud
		// metadata service in it), benchmarking, "this network", NAT64, 6to4.
		{"100.64.0.0", "100.64.0.0/10"},
		{"100.100.100.200", "100.64.0.0/10"},
		{"100.127.255.255", "100.64.0.0/10"},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"198.18.0.0", "198.18.0.0/15"},
		{"198.19.255.255", "198.18.0.0/15"},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"0.0.0.0", "0.0.0.0/32"},
		{"0.1.2.3", "0.0.0.0/8"},
		{"0.255.255.255", "0.0.0.0/8"},
		{"1.0.0.0", ""},
		{"64:ff9b::808:808", "64:ff9b::/96"},                  // NAT64 of 8.8.8.8: refused whole
		{"64:ff9b::7f00:1", "64:ff9b::/96"},                   // NAT64 of 127.0.0.1
		{"64:ff9b:1::a00:1", "64:ff9b:1::/48"},                // local-use NAT64
		{"2002:7f00:1::1", "2002::/16"},                       // 6to4 of 127.0.0.1
		{"2002:808:808::1", "2002::/16"},                      // 6to4 of 8.8.8.8: refused whole
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"}, // Teredo
		{"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"},
		{"2001:200::", ""},
		// Loopback, private, link-local, metadata services.
		{"127.0.0.1", "127.0.0.0/8"},
		{"127.255.255.255", "127.0.0.0/8"},
		{"126.255.255.255", ""},
		{"128.0.0.0", ""},
		{"10.0.0.1", "10.0.0.0/8"},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"172.16.0.0", "172.16.0.0/12"},
		{"172.31.255.255", "172.16.0.0/12"},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.168.1.1", "192.168.0.0/16"},
		{"169.254.169.254", "169.254.0.0/16"}, // AWS, GCP, Azure metadata
		{"169.253.255.255", ""},
		{"169.255.0.0", ""},
		{"fd00:ec2::254", "fc00::/7"}, // AWS metadata over IPv6
		{"fe80::1", "fe80::/10"},
		{"fe80::1%eth0", "fe80::/10"},
		{"::1", "::1/128"},
		{"::", "::/128"},
		{"::127.0.0.1", "::/96"}, // IPv4-compatible
		// The registry's most specific entries win.
		{"192.0.0.9", "192.0.0.9/32"},
		{"192.0.0.5", "192.0.0.0/29"},
		{"192.0.0.200", "192.0.0.0/24"},
		{"192.0.1.0", ""},
		{"192.88.99.2", "192.88.99.2/32"},
		{"192.88.99.1", "192.88.99.0/24"},
		{"2001:1::3", "2001:1::3/128"},
		{"2001:db8::1", "2001:db8::/32"},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ""},
		{"2001:db9::", ""},
		{"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20"},
		{"3fff:1000::", ""},
		// Multicast, reserved, broadcast.
		{"224.0.0.1", "224.0.0.0/4"},
		{"239.255.255.255", "224.0.0.0/4"},
		{"223.255.255.255", ""},
		{"240.0.0.1", "240.0.0.0/4"},
		{"255.255.255.255", "255.255.255.255/32"},
		{"ff02::1", "ff00::/8"},
		{"fec0::1", "fec0::/10"},
		// Outside 2000::/3.
		{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3"},
		{"4000::1", "4000::/2"},
		{"5f00::1", "5f00::/16"},
		{"8000::1", "8000::/1"},
		{"2000::", ""},
		{"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
		// IPv4-mapped: checked as IPv4.
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"::ffff:169.254.169.254", "169.254.0.0/16"},
		{"::ffff:100.64.0.1", "100.64.0.0/10"},
		{"::ffff:8.8.8.8", ""},
		// Public.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"9.9.9.9", ""},
		{"2606:4700:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			err := egress.Check(a)
			if tc.range_ == "" {
				if err != nil {
					t.Fatalf("a public address refused: %v", err)
				}
				return
			}
			de := wantDenied(t, a, err)
			if got := de.Range.Prefix.String(); got != tc.range_ {
				t.Errorf("in %s, want %s", got, tc.range_)
			}
		})
	}
}

// TestMappedErrorNamesBoth: a refused IPv4-mapped address is named as
// given and as the IPv4 address checked.
func TestMappedErrorNamesBoth(t *testing.T) {
	err := egress.Check(netip.MustParseAddr("::ffff:127.0.0.1"))
	want := "::ffff:127.0.0.1 is the IPv4 address 127.0.0.1, in 127.0.0.0/8 (Loopback, RFC 1122 §3.2.1.3): not a public address"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// TestAllow: a prefix of Allow is let through; the rest of its range is not.
func TestAllow(t *testing.T) {
	p := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	if err := p.Check(netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Errorf("an allowed address: %v", err)
	}
	if err := p.Check(netip.MustParseAddr("::ffff:10.1.2.3")); err != nil {
		t.Errorf("an allowed address, mapped: %v", err)
	}
	wantDenied(t, netip.MustParseAddr("10.2.0.1"), p.Check(netip.MustParseAddr("10.2.0.1")))
}

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // part of the error; "" for none
	}{
		{"localhost", `"localhost" always resolves to a loopback address`},
		{"LocalHost.", "loopback"},
		{"keys.localhost", "loopback"},
		{"127.0.0.1", "127.0.0.0/8"},
		{"::1", "::1/128"},
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"fe80::1%eth0", "fe80::/10"},
		{"100.100.100.200", "100.64.0.0/10"},
		{"169.254.169.254", "169.254.0.0/16"},
		{"127.1", "four decimal numbers"},
		{"0x7f000001", "four decimal numbers"},
		{"2130706433", "four decimal numbers"},
		{"0177.0.0.1", "four decimal numbers"},
		{"keys.example.com", ""},
		{"localhost.example.com", ""},
		{"1e100.net", ""},
		{"8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
	} {
		t.Run(tc.host, func(t *testing.T) {
			err := egress.CheckHost(tc.host)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "auth.localhost": true, "127.0.0.1": true, "127.3.2.1": true,
		"::1": true, "::ffff:127.0.0.1": true,
		"auth.internal": false, "localhost.example.com": false, "10.0.0.1": false, "0.0.0.0": false, "::": false, "": false,
	} {
		if got := egress.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		address string
		denied  bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"[::ffff:169.254.169.254]:80", true},
		{"[fe80::1%eth0]:80", true},
		{"100.100.100.200:80", true},
		{"8.8.8.8:443", false},
		{"[2606:4700:4700::1111]:443", false},
	} {
		err := egress.Control("tcp", tc.address, nil)
		if tc.denied {
			if _, ok := errors.AsType[*egress.DeniedError](err); !ok {
				t.Errorf("Control(%s) = %v, want a *DeniedError", tc.address, err)
			}
		} else if err != nil {
			t.Errorf("Control(%s) = %v, want nil", tc.address, err)
		}
	}
	// What cannot be checked is refused.
	for _, address := range []string{"localhost:80", "no-port", ""} {
		if err := egress.Control("tcp", address, nil); err == nil {
			t.Errorf("Control(%q) = nil, want an error", address)
		}
	}
}

// countingServer is a real server on addr ("127.0.0.1:0", "[::1]:0", …)
// that counts the connections made to it.
func countingServer(t *testing.T, addr string, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

// TestTransportRefusesLoopback: the transport does not connect to a
// loopback server, named by address or by a name resolving to it; allowed,
// the same request succeeds (so the refusal is the policy's doing).
func TestTransportRefusesLoopback(t *testing.T) {
	srv, conns := countingServer(t, "127.0.0.1:0", ok)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	denied := &http.Client{Transport: egress.NewTransport()}
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		resp, err := denied.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s: %s, want a refusal", u, resp.Status)
		}
		if de, ok := errors.AsType[*egress.DeniedError](err); !ok || de.Range.Prefix.String() != "127.0.0.0/8" {
			t.Errorf("GET %s: %v, want a *DeniedError in 127.0.0.0/8", u, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections to the loopback server", n)
	}
	allowed := &http.Client{Transport: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}.Transport()}
	resp, err := allowed.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET %s with 127.0.0.1 allowed: %v", srv.URL, err)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections with 127.0.0.1 allowed, want 1", n)
	}
}

// TestTransportRefusesRedirectTarget: a redirect from an allowed server to
// a denied address is refused when connecting to the target: the check is
// in the dialer, so it sees every connection the client makes.
func TestTransportRefusesRedirectTarget(t *testing.T) {
	target, targetConns := countingServer(t, "[::1]:0", ok)
	var redirects atomic.Int32
	first, _ := countingServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, target.URL+"/jwks.json", http.StatusFound)
	}))
	client := &http.Client{Transport: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}.Transport()}
	resp, err := client.Get(first.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s: %s, want the redirect to %s refused", first.URL, resp.Status, target.URL)
	}
	if redirects.Load() != 1 {
		t.Fatalf("the allowed server answered %d times, want 1: the test proves nothing", redirects.Load())
	}
	if de, ok := errors.AsType[*egress.DeniedError](err); !ok || de.Range.Prefix.String() != "::1/128" {
		t.Errorf("error %v, want a *DeniedError in ::1/128", err)
	}
	if n := targetConns.Load(); n != 0 {
		t.Fatalf("%d connections to the redirect's target", n)
	}
}

// TestGuard: a caller's transport keeps its settings but loses its proxy
// and its dialer; one that makes its own TLS connections is refused.
func TestGuard(t *testing.T) {
	srv, conns := countingServer(t, "127.0.0.1:0", ok)
	proxyURL, _ := url.Parse("http://" + srv.Listener.Addr().String())
	var dialed atomic.Int32
	base := &http.Transport{
		Proxy:        http.ProxyURL(proxyURL),
		MaxIdleConns: 7,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed.Add(1)
			return net.Dial(network, addr)
		},
		IdleConnTimeout: 42,
	}
	g, err := egress.Policy{}.Guard(base)
	if err != nil {
		t.Fatal(err)
	}
	if g == base || g.Proxy != nil || g.MaxIdleConns != 7 || g.IdleConnTimeout != 42 || base.Proxy == nil {
		t.Fatalf("Guard: %+v from %+v", g, base)
	}
	resp, err := (&http.Client{Transport: g}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a guarded transport connected to loopback")
	}
	if dialed.Load() != 0 || conns.Load() != 0 {
		t.Fatalf("the caller's dialer ran %d times; %d connections to the server", dialed.Load(), conns.Load())
	}
	base.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return nil, errors.New("unused") }
	if _, err := (egress.Policy{}).Guard(base); err == nil || !strings.Contains(err.Error(), "DialTLSContext") {
		t.Fatalf("Guard of a transport with its own TLS dialer: %v", err)
	}
}
