// Package query is Stitch's pinned query contract: the JSON each panel sends,
// parsed and validated. Unknown fields are ignored; an invalid field gives an
// error naming it. It has no I/O.
package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// Query types: these three here, the others beside their query's fields;
// Types lists them all.
const (
	TypeSessions        = "sessions"
	TypeSessionTimeline = "sessionTimeline"
	TypeTraceToSession  = "traceToSession"
)

// Types lists every query type Stitch answers.
var Types = []string{TypeSessions, TypeSessionTimeline, TypeTraceToSession, TypeLatencyBreakdown, TypeErrorCascades,
	TypePropagationHealth, TypeSessionMetrics, TypeExemplarSessions}

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
	// Frames picks which of the frames to return (default all): a trace
	// panel asks for ["waterfall"] only, a logs panel for ["logs"].
	Frames []string `json:"frames"`
}

// TimelineFrames are the frames a sessionTimeline query can return.
var TimelineFrames = []string{"timeline", "waterfall", "logs"}

// ParseHeader reads a query's type: the model's queryType field (the query
// JSON) when set, else requestType (the DataQuery's QueryType). Grafana fills
// both from the same editor field, so they differ only for a caller that sets
// one of them.
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
		return "", &FieldError{Field: "queryType", Msg: "missing; choose one of " + strings.Join(Types, ", ")}
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
	for _, f := range q.Frames {
		if !contains(TimelineFrames, f) {
			return q, &FieldError{Field: "frames", Msg: fmt.Sprintf("%q is not a frame; choose from %s", truncate(f, 40), strings.Join(TimelineFrames, ", "))}
		}
	}
	if len(q.Frames) == 0 {
		q.Frames = TimelineFrames
	}
	return q, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Sessions lists sessions in the time range.
type Sessions struct {
	AppService    string  `json:"appService"`
	AppVersion    string  `json:"appVersion"`
	OSVersion     string  `json:"osVersion"`
	DeviceModel   string  `json:"deviceModel"`
	NetworkType   string  `json:"networkType"`
	Endpoint      string  `json:"endpoint"`
	ErrorsOnly    bool    `json:"errorsOnly"`
	MinDurationMs float64 `json:"minDurationMs"`
	// OrderBy ranks the list: start (latest first, the default),
	// duration (longest first) or errors (most failed requests first).
	OrderBy string `json:"orderBy"`
	Limit   int    `json:"limit"`
}

// Session list orders.
var SessionOrders = []string{"start", "duration", "errors"}

// Session list limits.
const (
	DefaultSessionsLimit = 100
	MaxSessionsLimit     = 1000
	maxFilterLength      = 256
)

// ParseSessions parses and validates a sessions query.
func ParseSessions(raw json.RawMessage) (Sessions, error) {
	var q Sessions
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: fieldOf(err), Msg: fmt.Sprintf("wrong type: %v", err)}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"appService", &q.AppService}, {"appVersion", &q.AppVersion}, {"osVersion", &q.OSVersion}, {"deviceModel", &q.DeviceModel}, {"networkType", &q.NetworkType}, {"endpoint", &q.Endpoint}} {
		if err := checkFilter(f.name, f.v); err != nil {
			return q, err
		}
	}
	if q.MinDurationMs < 0 {
		return q, &FieldError{Field: "minDurationMs", Msg: "must not be negative"}
	}
	if q.OrderBy == "" {
		q.OrderBy = SessionOrders[0]
	}
	if !contains(SessionOrders, q.OrderBy) {
		return q, &FieldError{Field: "orderBy", Msg: fmt.Sprintf("%q is not an order; choose from %s", truncate(q.OrderBy, 40), strings.Join(SessionOrders, ", "))}
	}
	if err := checkLimit(&q.Limit); err != nil {
		return q, err
	}
	return q, nil
}

// TraceToSession finds the session a trace belongs to.
type TraceToSession struct {
	TraceID string `json:"traceId"`
}

// ParseTraceToSession parses and validates a traceToSession query; a 16-hex
// trace ID is widened to 32 as W3C and the stores do.
func ParseTraceToSession(raw json.RawMessage) (TraceToSession, error) {
	var q TraceToSession
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: "traceId", Msg: fmt.Sprintf("not a string: %v", err)}
	}
	q.TraceID = strings.ToLower(strings.TrimSpace(q.TraceID))
	if q.TraceID == "" {
		return q, &FieldError{Field: "traceId", Msg: "missing"}
	}
	if len(q.TraceID) == 16 {
		q.TraceID = strings.Repeat("0", 16) + q.TraceID
	}
	if err := schema.ValidTraceID(q.TraceID); err != nil {
		return q, &FieldError{Field: "traceId", Msg: fmt.Sprintf("%q is not a trace ID (32 or 16 hex characters): %v", truncate(q.TraceID, 80), err)}
	}
	return q, nil
}

// fieldOf names the field a JSON type error is about.
func fieldOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return "query"
}

// TypeLatencyBreakdown splits app requests into client, server and network
// time, from the metrics store's request-duration histograms.
const TypeLatencyBreakdown = "latencyBreakdown"

// LatencyBreakdown groups the app's requests in the time range; server and
// network time are known only when grouping by endpoint alone.
type LatencyBreakdown struct {
	GroupBy []string `json:"groupBy"`
	// Limit caps the groups returned (default 100, at most 1000).
	Limit int `json:"limit"`
}

// ParseLatencyBreakdown parses and validates a latencyBreakdown query; the
// default grouping is by endpoint.
func ParseLatencyBreakdown(raw json.RawMessage, dimensions []string) (LatencyBreakdown, error) {
	var q LatencyBreakdown
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: fieldOf(err), Msg: fmt.Sprintf("wrong type: %v", err)}
	}
	if len(q.GroupBy) == 0 {
		q.GroupBy = []string{dimensions[0]}
	}
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		ok := false
		for _, d := range dimensions {
			ok = ok || g == d
		}
		if !ok {
			return q, &FieldError{Field: "groupBy", Msg: fmt.Sprintf("%q is not a dimension; choose from %s", truncate(g, 40), strings.Join(dimensions, ", "))}
		}
		if seen[g] {
			return q, &FieldError{Field: "groupBy", Msg: fmt.Sprintf("%q given twice", g)}
		}
		seen[g] = true
	}
	if err := checkLimit(&q.Limit); err != nil {
		return q, err
	}
	return q, nil
}

// TypeErrorCascades groups failed user requests by root-cause signature.
const TypeErrorCascades = "errorCascades"

// ErrorCascades lists cause signatures in the time range.
type ErrorCascades struct {
	// Limit caps the signatures returned (default 100, at most 1000).
	Limit int `json:"limit"`
}

// ParseErrorCascades parses and validates an errorCascades query.
func ParseErrorCascades(raw json.RawMessage) (ErrorCascades, error) {
	var q ErrorCascades
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: fieldOf(err), Msg: fmt.Sprintf("wrong type: %v", err)}
	}
	if err := checkLimit(&q.Limit); err != nil {
		return q, err
	}
	return q, nil
}

// Query types of the drift audit and the alertable series.
const (
	TypePropagationHealth = "propagationHealth"
	TypeSessionMetrics    = "sessionMetrics"
)

// SessionMetrics asks for one session metric as time series.
type SessionMetrics struct {
	Metric  string `json:"metric"`
	GroupBy string `json:"groupBy"`
	// LookbackHours is, for newCascadeSignatures, the history before the
	// range in which a signature counts as already seen (default 24, at
	// most 168).
	LookbackHours float64 `json:"lookbackHours"`
}

// Lookback bounds of newCascadeSignatures.
const (
	DefaultLookbackHours = 24
	MaxLookbackHours     = 168
)

// ParseSessionMetrics parses and validates a sessionMetrics query.
func ParseSessionMetrics(raw json.RawMessage, metrics, dimensions []string) (SessionMetrics, error) {
	var q SessionMetrics
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &FieldError{Field: fieldOf(err), Msg: fmt.Sprintf("wrong type: %v", err)}
	}
	if q.Metric == "" {
		return q, &FieldError{Field: "metric", Msg: "missing; choose from " + strings.Join(metrics, ", ")}
	}
	if !contains(metrics, q.Metric) {
		return q, &FieldError{Field: "metric", Msg: fmt.Sprintf("%q is not a metric; choose from %s", truncate(q.Metric, 40), strings.Join(metrics, ", "))}
	}
	if q.GroupBy != "" && !contains(dimensions, q.GroupBy) {
		return q, &FieldError{Field: "groupBy", Msg: fmt.Sprintf("%q is not a dimension; choose from %s", truncate(q.GroupBy, 40), strings.Join(dimensions, ", "))}
	}
	switch {
	case q.LookbackHours == 0:
		q.LookbackHours = DefaultLookbackHours
	case q.LookbackHours < 0 || q.LookbackHours > MaxLookbackHours:
		return q, &FieldError{Field: "lookbackHours", Msg: fmt.Sprintf("must be between 0 and %d, got %v", MaxLookbackHours, q.LookbackHours)}
	}
	return q, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkLimit defaults a list query's limit and bounds it.
func checkLimit(limit *int) error {
	return checkLimitWithin(limit, DefaultSessionsLimit, MaxSessionsLimit)
}

// checkLimitWithin defaults a limit of 0 to def and refuses one outside
// 1..most.
func checkLimitWithin(limit *int, def, most int) error {
	switch {
	case *limit == 0:
		*limit = def
	case *limit < 0 || *limit > most:
		return &FieldError{Field: "limit", Msg: fmt.Sprintf("must be between 1 and %d, got %d", most, *limit)}
	}
	return nil
}

// checkFilter trims a filter value and refuses one too long or holding a
// control character (it is an exact match, never a pattern).
func checkFilter(field string, v *string) error {
	*v = strings.TrimSpace(*v)
	if len(*v) > maxFilterLength {
		return &FieldError{Field: field, Msg: fmt.Sprintf("longer than %d characters", maxFilterLength)}
	}
	if strings.ContainsAny(*v, "\x00\n\r") {
		return &FieldError{Field: field, Msg: "contains a control character"}
	}
	return nil
}
