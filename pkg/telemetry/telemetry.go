// Package telemetry is the store-neutral model of what Stitch reads back from
// trace and log stores: spans, traces and log records with their attributes.
// Store adapters translate their wire formats into it; the correlation engine
// reads only it. It has no I/O.
package telemetry

import (
	"sort"
	"time"
)

// KV is one attribute, its value rendered as a string (the stores Stitch
// reads return strings for most values; typed values are parsed where the
// schema says so).
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Attrs is a list of attributes.
type Attrs []KV

// Get returns an attribute's value.
func (a Attrs) Get(key string) (string, bool) {
	for _, kv := range a {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Value returns an attribute's value, or "".
func (a Attrs) Value(key string) string {
	v, _ := a.Get(key)
	return v
}

// Sorted returns the attributes ordered by key, for stable output.
func (a Attrs) Sorted() Attrs {
	out := append(Attrs(nil), a...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// SpanKind is OpenTelemetry's span kind, lowercased.
type SpanKind string

const (
	KindUnspecified SpanKind = ""
	KindInternal    SpanKind = "internal"
	KindServer      SpanKind = "server"
	KindClient      SpanKind = "client"
	KindProducer    SpanKind = "producer"
	KindConsumer    SpanKind = "consumer"
)

// StatusCode is OpenTelemetry's span status code.
type StatusCode int

const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Event is a span event.
type Event struct {
	Time       time.Time
	Name       string
	Attributes Attrs
}

// Link is a span link.
type Link struct {
	TraceID    string
	SpanID     string
	Attributes Attrs
}

// Span is one span as read from a trace store.
type Span struct {
	TraceID       string // 32 lowercase hex
	SpanID        string // 16 lowercase hex
	ParentSpanID  string // "" for a root span
	Name          string
	Service       string
	Kind          SpanKind
	Start         time.Time
	Duration      time.Duration
	StatusCode    StatusCode
	StatusMessage string
	Attributes    Attrs
	Resource      Attrs
	Events        []Event
	Links         []Link
	ScopeName     string
	ScopeVersion  string
	TraceState    string
}

// End is the span's end time.
func (s *Span) End() time.Time { return s.Start.Add(s.Duration) }

// Attr looks an attribute up on the span, then on its resource.
func (s *Span) Attr(key string) string {
	if v, ok := s.Attributes.Get(key); ok {
		return v
	}
	return s.Resource.Value(key)
}

// Trace is the spans of one trace a store returned.
type Trace struct {
	TraceID string
	Spans   []Span
	// Partial is set when the store returned only part of the trace (for
	// example a size limit); Notice says why.
	Partial bool
	Notice  string
}

// LogRecord is one log record as read from a log store.
type LogRecord struct {
	Time       time.Time
	TraceID    string
	SpanID     string
	Service    string
	Severity   string
	Body       string
	Attributes Attrs
}
