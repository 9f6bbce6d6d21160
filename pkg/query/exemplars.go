package query

import (
	"encoding/json"
	"fmt"
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
	if err := checkFilter("endpoint", &q.Endpoint); err != nil {
		return q, err
	}
	if q.Endpoint == "" {
		return q, &FieldError{Field: "endpoint", Msg: "missing; give the url.template of the app's requests, e.g. /v1/search"}
	}
	if q.MinDurationMs < 0 {
		return q, &FieldError{Field: "minDurationMs", Msg: "must not be negative"}
	}
	if err := checkLimitWithin(&q.Limit, DefaultExemplarSessionsLimit, MaxExemplarSessionsLimit); err != nil {
		return q, err
	}
	return q, nil
}
