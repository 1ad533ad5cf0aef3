package verify_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

type tokenCase struct {
	name, token string
	want        string // part of the description; "" when the token must be accepted
}

// checkCases verifies each case's token and checks that it is accepted or
// refused as the case says, that the error is an invalid_token, and that its
// description does not repeat the token.
func checkCases(t *testing.T, v *verify.Verifier, cases []tokenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := v.Verify(context.Background(), tc.token)
			elapsed := time.Since(start)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Subject == "" {
					t.Errorf("claims %+v", c)
				}
				return
			}
			mustFail(t, err, verify.CodeInvalidToken, tc.want)
			if !errors.Is(err, verify.ErrInvalidToken) || errors.Is(err, verify.ErrInsufficientScope) {
				t.Errorf("errors.Is does not match invalid_token only: %v", err)
			}
			var ve *verify.Error
			errors.As(err, &ve)
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) > 20 && strings.Contains(ve.Description, part) {
					t.Errorf("the description repeats part of the token: %s", ve.Description)
				}
			}
			if len(ve.Description) > 300 {
				t.Errorf("description of %d bytes", len(ve.Description))
			}
			if elapsed > time.Second {
				t.Errorf("took %v to refuse", elapsed)
			}
			t.Logf("%s", ve.Description)
		})
	}
}

// TestAttacksOnRealServer forges tokens against the real service's keys.
func TestAttacksOnRealServer(t *testing.T) {
	s := newServer(t, testserver.Options{})
	other := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"claims:read"})
	otherID, otherSecret := other.CreateClient(t, []string{"claims:read"})
	billingID, billingSecret := s.CreateClient(t, []string{"claims:read"}, "https://billing.gooclaim.com")
	v := newVerifier(t, s, nil)
	now := time.Now()
	kid := activeKID(t, s, now)
	real := fetchToken(t, s, id, secret)
	parts := strings.Split(real, ".")

	// The server's public key, as bytes an HMAC could be keyed with.
	der := s.Keys.Statuses(now)[0].Key.Public
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	resp, err := http.Get(s.Issuer + httpapi.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	jwksBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(jwksBody, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwksBody, err)
	}
	jwkJSON := []byte(set.Keys[0])

	hdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid} }
	edit := func(f func(c map[string]any)) map[string]any {
		c := claims(s, now)
		f(c)
		return c
	}
	ours := func(f func(c map[string]any)) string { return signWith(t, s, now, "at+jwt", edit(f)) }
	typed := func(typ string) string { return signWith(t, s, now, typ, claims(s, now)) }
	attacker := newPrivateKey(t, auth.ES256)
	noneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + kid + `"}`))
	jwe := b64.EncodeToString([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","typ":"at+jwt","kid":"`+kid+`"}`)) + ".a2V5.aXY.Y2lwaGVydGV4dA.dGFn"
	jsonJWS, _ := json.Marshal(map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]})
	tampered := b64.EncodeToString([]byte(strings.Replace(string(mustDecode(t, parts[1])), `"claims:read"`, `"claims:admin"`, 1)))

	checkCases(t, v, []tokenCase{
		{"a real token", real, ""},
		{"alg none, empty signature", forge(t, hdr("none", kid), claims(s, now), nil), "unsigned"},
		{"alg none, the real signature kept", noneHeader + "." + parts[1] + "." + parts[2], "unsigned (alg none)"},
		{"alg NoNe", forge(t, hdr("NoNe", kid), claims(s, now), func([]byte) []byte { return []byte("x") }), "unsigned (alg none)"},
		{"HS256 keyed with the public key (DER)", forge(t, hdr("HS256", kid), claims(s, now), signer(t, "HS256", der)), "HMAC"},
		{"HS256 keyed with the public key (PEM)", forge(t, hdr("HS256", kid), claims(s, now), signer(t, "HS256", pemKey)), "HMAC"},
		{"HS256 keyed with the JWK JSON", forge(t, hdr("HS256", kid), claims(s, now), signer(t, "HS256", jwkJSON)), "HMAC"},
		{"another issuer's token", fetchToken(t, other, otherID, otherSecret), "unknown key ID"},
		{"another issuer's key, re-signed with our iss", signWith(t, other, now, "at+jwt", claims(s, now)), "unknown key ID"},
		{"our key, another issuer's iss", ours(func(c map[string]any) { c["iss"] = other.Issuer }), "issuer '" + other.Issuer + "' is not"},
		{"iss with a trailing slash", ours(func(c map[string]any) { c["iss"] = s.Issuer + "/" }), "issuer"},
		{"wrong audience", fetchToken(t, s, billingID, billingSecret), "audience does not include"},
		{"audience array without ours", ours(func(c map[string]any) { c["aud"] = []string{"https://a.example", "https://b.example"} }), "audience does not include"},
		{"empty audience array", ours(func(c map[string]any) { c["aud"] = []string{} }), "aud claim"},
		{"audience a number", ours(func(c map[string]any) { c["aud"] = 1 }), "aud claim"},
		{"no audience", ours(func(c map[string]any) { delete(c, "aud") }), "no aud claim"},
		{"expired beyond leeway", ours(func(c map[string]any) { c["exp"] = now.Add(-31 * time.Second).Unix() }), "expired"},
		{"not yet valid (nbf)", ours(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), "not valid before"},
		{"iat far in the future", ours(func(c map[string]any) { c["iat"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix() }), "issued in the future"},
		{"no exp", ours(func(c map[string]any) { delete(c, "exp") }), "no exp claim"},
		{"no iat", ours(func(c map[string]any) { delete(c, "iat") }), "no iat claim"},
		{"exp a string", ours(func(c map[string]any) { c["exp"] = "2100-01-01" }), "exp claim is not a NumericDate"},
		{"exp negative", ours(func(c map[string]any) { c["exp"] = -1 }), "NumericDate"},
		{"exp beyond year 9999", ours(func(c map[string]any) { c["exp"] = 1e300 }), "NumericDate"},
		{"no sub", ours(func(c map[string]any) { delete(c, "sub") }), "no sub claim"},
		{"empty client_id", ours(func(c map[string]any) { c["client_id"] = "" }), "client_id claim is not a non-empty string"},
		{"scope an array", ours(func(c map[string]any) { c["scope"] = []string{"claims:read"} }), "scope claim is not a string"},
		{"typ missing", typed(""), "no typ header"},
		{"typ JWT", typed("JWT"), "typ 'JWT' is not at+jwt"},
		{"typ application/jwt", typed("application/jwt"), "not at+jwt"},
		{"typ at+jwt with a space", typed("at+jwt "), "not at+jwt"},
		{"typ AT+JWT", typed("AT+JWT"), ""},
		{"typ application/at+jwt", typed("application/at+jwt"), ""},
		{"typ Application/AT+JWT", typed("Application/AT+JWT"), ""},
		{"expired within leeway", ours(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }), ""},
		{"iat within leeway in the future", ours(func(c map[string]any) { c["iat"] = now.Add(10 * time.Second).Unix() }), ""},
		{"nbf within leeway in the future", ours(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Second).Unix() }), ""},
		{"audience array with ours", ours(func(c map[string]any) { c["aud"] = []string{"https://a.example", audience} }), ""},
		{"fractional dates", ours(func(c map[string]any) { c["iat"] = float64(now.UnixMilli()) / 1000 }), ""},
		{"stripped signature", parts[0] + "." + parts[1] + ".", "unsigned"},
		{"tampered payload", parts[0] + "." + tampered + "." + parts[2], "signature does not verify"},
		{"another key's signature with the right kid", forge(t, hdr("ES256", kid), claims(s, now), signer(t, "ES256", attacker)), "signature does not verify"},
		{"the right signature, truncated", parts[0] + "." + parts[1] + "." + parts[2][:40], "signature does not verify"},
		{"unknown kid", forge(t, hdr("ES256", "no-such-key"), claims(s, now), signer(t, "ES256", attacker)), "unknown key ID 'no-such-key'"},
		{"kid missing", forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt"}, claims(s, now), signer(t, "ES256", attacker)), "no kid"},
		{"kid a number", forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": 7}, claims(s, now), signer(t, "ES256", attacker)), "no kid"},
		{"a JWE (5 parts)", jwe, "JWE"},
		{"JSON serialization", string(jsonJWS), "JSON serialization"},
		{"empty", "", "empty"},
		{"garbage", "garbage", "1 part,"},
		{"two parts", parts[0] + "." + parts[1], "2 parts"},
		{"four parts", real + ".x", "4 parts"},
		{"dots only", "..", "header is empty"},
		{"no payload", parts[0] + ".." + parts[2], "payload is empty"},
		{"1 MB", parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2], "more than the 16384 accepted"},
		{"padded signature", real + "==", "not unpadded base64url"},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/", "not unpadded base64url"},
		{"non-canonical signature encoding", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), "not unpadded base64url"},
		{"header not JSON", b64.EncodeToString([]byte("alg=ES256")) + "." + parts[1] + "." + parts[2], "header is not a valid JSON object: it is not an object"},
		{"header a JSON array", b64.EncodeToString([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2], "header is not a valid JSON object: it is not an object"},
		{"header with trailing data", b64.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`"}{}`)) + "." + parts[1] + "." + parts[2], "data follows it"},
		{"header not UTF-8", b64.EncodeToString([]byte("{\"alg\":\"ES256\xff\"}")) + "." + parts[1] + "." + parts[2], "UTF-8"},
		{"whitespace around the token", " " + real, "not unpadded base64url"},
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nonCanonical sets an unused trailing bit of an unpadded base64url
// string, which lenient decoders ignore.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		panic("no unused bits")
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

// TestHeaderAttacks signs tokens with extra header parameters with the
// issuer's own keys (a static issuer whose private keys the test holds),
// so that what refuses them is the header check, not the signature.
func TestHeaderAttacks(t *testing.T) {
	ecPriv := newPrivateKey(t, auth.ES256)
	ecJWK, ecKID := jwk(t, auth.ES256, ecPriv)
	rsaPriv := newPrivateKey(t, auth.RS256)
	rsaJWK, rsaKID := jwk(t, auth.RS256, rsaPriv)
	rsaNoAlg := maps.Clone(rsaJWK)
	delete(rsaNoAlg, "alg")
	rsaNoAlg["kid"] = "rsa-no-alg"
	ecNoAlg := maps.Clone(ecJWK)
	delete(ecNoAlg, "alg")
	ecNoAlg["kid"] = "ec-no-alg"
	ecSaysRS256 := maps.Clone(ecJWK)
	ecSaysRS256["alg"], ecSaysRS256["kid"] = "RS256", "ec-says-rs256"
	si := newStaticIssuer(t, ecJWK, rsaJWK, rsaNoAlg, ecNoAlg, ecSaysRS256)
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: si.Issuer, Audience: audience,
		Algorithms: []string{"ES256", "EdDSA", "RS256", "RS384", "PS256"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.Keys != 4 || len(st.Ignored) != 1 || !strings.Contains(st.Ignored[0], "ec-says-rs256") {
		t.Errorf("stats %+v, want 4 keys and ec-says-rs256 ignored", st)
	}

	now := time.Now()
	good := si.claims(now)
	attacker := newPrivateKey(t, auth.ES256)
	attackerJWK, attackerKID := jwk(t, auth.ES256, attacker)
	counter, hits := countingServer(t)
	h := func(alg, kid string, extra ...any) map[string]any {
		m := map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	es := signer(t, "ES256", ecPriv)
	evil := signer(t, "ES256", attacker)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "auth.gooclaim.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attacker.Public(), attacker)
	if err != nil {
		t.Fatal(err)
	}
	x5c := []string{base64.StdEncoding.EncodeToString(cert)}
	dupClaims := `{"iss":"` + si.Issuer + `","sub":"s","client_id":"s","aud":"https://other.example","aud":"` + audience + `","iat":` + itoa(now.Unix()) + `,"exp":` + itoa(now.Add(time.Hour).Unix()) + `}`

	checkCases(t, v, []tokenCase{
		{"a good token", forge(t, h("ES256", ecKID), good, es), ""},
		{"crit", forge(t, h("ES256", ecKID, "crit", []string{"exp"}, "exp", now.Unix()), good, es), `has "crit"`},
		{"b64 false", forge(t, h("ES256", ecKID, "b64", false, "crit", []string{"b64"}), good, es), `has "crit"`},
		{"b64 false without crit", forge(t, h("ES256", ecKID, "b64", false), good, es), `has "b64"`},
		{"cty JWT (a nested token)", forge(t, h("ES256", ecKID, "cty", "JWT"), good, es), `has "cty"`},
		{"zip", forge(t, h("ES256", ecKID, "zip", "DEF"), good, es), `has "zip"`},
		{"alg twice in the header", forge(t, `{"alg":"none","typ":"at+jwt","kid":"`+ecKID+`","alg":"ES256"}`, good, es), "member 'alg' appears twice"},
		{"aud twice in the claims", forge(t, h("ES256", ecKID), dupClaims, es), "member 'aud' appears twice"},
		{"jwk header: the attacker's key and kid", forge(t, h("ES256", attackerKID, "jwk", attackerJWK), good, evil), "unknown key ID"},
		{"jwk header: the attacker's key, our kid", forge(t, h("ES256", ecKID, "jwk", attackerJWK), good, evil), "signature does not verify"},
		{"jku header: the attacker's JWK Set", forge(t, h("ES256", attackerKID, "jku", counter.URL+"/jwks.json"), good, evil), "unknown key ID"},
		{"x5u header: the attacker's certificate", forge(t, h("ES256", ecKID, "x5u", counter.URL+"/cert.pem"), good, evil), "signature does not verify"},
		{"x5c header: the attacker's certificate", forge(t, h("ES256", ecKID, "x5c", x5c), good, evil), "signature does not verify"},
		{"jku and x5u headers are ignored", forge(t, h("ES256", ecKID, "jku", counter.URL+"/jwks.json", "x5u", counter.URL+"/cert.pem"), good, es), ""},
		{"PS256 with a key declaring RS256", forge(t, h("PS256", rsaKID), good, signer(t, "PS256", rsaPriv)), "alg PS256 is not the algorithm of key"},
		{"RS384 with a key declaring RS256", forge(t, h("RS384", rsaKID), good, signer(t, "RS384", rsaPriv)), "alg RS384 is not the algorithm of key"},
		{"RS256 with a key declaring RS256", forge(t, h("RS256", rsaKID), good, signer(t, "RS256", rsaPriv)), ""},
		{"RS384 with an RSA key without alg", forge(t, h("RS384", "rsa-no-alg"), good, signer(t, "RS384", rsaPriv)), "not the algorithm of key"},
		{"RS256 with an RSA key without alg", forge(t, h("RS256", "rsa-no-alg"), good, signer(t, "RS256", rsaPriv)), ""},
		{"ES256 with an EC key without alg", forge(t, h("ES256", "ec-no-alg"), good, es), ""},
		{"ES256 with an EC key declaring RS256", forge(t, h("ES256", "ec-says-rs256"), good, es), "unknown key ID"},
		{"RS256 naming an EC key", forge(t, h("RS256", ecKID), good, signer(t, "RS256", rsaPriv)), "alg RS256 is not the algorithm of key"},
		{"ES384, not allowed", forge(t, h("ES384", ecKID), good, es), "alg 'ES384' is not allowed"},
		{"EdDSA naming an EC key", forge(t, h("EdDSA", ecKID), good, signer(t, "EdDSA", newPrivateKey(t, auth.EdDSA))), "not the algorithm of key"},
	})
	if n := hits.Load(); n != 0 {
		t.Errorf("the URLs in jku and x5u were fetched %d times", n)
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }
