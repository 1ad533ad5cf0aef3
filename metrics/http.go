package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OutcomeOther is the outcome label of any outcome outside the fixed sets.
const OutcomeOther = "other"

// TokenOutcomes are the outcome label values of gooclaim_tokens_total:
// "issued", "reused" (a live token given again, issuer.TokenCache) or the
// OAuth error code of the refusal (RFC 6749 §5.2, and rate_limited,
// temporarily_unavailable).
var TokenOutcomes = []string{
	"issued", "reused",
	"invalid_client", "invalid_request", "invalid_scope", "invalid_target",
	"unauthorized_client", "unsupported_grant_type",
	"invalid_dpop_proof", "use_dpop_nonce", // RFC 9449 §5, §8
	"rate_limited", "server_error", "temporarily_unavailable",
}

// DPoPOutcomes are the outcome label values of gooclaim_dpop_proofs_total,
// as httpapi names them: valid, invalid, replayed (a jti used before), and
// nonce (refused for a missing or stale server nonce).
var DPoPOutcomes = []string{"valid", "invalid", "replayed", "nonce"}

// refusals are the outcomes an introspection or revocation can fail with.
var refusals = []string{
	"invalid_client", "invalid_request", "unauthorized_client", "unsupported_token_type",
	"rate_limited", "server_error", "temporarily_unavailable",
}

// IntrospectionOutcomes are the outcome label values of
// gooclaim_introspections_total (RFC 7662): whether the token is active, or
// the error code of the refusal.
var IntrospectionOutcomes = append([]string{"active", "inactive"}, refusals...)

// RevocationOutcomes are the outcome label values of
// gooclaim_revocations_total (RFC 7009): "done", or the error code.
var RevocationOutcomes = append([]string{"done"}, refusals...)

// Routes are the route label values of gooclaim_http_requests_total, as
// httpapi names them; any other route counts as "other".
var Routes = []string{"token", "introspect", "revoke", "jwks", "metadata", "admin", "health", "other"}

var statusClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *Metrics) initHTTP() {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests to the public listener, by route and status class.",
	}, []string{"route", "status_class"})
	m.reg.MustRegister(requests)
	m.http = make(map[string]*[5]prometheus.Counter, len(Routes))
	for _, r := range Routes {
		var byClass [5]prometheus.Counter
		for i, c := range statusClasses {
			byClass[i] = requests.WithLabelValues(r, c)
		}
		m.http[r] = &byClass
	}

	m.tokens = m.newOutcomes("tokens_total",
		"Token requests (RFC 6749 §4.4) by outcome: issued, or the error code of the refusal.", TokenOutcomes)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "token_request_duration_seconds",
		Help:    "Time to answer a token request, from routing to the last byte written; result is ok (issued) or error.",
		Buckets: LatencyBuckets,
	}, []string{"result"})
	m.reg.MustRegister(duration)
	m.tokenOK = duration.WithLabelValues("ok")
	m.tokenError = duration.WithLabelValues("error")
	m.introspection = m.newOutcomes("introspections_total",
		"Introspection requests (RFC 7662) by outcome: active, inactive, or the error code of the refusal.", IntrospectionOutcomes)
	m.revocation = m.newOutcomes("revocations_total",
		"Revocation requests (RFC 7009) by outcome: done, or the error code of the refusal.", RevocationOutcomes)
	m.federated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "federated_authentications_total",
		Help: "Authentications with a trusted issuer's token (federated client assertions and token exchanges), by trusted issuer name (\"unknown\" for a token of no trusted issuer) and outcome: ok, or why it was refused.",
	}, []string{"issuer", "outcome"})
	m.reg.MustRegister(m.federated)
	m.dpop = m.newOutcomes("dpop_proofs_total",
		"DPoP proofs (RFC 9449) checked at the token endpoint, by outcome: valid, invalid, replayed (its jti used before), nonce (a server nonce missing or stale).", DPoPOutcomes)
}

// ObserveDPoP counts one DPoP proof checked at the token endpoint
// (httpapi.DPoPObserver): outcome is one of DPoPOutcomes, else "other".
func (m *Metrics) ObserveDPoP(outcome string) {
	m.dpop.get(outcome).Inc()
}

// ObserveFederated counts one federated authentication (issuer.
// FederationObserver). issuer is a trusted issuer's name, from the
// operator's registry, or "unknown", and outcome one of a fixed set of
// reasons: the series stay few whatever callers send.
func (m *Metrics) ObserveFederated(issuer, outcome string) {
	m.federated.WithLabelValues(issuer, outcome).Inc()
}

// ObserveRequest counts one request to the public listener: route is one of
// Routes (else "other"), status its HTTP status.
func (m *Metrics) ObserveRequest(route string, status int) {
	byClass, ok := m.http[route]
	if !ok {
		byClass = m.http["other"]
	}
	if i := status/100 - 1; i >= 0 && i < len(byClass) {
		byClass[i].Inc()
	}
}

// ObserveToken counts one token request with its outcome — "issued",
// "reused" or the OAuth error code — and how long it took.
func (m *Metrics) ObserveToken(outcome string, d time.Duration) {
	m.tokens.get(outcome).Inc()
	if outcome == "issued" || outcome == "reused" {
		m.tokenOK.Observe(d.Seconds())
	} else {
		m.tokenError.Observe(d.Seconds())
	}
}

// ObserveOperation counts one introspection or revocation (op is
// "introspection" or "revocation"; others are ignored) with its outcome.
func (m *Metrics) ObserveOperation(op, outcome string) {
	switch op {
	case "introspection":
		m.introspection.get(outcome).Inc()
	case "revocation":
		m.revocation.get(outcome).Inc()
	}
}
