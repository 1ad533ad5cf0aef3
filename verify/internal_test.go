package verify

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestCacheLifetime(t *testing.T) {
	for _, tc := range []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"", "", MinCacheAge},
		{"public, max-age=300", "", 5 * time.Minute},
		{"public, MAX-AGE=300", "100", 200 * time.Second},
		{"max-age=0", "", MinCacheAge},
		{"max-age=10", "", MinCacheAge},
		{"max-age=86400", "", MaxCacheAge},
		{"max-age=99999999999999999999", "", MinCacheAge}, // unparsable: ignored
		{"max-age=600, no-cache", "", MinCacheAge},
		{"no-store", "", MinCacheAge},
		{`max-age="900"`, "", 15 * time.Minute},
		{"max-age=-5", "", MinCacheAge},
		{"max-age=300", "1000", MinCacheAge},
	} {
		h := http.Header{}
		if tc.cacheControl != "" {
			h.Set("Cache-Control", tc.cacheControl)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := cacheLifetime(h); got != tc.want {
			t.Errorf("Cache-Control %q, Age %q: %v, want %v", tc.cacheControl, tc.age, got, tc.want)
		}
	}
}

func TestMetadataURLs(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		want   []string
	}{
		{"https://auth.gooclaim.com", []string{
			"https://auth.gooclaim.com/.well-known/oauth-authorization-server",
			"https://auth.gooclaim.com/.well-known/openid-configuration",
		}},
		{"https://gooclaim.com/auth/", []string{
			"https://gooclaim.com/.well-known/oauth-authorization-server/auth",
			"https://gooclaim.com/auth/.well-known/oauth-authorization-server",
			"https://gooclaim.com/auth/.well-known/openid-configuration",
		}},
	} {
		if got := metadataURLs(tc.issuer); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.issuer, got, tc.want)
		}
	}
}

func TestQuoteAndHeaderSafe(t *testing.T) {
	if got := quote("a\"b\\c'd\ne\u00e9"); got != "'a?b?c?d?e?'" {
		t.Errorf("quote: %s", got)
	}
	long := quote(string(make([]byte, 100)))
	if len(long) != 48+2+3 {
		t.Errorf("quote of 100 bytes is %d long: %s", len(long), long)
	}
	if got := headerSafe("RFC 6750 §3: \"x\" \\ \u00e9\t"); got != `RFC 6750 section 3: ?x? ? ??` {
		t.Errorf("headerSafe: %s", got)
	}
}
