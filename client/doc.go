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
// body ([AuthPost], "client_secret_post"). The body is
// application/x-www-form-urlencoded ([EncodingForm], the default, RFC 6749
// §4.4.2) or JSON ([EncodingJSON]), which Gooclaim Auth also accepts.
// Config.Scopes is sent as "scope" (RFC 6749 §3.3) and Config.Audience as
// "resource" (RFC 8707 §2).
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
