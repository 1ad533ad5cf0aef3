// Package verify is the kit with which Gooclaim's resource servers check the
// access tokens Gooclaim Auth issues: JWTs (RFC 7519) in the JWS compact
// serialization (RFC 7515), profiled by RFC 9068, verified offline against
// the issuer's JWK Set (RFC 7517).
//
// Most JWT breaches happen in verifiers, so this one is strict, following
// the JWT best current practices (RFC 8725) and RFC 9068 §4:
//
//   - Only the compact serialization of a signed JWT is read: JSON
//     serializations, JWEs (5 parts), unsigned tokens and tokens over
//     MaxTokenSize are refused before any key is looked up.
//   - "alg" must be in Config.Algorithms (default ES256, EdDSA, RS256) and
//     equal to the algorithm of the JWK that "kid" names; "none" and the
//     HMAC algorithms can never be allowed (RFC 8725 §2.1, §3.1). A JWK
//     without "alg" verifies only the algorithm its key type implies (EC
//     P-256 ES256, Ed25519 EdDSA, RSA RS256).
//   - "typ" must be "at+jwt" or "application/at+jwt", in any case
//     (RFC 9068 §4, RFC 8725 §3.11), so that an ID token or any other JWT
//     signed by the same keys cannot pass as an access token.
//   - "kid" is required. Keys come only from the JWK Set found through the
//     issuer's metadata (RFC 8414 §3, whose "issuer" must match exactly,
//     §3.3) or configured: the "jku", "x5u", "jwk" and "x5c" header
//     parameters are never fetched or trusted (RFC 8725 §3.10). A header
//     with "crit" is refused (RFC 7515 §4.1.11: no extension is understood),
//     as is one with duplicate members (RFC 7515 §5.2).
//   - "iss" must equal Config.Issuer; "aud" must contain Config.Audience
//     (RFC 8725 §3.9); "exp" and "iat" are required, and "exp", "nbf" and
//     "iat" are checked with Config.Leeway; "sub" and "client_id" are
//     required (RFC 9068 §2.2); "scope" is parsed into Claims.Scopes.
//   - "act", present in tokens obtained by delegation (RFC 8693 §4.1), must
//     be an object with a non-empty string "sub" and, nested, an optional
//     "act" of the same form, at most MaxActDepth deep; it is
//     Claims.Act, and Claims.Actors lists the chain. The token's "sub" is
//     then the party acted for and "client_id" the acting client: a
//     resource server that authorizes by client should read client_id (or
//     the current actor), not sub.
//
// The JWK Set is fetched once by New, then refreshed lazily: when its
// Cache-Control max-age (bounded to [MinCacheAge, MaxCacheAge]) has passed,
// the next Verify starts a refresh in the background, revalidating with
// If-None-Match, while the cached keys keep serving. A token whose kid is
// unknown causes a refetch at most once per Config.MinRefreshInterval, and
// concurrent misses share one fetch, so that keys rotated in at once are
// picked up immediately and a flood of invented kids costs the issuer
// nothing. If the set cannot be fetched, cached keys keep working for
// Config.MaxKeyAge, after which verification fails closed.
//
// Offline verification cannot see a revocation: a revoked token passes
// until its exp. Config.Introspection adds an online check (token
// introspection, RFC 7662): once a token has passed every local check,
// Verify asks the authorization server's introspection endpoint, found in
// its metadata (RFC 8414 §2) unless configured, whether the token is still
// active, authenticating as a client that holds the scope auth:introspect.
// Answers are cached by the token's SHA-256 for Introspection.CacheTTL
// (default 10s, never past the token's exp), which bounds how long a
// revoked token keeps working; concurrent checks of one token share one
// request. An "active": false answer refuses the token; so does the lack
// of a usable answer (fail closed), and an active answer whose iss,
// client_id, sub or jti is not the token's.
//
// Middleware puts the checks in front of an http.Handler, reading the token
// from the Authorization header only (RFC 6750 §2.1) and answering
// refusals with the WWW-Authenticate challenges of RFC 6750 §3. With
// Config.Introspection it makes the online check too: a request whose token
// is not in the introspection cache waits one round trip to the
// authorization server, and is refused (401 invalid_token) while that
// server cannot answer.
package verify
