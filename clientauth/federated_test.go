package clientauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/internal/testoidc"
)

// newFederated returns a FederatedVerifier for the loopback test issuers
// (plain http, private addresses allowed) on clock.
func newFederated(t testing.TB, clock auth.Clock) *clientauth.FederatedVerifier {
	t.Helper()
	v, err := clientauth.NewFederatedVerifier(clientauth.Config{
		Issuer: issuer, TokenEndpoint: endpoint, Clock: clock,
		AllowHTTP: true, AllowPrivateAddresses: true, MinRefetchInterval: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// reasonOf is the FederatedError reason of err, "" for nil.
func reasonOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	fe, ok := errors.AsType[*clientauth.FederatedError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *FederatedError", err, err)
	}
	return fe.Reason
}

func TestFederatedVerifierKeySources(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	for _, alg := range []string{"ES256", "RS256"} {
		op := testoidc.New(t, alg)
		op.Now = clock.Now
		v := newFederated(t, clock)
		for _, tc := range []struct {
			name string
			ti   auth.TrustedIssuer
		}{
			{"discovery", auth.TrustedIssuer{Name: "k8s", Issuer: op.URL}},
			{"jwks_uri", auth.TrustedIssuer{Name: "gh", Issuer: op.URL, JWKSURI: op.JWKSURI()}},
			{"inline", auth.TrustedIssuer{Name: "spiffe", Issuer: op.URL, JWKS: op.JWKS()}},
		} {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				for _, tok := range []string{
					op.Kubernetes("prod", "billing", []string{issuer}),
					op.GitHubActions("acme/deploy", "refs/heads/main", endpoint),
					op.SPIFFE("spiffe://acme.test/ns/prod/sa/billing", []string{"other", endpoint}),
					op.Mint("no-kid", issuer, testoidc.NoKID()),
				} {
					sub, _, err := v.Verify(context.Background(), &tc.ti, tok)
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if sub == "" {
						t.Fatal("empty subject")
					}
				}
			})
		}
	}
}

func TestFederatedVerifierRefuses(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	op := testoidc.New(t, "ES256")
	op.Now = clock.Now
	v := newFederated(t, clock)
	ti := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, MaxTokenAge: 2 * time.Hour}
	other := op.NewKey(t)
	var attackerJWK map[string]any
	if b, err := json.Marshal(jose.JSONWebKey{Key: other.Priv.Public(), Algorithm: "ES256"}); err != nil || json.Unmarshal(b, &attackerJWK) != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ti     *auth.TrustedIssuer
		token  string
		reason string
	}{
		{"unknown issuer", nil, op.Mint("s", issuer), clientauth.ReasonUnknownIssuer},
		{"disabled issuer", &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, Disabled: true}, op.Mint("s", issuer), clientauth.ReasonIssuerDisabled},
		{"expired", ti, op.Mint("s", issuer, testoidc.Expired()), clientauth.ReasonExpired},
		{"no exp", ti, op.Mint("s", issuer, testoidc.Without("exp")), clientauth.ReasonExpired},
		{"future iat", ti, op.Mint("s", issuer, testoidc.FutureIAT()), clientauth.ReasonNotYetValid},
		{"no iat", ti, op.Mint("s", issuer, testoidc.Without("iat")), clientauth.ReasonNotYetValid},
		{"future nbf", ti, op.Mint("s", issuer, testoidc.Claim("nbf", clock.Now().Add(time.Hour).Unix())), clientauth.ReasonNotYetValid},
		{"too old", ti, op.Mint("s", issuer, testoidc.IssuedAt(clock.Now().Add(-150*time.Minute)), testoidc.Claim("exp", clock.Now().Add(time.Hour).Unix())), clientauth.ReasonTooOld},
		{"default age limit", &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL}, op.Mint("s", issuer, testoidc.IssuedAt(clock.Now().Add(-90*time.Minute)), testoidc.Claim("exp", clock.Now().Add(time.Hour).Unix())), clientauth.ReasonTooOld},
		{"wrong aud", ti, op.Mint("s", "https://elsewhere.test"), clientauth.ReasonWrongAudience},
		{"no aud", ti, op.Mint("s", nil), clientauth.ReasonMalformed},
		{"issuer's audience", &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, Audience: "gooclaim"}, op.Mint("s", issuer), clientauth.ReasonWrongAudience},
		{"alg none", ti, op.Mint("s", issuer, testoidc.AlgNone()), clientauth.ReasonMalformed},
		{"hmac with the public key", ti, op.Mint("s", issuer, testoidc.HMACWithPublicKey()), clientauth.ReasonMalformed},
		{"key not published", ti, op.Mint("s", issuer, testoidc.SignedWith(other)), clientauth.ReasonUnknownKey},
		{"wrong key under the kid", ti, op.Mint("s", issuer, testoidc.SignedWith(other), testoidc.Header("kid", op.Current().KID)), clientauth.ReasonBadSignature},
		{"alg not the key's", ti, op.Mint("s", issuer, testoidc.Header("alg", "ES384")), clientauth.ReasonUnknownKey},
		{"jwk header not followed", ti, op.Mint("s", issuer, testoidc.SignedWith(other), testoidc.Header("jwk", attackerJWK), testoidc.NoKID()), clientauth.ReasonBadSignature},
		{"jku header not followed", ti, op.Mint("s", issuer, testoidc.SignedWith(other), testoidc.Header("jku", op.JWKSURI()+"?evil"), testoidc.Header("kid", op.Current().KID)), clientauth.ReasonBadSignature},
		{"crit", ti, op.Mint("s", issuer, testoidc.Header("crit", []string{"exp"})), clientauth.ReasonMalformed},
		{"iss not the issuer's", &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL + "/other", JWKS: op.JWKS()}, op.Mint("s", issuer), clientauth.ReasonBadClaims},
		{"not a JWT", ti, "abc.def", clientauth.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, claims, err := v.Verify(context.Background(), tc.ti, tc.token)
			if got := reasonOf(t, err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if claims != nil {
				t.Fatalf("a refused token's claims were returned: %v", claims)
			}
		})
	}
	// The issuer's Audience replaces this server's identifiers.
	withAud := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, Audience: "gooclaim"}
	if _, _, err := v.Verify(context.Background(), withAud, op.Mint("s", []string{"x", "gooclaim"})); err != nil {
		t.Fatalf("aud containing the issuer's Audience: %v", err)
	}
}

// TestFederatedVerifierDerivedAlg: a JWK without alg verifies the alg its
// key type implies, and no other.
func TestFederatedVerifierDerivedAlg(t *testing.T) {
	op := testoidc.New(t, "ES256")
	op.SetOmitJWKAlg(true)
	v := newFederated(t, nil)
	ti := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, JWKSURI: op.JWKSURI()}
	if _, _, err := v.Verify(context.Background(), ti, op.Mint("s", issuer)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.Verify(context.Background(), ti, op.Mint("s", issuer, testoidc.Header("alg", "ES512"))); reasonOf(t, err) != clientauth.ReasonUnknownKey {
		t.Fatalf("ES512 header on a P-256 key: %v", err)
	}
}

// TestFederatedVerifierRotation: the issuer replaces its key; a token of
// the new kid is accepted once the set is fetched again, and a flood of
// unknown kids fetches at most once per MinRefetchInterval.
func TestFederatedVerifierRotation(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	op := testoidc.New(t, "RS256")
	op.Now = clock.Now
	v := newFederated(t, clock)
	ti := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL}
	ctx := context.Background()
	if _, _, err := v.Verify(ctx, ti, op.Mint("s", issuer)); err != nil {
		t.Fatal(err)
	}
	if n := op.JWKSRequests.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
	clock.Advance(11 * time.Second) // past MinRefetchInterval
	op.Rotate(t, false)
	if _, _, err := v.Verify(ctx, ti, op.Mint("s", issuer)); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if n := op.JWKSRequests.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after the rotation, want 2", n)
	}
	stranger := op.NewKey(t)
	clock.Advance(11 * time.Second)
	for range 20 {
		if _, _, err := v.Verify(ctx, ti, op.Mint("s", issuer, testoidc.SignedWith(stranger))); reasonOf(t, err) != clientauth.ReasonUnknownKey {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := op.JWKSRequests.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches after 20 unknown kids, want 3 (one refetch per interval)", n)
	}
	// While the issuer is down, the cached keys keep working.
	op.SetDown(true)
	clock.Advance(time.Hour)
	if _, _, err := v.Verify(ctx, ti, op.Mint("s", issuer)); err != nil {
		t.Fatalf("stale keys while the issuer is down: %v", err)
	}
}

// TestFederatedVerifierDiscoveryIssuerMismatch: a discovery document
// naming another issuer gives no keys.
func TestFederatedVerifierDiscoveryIssuerMismatch(t *testing.T) {
	op := testoidc.New(t, "ES256")
	op.SetDiscoveryIssuer("https://impostor.test")
	v := newFederated(t, nil)
	_, _, err := v.Verify(context.Background(), &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL}, op.Mint("s", issuer))
	if reasonOf(t, err) != clientauth.ReasonKeysUnavailable {
		t.Fatalf("got %v, want keys_unavailable", err)
	}
}

// TestFederatedVerifierEgress: the issuer's keys are fetched under the
// rules of a client's jwks_uri: no plain http unless allowed, no private
// address unless allowed.
func TestFederatedVerifierEgress(t *testing.T) {
	op := testoidc.New(t, "ES256")
	for _, cfg := range []clientauth.Config{
		{Issuer: issuer, AllowHTTP: false, AllowPrivateAddresses: true},
		{Issuer: issuer, AllowHTTP: true, AllowPrivateAddresses: false},
	} {
		v, err := clientauth.NewFederatedVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = v.Verify(context.Background(), &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL}, op.Mint("s", issuer))
		if reasonOf(t, err) != clientauth.ReasonKeysUnavailable {
			t.Fatalf("%+v: got %v, want keys_unavailable", cfg, err)
		}
	}
	if n := op.DiscoveryRequests.Load() + op.JWKSRequests.Load(); n != 0 {
		t.Fatalf("%d requests reached the issuer", n)
	}
}

func TestUnverifiedIssuer(t *testing.T) {
	op := testoidc.New(t, "ES256")
	iss, sub, ok := clientauth.UnverifiedIssuer(op.Kubernetes("ns", "sa", []string{issuer}))
	if !ok || iss != op.URL || sub != "system:serviceaccount:ns:sa" {
		t.Fatalf("got %q %q %v", iss, sub, ok)
	}
	for _, bad := range []string{"", "a.b.c", "x", op.Mint("", issuer)} {
		if _, _, ok := clientauth.UnverifiedIssuer(bad); ok {
			t.Errorf("%q: ok", bad)
		}
	}
}

// TestUnknownIssuerCostsASignature: a token of no trusted issuer, or one
// naming a key its issuer does not have, is refused after a signature
// verification all the same (of a fixed key), so that the time of the
// answer does not say whether the issuer is trusted or the key known.
func TestUnknownIssuerCostsASignature(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	v := newFederated(t, clock)
	for _, alg := range []string{"ES256", "RS256"} {
		op := testoidc.New(t, alg)
		op.Now = clock.Now
		trusted := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, JWKS: op.JWKS()}
		for _, tc := range []struct {
			name   string
			ti     *auth.TrustedIssuer
			token  string
			reason string
		}{
			{"unknown issuer", nil, op.Kubernetes("prod", "billing", []string{issuer}), clientauth.ReasonUnknownIssuer},
			{"unknown key", trusted, op.Kubernetes("prod", "billing", []string{issuer}, testoidc.SignedWith(op.NewKey(t))), clientauth.ReasonUnknownKey},
		} {
			before := clientauth.DummyVerifications()
			_, _, err := v.Verify(context.Background(), tc.ti, tc.token)
			if r := reasonOf(t, err); r != tc.reason {
				t.Fatalf("%s/%s: reason %q, want %q", alg, tc.name, r, tc.reason)
			}
			if n := clientauth.DummyVerifications() - before; n != 1 {
				t.Errorf("%s/%s: %d dummy signature verifications, want 1", alg, tc.name, n)
			}
		}
	}
}

// TestFederatedVerifierClaims: an accepted token's claims come back whole,
// as JSON decodes them (numbers json.Number, objects maps), one map per
// call.
func TestFederatedVerifierClaims(t *testing.T) {
	clock := authtest.NewClock(time.Now())
	op := testoidc.New(t, "ES256")
	op.Now = clock.Now
	v := newFederated(t, clock)
	ti := &auth.TrustedIssuer{Name: "github", Issuer: op.URL, JWKS: op.JWKS()}
	tok := op.GitHubActions("gooclaim/claims", "refs/heads/main", issuer, testoidc.Claim("nested", map[string]any{"list": []any{1, "two", nil}}))
	sub, claims, err := v.Verify(context.Background(), ti, tok)
	if err != nil {
		t.Fatal(err)
	}
	if sub != "repo:gooclaim/claims:ref:refs/heads/main" || claims["sub"] != sub || claims["repository"] != "gooclaim/claims" ||
		claims["ref"] != "refs/heads/main" || claims["iss"] != op.URL {
		t.Fatalf("subject %q, claims %v", sub, claims)
	}
	if iat, ok := claims["iat"].(json.Number); !ok || iat.String() != strconv.FormatInt(clock.Now().Unix(), 10) {
		t.Fatalf("iat %#v, want json.Number %d", claims["iat"], clock.Now().Unix())
	}
	nested, _ := claims["nested"].(map[string]any)
	if list, _ := nested["list"].([]any); len(list) != 3 || list[0] != json.Number("1") || list[1] != "two" || list[2] != nil {
		t.Fatalf("nested %#v", claims["nested"])
	}
	claims["ref"] = "changed"
	if _, again, _ := v.Verify(context.Background(), ti, tok); again["ref"] != "refs/heads/main" {
		t.Fatalf("a change to one call's claims shows in the next call's: %v", again["ref"])
	}
}

// BenchmarkFederatedVerify is one verification of a GitHub Actions token
// (ES256, keys inline): what the verifier costs every federated request.
func BenchmarkFederatedVerify(b *testing.B) {
	op := testoidc.New(b, "ES256")
	v := newFederated(b, auth.SystemClock{})
	ti := &auth.TrustedIssuer{Name: "github", Issuer: op.URL, JWKS: op.JWKS()}
	tok := op.GitHubActions("gooclaim/claims", "refs/heads/main", issuer)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Verify(context.Background(), ti, tok); err != nil {
			b.Fatal(err)
		}
	}
}
