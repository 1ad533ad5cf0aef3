// Package clientauth authenticates clients with private_key_jwt: a JWT
// client assertion signed with the client's own private key (RFC 7523 §2.2
// and §3, RFC 7521 §4.2), checked against the public keys the client
// registered, inline or at a jwks_uri the server fetches and caches. It
// knows neither HTTP routing nor SQL.
//
// A token request authenticates this way with the body parameters
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
// (auth.ClientAssertionTypeJWT) and client_assertion, and optionally
// client_id. Without client_id, [Subject] reads the client from the
// assertion, unverified, so that the client can be looked up (and its rate
// limit charged); [Verifier.Verify] then proves it:
//
//	sub, ok := clientauth.Subject(req.ClientAssertion)
//	c := clients.Lookup(sub)
//	err := verifier.Verify(ctx, c, req.ClientAssertion)
//
// What Verify requires, following RFC 7523 §3 and the JWT best current
// practices of RFC 8725:
//
//   - a compact JWS signed with one of [Algorithms]; "none" and the HMAC
//     algorithms are never accepted (a public key is not a shared secret),
//     and the algorithm must be the one of the key, declared by its JWK's
//     "alg" or implied by its type (ES256 for P-256, EdDSA for Ed25519,
//     RS256 for RSA: an RSA key for PS256 must declare it);
//   - a key of the client: named by "kid", or without kid one of the
//     client's keys for the alg; the headers jku, x5u, jwk and x5c are
//     never followed, and crit is refused;
//   - iss and sub equal to the client ID, aud containing the issuer or the
//     token endpoint, exp at most MaxLifetime away, and a jti that is used
//     once: a [auth.ReplayCache] (inmem for one node, redis for a fleet)
//     remembers it until the assertion expires.
//
// [CheckJWKS] and [CheckJWKSURI] check the keys a client registers, with the
// same rules (internal/jwkset, shared with the verify kit).
//
// A jwks_uri is chosen by whoever registers the client, so it is fetched
// only from public addresses (internal/egress: every IANA special-purpose
// range is refused), checked on the address actually connected to, for
// every redirect too, whatever the scheme; [Config.AllowPrivateAddresses]
// lifts this for development. A caller whose client's keys cannot be
// fetched is told only that: what answered, or which address was refused,
// goes to the log.
package clientauth
