package clientauth_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
	"github.com/gooclaim/gooclaim-auth/authtest"
	"github.com/gooclaim/gooclaim-auth/clientauth"
	"github.com/gooclaim/gooclaim-auth/inmem"
)

// TestJWKSURIOnAnInternalAddressIsNotFetched: with the default HTTP client
// and no development allowance, a jwks_uri resolving to a loopback address
// is never connected to.
func TestJWKSURIOnAnInternalAddressIsNotFetched(t *testing.T) {
	var hits atomic.Int32 // connections, not requests: the TLS handshake would fail anyway
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	internal.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			hits.Add(1)
		}
	}
	internal.StartTLS()
	t.Cleanup(internal.Close)
	clock := authtest.NewClock(time.Now())
	v, err := clientauth.NewVerifier(clientauth.Config{
		Issuer: "https://auth.example", Clock: clock,
		Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{ID: "c", JWKSURI: internal.URL + "/jwks.json"}
	assertion := b64([]byte(`{"alg":"ES256","kid":"k"}`)) + "." +
		b64([]byte(`{"iss":"c","sub":"c","aud":"https://auth.example","jti":"j1","exp":`+strconv.FormatInt(clock.Now().Add(time.Minute).Unix(), 10)+`}`)) + ".c2ln"
	err = v.Verify(context.Background(), c, assertion)
	if err == nil {
		t.Fatal("verified")
	}
	if hits.Load() != 0 {
		t.Fatalf("%d connections to the internal address", hits.Load())
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %v, want invalid_client", err)
	}
}
