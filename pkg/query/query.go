// Package query is Stitch's pinned query contract: the JSON each panel sends,
// parsed and validated. Unknown fields are ignored; an invalid field gives an
// error naming it. It has no I/O.
package query

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// Query types.
const (
	TypeSessions        = "sessions"
	TypeSessionTimeline = "sessionTimeline"
	TypeTraceToSession  = "traceToSession"
)

// FieldError is an invalid query field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Header is the part of every query that picks its handler.
type Header struct {
	QueryType string `json:"queryType"`
}

// SessionTimeline asks for one session, joined.
type SessionTimeline struct {
	SessionID string `json:"sessionId"`
}

// ParseHeader reads a query's type; the request's queryType wins over the
// model's when both are set, as Grafana sends both.
func ParseHeader(raw json.RawMessage, requestType string) (string, error) {
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", &FieldError{Field: "query", Msg: fmt.Sprintf("not valid JSON: %v", err)}
	}
	qt := h.QueryType
	if qt == "" {
		qt = requestType
	}
	if qt == "" {
		return "", &FieldError{Field: "queryType", Msg: "missing; choose sessions, sessionTimeline or traceToSession"}
	}
	return qt, nil
}

// ParseSessionTimeline parses and validates a sessionTimeline query.
func ParseSessionTimeline(raw json.RawMessage) (SessionTimeline, error) {
	var q SessionTimeline
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: "sessionId", Msg: fmt.Sprintf("not a string: %v", err)}
	}
	q.SessionID = strings.TrimSpace(q.SessionID)
	if q.SessionID == "" {
		return q, &FieldError{Field: "sessionId", Msg: "missing; pick a session (e.g. from a sessions table) or set $session"}
	}
	if err := schema.ValidSessionID(q.SessionID); err != nil {
		return q, &FieldError{Field: "sessionId", Msg: fmt.Sprintf("%q is not a session ID: %v", truncate(q.SessionID, 80), err)}
	}
	return q, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
