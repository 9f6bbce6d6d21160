package query

import (
	"encoding/json"
	"fmt"
	"strings"
)

// TypeExemplarSessions finds the sessions behind a latency or error spike of
// an endpoint: the exemplars of the request-duration histogram (trace IDs
// Prometheus keeps beside the buckets) followed to their traces and sessions.
const TypeExemplarSessions = "exemplarSessions"

// ExemplarSessions asks for the sessions behind an endpoint's exemplars in
// the time range.
type ExemplarSessions struct {
	// Endpoint is the url.template of the app's requests (required).
	Endpoint string `json:"endpoint"`
	// MinDurationMs keeps the exemplars of requests at least this slow: the
	// spike, not the whole distribution.
	MinDurationMs float64 `json:"minDurationMs"`
	// ErrorsOnly keeps exemplars of failed requests (status 5xx).
	ErrorsOnly bool `json:"errorsOnly"`
	// Limit caps the sessions returned (default 20, at most 100).
	Limit int `json:"limit"`
}

// Exemplar session limits: each session is looked up in the trace store.
const (
	DefaultExemplarSessionsLimit = 20
	MaxExemplarSessionsLimit     = 100
)

// ParseExemplarSessions parses and validates an exemplarSessions query.
func ParseExemplarSessions(raw json.RawMessage) (ExemplarSessions, error) {
	var q ExemplarSessions
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: fieldOf(err), Msg: fmt.Sprintf("wrong type: %v", err)}
	}
	q.Endpoint = strings.TrimSpace(q.Endpoint)
	switch {
	case q.Endpoint == "":
		return q, &FieldError{Field: "endpoint", Msg: "missing; give the url.template of the app's requests, e.g. /v1/search"}
	case len(q.Endpoint) > maxFilterLength:
		return q, &FieldError{Field: "endpoint", Msg: fmt.Sprintf("longer than %d characters", maxFilterLength)}
	case strings.ContainsAny(q.Endpoint, "\x00\n\r"):
		return q, &FieldError{Field: "endpoint", Msg: "contains a control character"}
	}
	if q.MinDurationMs < 0 {
		return q, &FieldError{Field: "minDurationMs", Msg: "must not be negative"}
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultExemplarSessionsLimit
	case q.Limit < 0 || q.Limit > MaxExemplarSessionsLimit:
		return q, &FieldError{Field: "limit", Msg: fmt.Sprintf("must be between 1 and %d, got %d", MaxExemplarSessionsLimit, q.Limit)}
	}
	return q, nil
}
