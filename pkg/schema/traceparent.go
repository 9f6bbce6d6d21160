package schema

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ParseTraceparent decodes a W3C traceparent header value.
//
// The accept/reject verdict and the decoded span context come from the
// OpenTelemetry TraceContext propagator. Stitch adds two checks before it:
// a length limit (rules.propagation.traceparent.max_length) and, for version
// 00, an exact length of 55 (OpenTelemetry tolerates a trailing '-').
// When the header is rejected, the reason code comes from
// explainTraceparent, which only explains the rejection and never
// overrides the propagator.
func ParseTraceparent(h string) (trace.SpanContext, error) {
	if h == "" {
		return trace.SpanContext{}, newErr(CodeEmpty, "empty traceparent")
	}
	if max := Default().Rules.Propagation.Traceparent.MaxLength; len(h) > max {
		return trace.SpanContext{}, newErr(CodeOversized, "traceparent is %d bytes, limit %d", len(h), max)
	}
	if strings.HasPrefix(h, "00-") && len(h) != 55 {
		return trace.SpanContext{}, rejectTraceparent(h)
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": h})
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return trace.SpanContext{}, rejectTraceparent(h)
	}
	return sc, nil
}

func rejectTraceparent(h string) *Error {
	if e, ok := explainTraceparent(h); ok {
		return e
	}
	return newErr(CodeMalformed, "rejected by the W3C trace context parser")
}

// explainTraceparent finds the first reason, in the order of
// rules.propagation.traceparent.error_order, why h is not a valid
// traceparent (ignoring the length checks done before it). It returns false
// when it finds none. Hand-written because OpenTelemetry reports no reason;
// the fuzz test checks that it finds a reason exactly when the
// OpenTelemetry propagator rejects the header.
func explainTraceparent(h string) (*Error, bool) {
	parts := strings.Split(h, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return newErr(CodeMalformed, "want version-traceid-parentid-flags with 2, 32, 16 and 2 hex characters"), true
	}
	for _, p := range parts[:4] {
		if !isLowerHex(p) {
			return newErr(CodeBadHex, "field %q is not lowercase hex", p), true
		}
	}
	version := parts[0]
	if version == "ff" {
		return newErr(CodeBadVersion, "version ff is invalid"), true
	}
	if version == "00" && len(parts) > 4 {
		return newErr(CodeExtraFields, "version 00 has data after the flags"), true
	}
	if flags := hexNibble(parts[3][0])<<4 | hexNibble(parts[3][1]); version == "00" && flags&^0x03 != 0 {
		return newErr(CodeBadFlags, "version 00 allows only the flag bits 01 and 02, got %s", parts[3]), true
	}
	if isZeroHex(parts[1]) {
		return newErr(CodeZeroTraceID, "trace-id is all zeros"), true
	}
	if isZeroHex(parts[2]) {
		return newErr(CodeZeroSpanID, "parent-id is all zeros"), true
	}
	return nil, false
}

func hexNibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0xff
}

// FormatTraceparent encodes sc as a version 00 traceparent with the
// OpenTelemetry TraceContext propagator. Only the sampled and random flags
// are kept.
func FormatTraceparent(sc trace.SpanContext) (string, error) {
	if !sc.TraceID().IsValid() {
		return "", newErr(CodeZeroTraceID, "trace-id is all zeros")
	}
	if !sc.SpanID().IsValid() {
		return "", newErr(CodeZeroSpanID, "span-id is all zeros")
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)
	return c.Get("traceparent"), nil
}

// NewTraceparent encodes a traceparent from hex IDs (see TraceIDFromString
// and SpanIDFromString) and flags.
func NewTraceparent(traceID, spanID string, flags trace.TraceFlags) (string, error) {
	tid, err := TraceIDFromString(traceID)
	if err != nil {
		return "", err
	}
	sid, err := SpanIDFromString(spanID)
	if err != nil {
		return "", err
	}
	return FormatTraceparent(trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags}))
}

// Propagator returns the propagator every Stitch component uses for HTTP
// headers: W3C traceparent/tracestate and W3C baggage (OpenTelemetry).
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
