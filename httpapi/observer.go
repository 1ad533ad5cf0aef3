package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// Observer receives what the public endpoints do, for metrics
// (*metrics.Metrics implements it). Its methods are called on the request
// path, after the response is written: they must be cheap and safe for
// concurrent use. Their string arguments come from fixed sets — never a
// client_id or a path — but ObserveRateLimited's.
type Observer interface {
	// ObserveRequest is called once per request with its route (one of
	// the Route constants) and HTTP status.
	ObserveRequest(route string, status int)
	// ObserveToken is called once per token request that reached the
	// handler, with its outcome — "issued" or the OAuth error code of the
	// refusal — and the time from routing to the last byte written.
	ObserveToken(outcome string, d time.Duration)
	// ObserveOperation is called once per introspection or revocation
	// request (op "introspection" or "revocation") with its outcome:
	// "active", "inactive", "done", or the OAuth error code.
	ObserveOperation(op, outcome string)
	// ObserveRateLimited is called once per token request answered 429
	// that named a client_id (any string the caller sent), for the admin
	// console's most rate-limited clients; never for other requests.
	ObserveRateLimited(clientID string)
}

// Routes reported to the Observer.
const (
	RouteToken      = "token"
	RouteIntrospect = "introspect"
	RouteRevoke     = "revoke"
	RouteJWKS       = "jwks"
	RouteMetadata   = "metadata"
	RouteAdmin      = "admin"
	RouteHealth     = "health"
	RouteOther      = "other"
)

// route names the endpoint of path, without allocating.
func route(path string) string {
	switch path {
	case TokenPath:
		return RouteToken
	case IntrospectPath:
		return RouteIntrospect
	case RevokePath:
		return RouteRevoke
	case JWKSPath:
		return RouteJWKS
	case MetadataPath, OIDCMetadataPath:
		return RouteMetadata
	case HealthPath, ReadyPath:
		return RouteHealth
	}
	switch {
	case strings.HasPrefix(path, AdminPrefix):
		return RouteAdmin
	case strings.HasPrefix(path, MetadataPath+"/"):
		return RouteMetadata // RFC 8414 §3: the issuer's path appended
	}
	return RouteOther
}

// observe reports a finished request to o, and its event if it had one.
func observe(o Observer, r *http.Request, rec *recorder, d time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing
	}
	o.ObserveRequest(route(r.URL.Path), status)
	if rec.event.name == "" {
		return
	}
	switch kind, _, _ := strings.Cut(rec.event.name, "."); kind {
	case "token":
		o.ObserveToken(rec.event.outcome, d)
		if status == http.StatusTooManyRequests && rec.clientID != "" {
			o.ObserveRateLimited(rec.clientID)
		}
	default:
		o.ObserveOperation(kind, rec.event.outcome)
	}
}
