package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
)

// listKeys serves GET /v1/admin/keys.
func (a *Admin) listKeys(w http.ResponseWriter, r *http.Request) {
	st, err := a.Service.KeyStatuses(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, struct {
		Keys []admin.KeyView `json:"keys"`
	}{admin.ViewKeys(st)})
}

// rotateKeys serves POST /v1/admin/keys/rotate.
func (a *Admin) rotateKeys(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PublishAhead *string `json:"publish_ahead"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	ahead := time.Duration(-1) // the key policy's default
	if req.PublishAhead != nil {
		d, err := auth.ParseDuration(*req.PublishAhead)
		if err != nil {
			a.fail(w, r, badRequest("publish_ahead: %v; leave it out for the server's default (%s), 0 signs at once", err, auth.FormatDuration(issuer.DefaultPublishAhead)))
			return
		}
		ahead = d
	}
	if a.Service.Keys == nil {
		a.fail(w, r, errNoKEK("rotate keys", "gooclaim-auth keys rotate"))
		return
	}
	k, err := a.Service.RotateKeys(r.Context(), ahead)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, admin.ViewNewKey(k))
}

// errNoKEK answers a key change on a server without the key-encryption key.
func errNoKEK(what, command string) error {
	return auth.ErrTemporarilyUnavailable.WithDescription("this server cannot " + what + ": it runs without the key-encryption key; use the CLI (" + command + ")")
}

// auditEvents serves GET /v1/admin/audit. next_after is the cursor of the
// next page, absent on the last one.
func (a *Admin) auditEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	events, err := a.Service.AuditEvents(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var next int64
	if n := q.NormalizedLimit(); len(events) >= n {
		// A full page: there is a next one only if an event follows it.
		events = events[:n]
		more := q
		more.After, more.Limit = events[n-1].Seq, 1
		after, err := a.Service.AuditEvents(r.Context(), more)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if len(after) > 0 {
			next = events[n-1].Seq
		}
	}
	writeAdminJSON(w, http.StatusOK, struct {
		Events    []admin.AuditEventView `json:"events"`
		NextAfter int64                  `json:"next_after,omitempty"`
	}{admin.ViewAuditEvents(events), next})
}

func parseAuditQuery(v url.Values) (auth.AuditQuery, error) {
	var q auth.AuditQuery
	for name, values := range v {
		if len(values) != 1 {
			return q, badRequest("query parameter %q: give it once", name)
		}
		s := values[0]
		switch name {
		case "after":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return q, badRequest("query parameter after=%q: the seq of the last event seen, a whole number of at least 0", s)
			}
			q.After = n
		case "limit":
			n, err := parseLimit(s)
			if err != nil {
				return q, err
			}
			q.Limit = n
		case "target_id":
			q.TargetID = s
		case "actor":
			q.Actor = s
		case "action":
			q.Action = s
		case "since", "until":
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, badRequest("query parameter %s=%q: an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
			}
			if name == "since" {
				q.Since = t
			} else {
				q.Until = t
			}
		default:
			return q, badRequest("unknown query parameter %q; use after, limit, target_id, actor, action, since or until", name)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, badRequest("query parameters since and until: since must be before until")
	}
	return q, nil
}
