// Package client is the kit with which Gooclaim's API teams and integrators
// get access tokens from Gooclaim Auth and send them to Gooclaim's APIs.
//
// It implements the client side of the OAuth 2.0 client credentials grant
// (RFC 6749 §4.4): a Config names the token endpoint — directly, or through
// the issuer's authorization server metadata (RFC 8414, [Discover]) — and the client's
// credentials, and gives
//
//   - [Config.Token]: one token request, no cache, with retries;
//   - [Config.TokenSource]: an [oauth2.TokenSource] that caches the token until
//     shortly before it expires, with concurrent callers sharing one request;
//   - [Config.Client]: an [*http.Client] whose [Transport] adds
//     "Authorization: Bearer …" to every request (RFC 6750 §2.1).
//
// The client authenticates with its secret either in an HTTP Basic header,
// client_id and client_secret each form-url-encoded first as RFC 6749 §2.3.1
// requires ([AuthBasic], the default, "client_secret_basic"), or in the request
// body ([AuthPost], "client_secret_post"), or with no secret at all, by a JWT
// client assertion signed with its private key ([AuthPrivateKeyJWT],
// "private_key_jwt", RFC 7523 §2.2 and §3, RFC 7521 §4.2). The body is
// application/x-www-form-urlencoded ([EncodingForm], the default, RFC 6749
// §4.4.2) or JSON ([EncodingJSON]), which Gooclaim Auth also accepts.
// Config.Scopes is sent as "scope" (RFC 6749 §3.3) and Config.Audience as
// "resource" (RFC 8707 §2).
//
// # Private key JWT
//
// With [AuthPrivateKeyJWT], Config.PrivateKey (ECDSA P-256, P-384 or P-521,
// Ed25519, or RSA of 2048 bits or more; any [crypto.Signer], so the key may
// stay in an HSM or a KMS) signs a new assertion for every token request,
// retries included, since the server accepts each one once:
//
//   - header: alg (Config.SigningAlgorithm, by default the key's: ES256,
//     ES384, ES512, EdDSA or RS256), kid (Config.KeyID, the kid of the
//     registered public key) and typ "JWT";
//   - claims: iss and sub the client ID; aud the Issuer when Config.Issuer
//     is set, the token endpoint URL otherwise; a jti of 128 random bits;
//     iat now and exp Config.AssertionLifetime later (60s by default).
//
// It is sent as client_assertion, with client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_id, in
// the body (form or JSON, per Config.Encoding); there is no Authorization
// header. The public key is registered with Gooclaim Auth as a JWK Set or
// a jwks_uri.
//
// # Federated workload tokens
//
// With [AuthFederatedJWT] ("federated_jwt") the client holds no secret and
// no key: a token an identity provider trusted by the server issued to the
// workload — a Kubernetes projected service account token, a GitHub
// Actions OIDC token ([GitHubActionsToken]), a SPIFFE JWT-SVID — is sent,
// unchanged, as client_assertion with client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer (RFC 7523 §2.2),
// and client_id only when Config.ClientID is set. Config.FederatedTokenFile
// is read again for every request, retries included, since the platform
// replaces the token before it expires; Config.FederatedToken is called
// for every request instead, for platforms that hand tokens out over an
// API. A missing, empty or non-JWT file fails before any request, naming
// the path.
//
// # Token exchange
//
// [Config.Exchange] makes a token exchange request (RFC 8693 §2.1,
// grant_type urn:ietf:params:oauth:grant-type:token-exchange) described by
// an [ExchangeRequest]: subject_token and subject_token_type, and
// optionally audience, resource and scope. For a delegation the subject
// token is one of the server's access tokens ([TokenTypeAccessToken]) and
// the client, authenticated as the Config says, is the actor: the new
// token names the subject's sub and, in "act", the client. A workload
// token ([TokenTypeJWT]) can be exchanged with no client authentication
// at all ([AuthNone]). The response must carry issued_token_type
// (RFC 8693 §2.2.1), which the token's Extra("issued_token_type") returns.
// [Config.ExchangeTokenSource] caches exchanged tokens like
// [Config.TokenSource].
//
// # Errors and retries
//
// An error answer of the token endpoint is an [*Error] carrying the HTTP status
// and the "error" code and "error_description" of RFC 6749 §5.2; use
// [errors.As] to read it. Requests are retried as follows:
//
//   - 429 Too Many Requests (RFC 6585 §4): after the Retry-After delay
//     (RFC 9110 §10.2.3, seconds or an HTTP-date), unless it is longer than
//     Config.MaxRetryAfter, in which case the *Error (with RetryAfter set) is
//     returned at once;
//   - 500, 502, 503 and 504, refused or reset connections, and timeouts:
//     after an exponential backoff with full jitter;
//   - any other answer, in particular 400 invalid_request, invalid_scope,
//     invalid_target and 401 invalid_client, is never retried: repeating a
//     wrong secret would only spend the client's rate limit, which Gooclaim
//     Auth charges for every request naming the client_id.
//
// At most Config.MaxRetries retries are made. A wait ends early when the
// context is done, and is not started at all when the context's deadline
// would end it first.
//
// # Resource servers
//
// [Transport] retries a request once, with a new token, when the resource
// server answers 401 with a Bearer challenge whose error is "invalid_token"
// (RFC 6750 §3.1) — a token revoked or signed by a key the server no longer
// trusts — provided the request body can be replayed ([http.Request.GetBody]) and
// the token came from Config.TokenSource, which can drop it. It sends the
// token only to the host the request was made to: a redirect to another host
// is followed without it.
package client
