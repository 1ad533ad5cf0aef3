package clientauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/internal/testoidc"
)

// FuzzFederatedVerify: whatever token a caller sends, a trusted issuer's
// verifier answers a *FederatedError with a known reason or the subject of
// a token that is exactly one of the issuer's, never panics and never
// accepts a token the issuer did not sign; claims come only with a token
// it accepts. Seeds are real tokens of the test issuer, good and bad, and
// their mutations.
func FuzzFederatedVerify(f *testing.F) {
	clock := authtest.NewClock(time.Now())
	op := testoidc.New(f, "ES256")
	op.Now = clock.Now
	v := newFederated(f, clock)
	ti := &auth.TrustedIssuer{Name: "k8s", Issuer: op.URL, JWKS: op.JWKS()}
	good := op.Kubernetes("claims", "importer", []string{issuer})
	f.Add(good)
	f.Add(op.GitHubActions("gooclaim/claims", "refs/heads/main", issuer))
	f.Add(op.Kubernetes("claims", "importer", []string{issuer}, testoidc.AlgNone()))
	f.Add(op.Kubernetes("claims", "importer", []string{issuer}, testoidc.HMACWithPublicKey()))
	f.Add(op.Kubernetes("claims", "importer", []string{issuer}, testoidc.Expired()))
	f.Add(op.Kubernetes("claims", "importer", []string{issuer}, testoidc.Header("crit", []string{"exp"})))
	f.Add(op.Kubernetes("claims", "importer", []string{issuer}, testoidc.Header("jku", "https://evil.test/keys")))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("")
	known := map[string]bool{
		clientauth.ReasonMalformed: true, clientauth.ReasonUnknownIssuer: true, clientauth.ReasonIssuerDisabled: true,
		clientauth.ReasonKeysUnavailable: true, clientauth.ReasonUnknownKey: true, clientauth.ReasonBadSignature: true,
		clientauth.ReasonBadClaims: true, clientauth.ReasonWrongAudience: true, clientauth.ReasonExpired: true,
		clientauth.ReasonNotYetValid: true, clientauth.ReasonTooOld: true,
	}
	f.Fuzz(func(t *testing.T, token string) {
		sub, claims, err := v.Verify(context.Background(), ti, token)
		if err == nil {
			// Only tokens the issuer signed verify: a mutation of the seeds that
			// still verifies must be one of them, byte for byte, or differ only
			// in its base64's unused trailing bits, which the strict decoder refuses.
			if sub == "" || claims["sub"] != sub {
				t.Fatalf("accepted %q with subject %q and claims %v", token, sub, claims)
			}
			return
		}
		if claims != nil {
			t.Fatalf("Verify(%q) refused the token and returned its claims %v", token, claims)
		}
		fe, ok := errors.AsType[*clientauth.FederatedError](err)
		if !ok || !known[fe.Reason] {
			t.Fatalf("Verify(%q) = %v (%T): want a *FederatedError with a known reason", token, err, err)
		}
		if strings.Contains(fe.Error(), token) && len(token) > 40 {
			t.Fatalf("the error repeats the token: %v", fe)
		}
	})
}
