package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		peer      string
		xff, fwd  []string
		want      string
		noTrusted bool
	}{
		{name: "no header", peer: "10.0.0.5:4000", want: "10.0.0.5"},
		{name: "untrusted peer: XFF ignored", peer: "198.51.100.9:4000", xff: []string{"203.0.113.7"}, want: "198.51.100.9"},
		{name: "untrusted peer: Forwarded ignored", peer: "198.51.100.9:4000", fwd: []string{"for=203.0.113.7"}, want: "198.51.100.9"},
		{name: "nothing trusted", peer: "10.0.0.5:4000", xff: []string{"203.0.113.7"}, want: "10.0.0.5", noTrusted: true},
		{name: "XFF from a trusted proxy", peer: "10.0.0.5:4000", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "XFF: left-most spoofed entries ignored", peer: "10.0.0.5:4000", xff: []string{"1.1.1.1, 2.2.2.2, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "XFF: trusted hops skipped", peer: "10.0.0.5:4000", xff: []string{"1.1.1.1, 203.0.113.7, 10.1.2.3, 192.0.2.1"}, want: "203.0.113.7"},
		{name: "XFF: repeated headers are one list", peer: "10.0.0.5:4000", xff: []string{"1.1.1.1", "203.0.113.7, 10.9.9.9"}, want: "203.0.113.7"},
		{name: "XFF: every hop trusted gives the left-most", peer: "10.0.0.5:4000", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
		{name: "XFF: IPv6 and a port", peer: "10.0.0.5:4000", xff: []string{"[2001:db8::7]:5555"}, want: "2001:db8::7"},
		{name: "XFF: IPv6 bare", peer: "10.0.0.5:4000", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "XFF: IPv4-mapped", peer: "10.0.0.5:4000", xff: []string{"::ffff:203.0.113.7"}, want: "203.0.113.7"},
		{name: "XFF: malformed from the trusted proxy", peer: "10.0.0.5:4000", xff: []string{"not-an-ip"}, want: "10.0.0.5"},
		{name: "XFF: empty entry", peer: "10.0.0.5:4000", xff: []string{"203.0.113.7, "}, want: "10.0.0.5"},
		{name: "XFF: garbage left of the client is never read", peer: "10.0.0.5:4000", xff: []string{"garbage, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "XFF: malformed on the trusted part", peer: "10.0.0.5:4000", xff: []string{"203.0.113.7, bogus, 10.1.1.1"}, want: "10.0.0.5"},
		{name: "IPv6 peer trusted", peer: "[2001:db8:ffff::1]:4000", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "Forwarded", peer: "10.0.0.5:4000", fwd: []string{"for=203.0.113.7;proto=https;by=10.0.0.5"}, want: "203.0.113.7"},
		{name: "Forwarded: case and spaces", peer: "10.0.0.5:4000", fwd: []string{"For=198.51.100.3 ; Proto=http"}, want: "198.51.100.3"},
		{name: "Forwarded: quoted IPv6 with port", peer: "10.0.0.5:4000", fwd: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded: quoted IPv4 with port", peer: "10.0.0.5:4000", fwd: []string{`for="203.0.113.7:80"`}, want: "203.0.113.7"},
		{name: "Forwarded: list, spoofed left ignored", peer: "10.0.0.5:4000", fwd: []string{"for=1.1.1.1, for=203.0.113.7", "for=10.4.4.4"}, want: "203.0.113.7"},
		{name: "Forwarded: quoted comma does not split", peer: "10.0.0.5:4000", fwd: []string{`for=203.0.113.7;host="a,b"`}, want: "203.0.113.7"},
		{name: "Forwarded: unknown", peer: "10.0.0.5:4000", fwd: []string{"for=unknown"}, want: "10.0.0.5"},
		{name: "Forwarded: obfuscated", peer: "10.0.0.5:4000", fwd: []string{"for=_hidden"}, want: "10.0.0.5"},
		{name: "Forwarded: no for", peer: "10.0.0.5:4000", fwd: []string{"proto=https"}, want: "10.0.0.5"},
		{name: "Forwarded: unterminated quote", peer: "10.0.0.5:4000", fwd: []string{`for="203.0.113.7`}, want: "10.0.0.5"},
		{name: "Forwarded: unquoted port is not a token", peer: "10.0.0.5:4000", fwd: []string{"for=203.0.113.7:80"}, want: "10.0.0.5"},
		{name: "Forwarded: parameter twice", peer: "10.0.0.5:4000", fwd: []string{"for=203.0.113.7;for=1.1.1.1"}, want: "10.0.0.5"},
		{name: "Forwarded: garbage", peer: "10.0.0.5:4000", fwd: []string{";;=,"}, want: "10.0.0.5"},
		{name: "both headers agree", peer: "10.0.0.5:4000", xff: []string{"203.0.113.7"}, fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "both headers disagree: one is the client's", peer: "10.0.0.5:4000", xff: []string{"1.1.1.1, 203.0.113.7"}, fwd: []string{"for=1.1.1.1"}, want: "10.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			tr := trusted
			if tc.noTrusted {
				tr = nil
			}
			if got := ClientAddr(r, tr); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"10.1.2.3/8", " 192.0.2.1 ", "::1", ""})
	if err != nil || len(got) != 3 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.0.2.1/32" || got[2].String() != "::1/128" {
		t.Fatalf("ParsePrefixes = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := ParsePrefixes([]string{bad}); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", bad)
		}
	}
}
