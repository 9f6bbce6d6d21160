package schema

import (
	"go.opentelemetry.io/otel/trace"
)

// ValidSessionID checks the session_id format: 32 lowercase hex characters,
// not all zero. It returns an *Error with CodeBadSessionID otherwise.
//
// A session ID has exactly the shape of a W3C trace-id, so the check is
// OpenTelemetry's trace-id parser (lowercase hex only, non-zero).
func ValidSessionID(s string) error {
	if len(s) != 32 {
		return newErr(CodeBadSessionID, "want 32 lowercase hex characters, got %d bytes", len(s))
	}
	if _, err := trace.TraceIDFromHex(s); err != nil {
		if isZeroHex(s) {
			return newErr(CodeBadSessionID, "all zeros")
		}
		return newErr(CodeBadSessionID, "not lowercase hex")
	}
	return nil
}

// TraceIDFromString parses a trace ID written as 32 lowercase hex characters,
// or as 16 lowercase hex characters (a 64-bit trace ID, widened by
// left-padding with zeros). The all-zero ID is rejected.
func TraceIDFromString(s string) (trace.TraceID, error) {
	h := s
	if len(h) == 16 {
		h = "0000000000000000" + h
	}
	if len(h) != 32 {
		return trace.TraceID{}, newErr(CodeBadTraceID, "want 32 or 16 lowercase hex characters, got %d bytes", len(s))
	}
	id, err := trace.TraceIDFromHex(h)
	if err != nil {
		if isZeroHex(h) {
			return trace.TraceID{}, newErr(CodeZeroTraceID, "all zeros")
		}
		return trace.TraceID{}, newErr(CodeBadTraceID, "not lowercase hex")
	}
	return id, nil
}

// ValidTraceID checks the trace_id format (see TraceIDFromString).
func ValidTraceID(s string) error {
	_, err := TraceIDFromString(s)
	return err
}

// SpanIDFromString parses a span ID: 16 lowercase hex characters, not all zero.
func SpanIDFromString(s string) (trace.SpanID, error) {
	if len(s) != 16 {
		return trace.SpanID{}, newErr(CodeBadSpanID, "want 16 lowercase hex characters, got %d bytes", len(s))
	}
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		if isZeroHex(s) {
			return trace.SpanID{}, newErr(CodeZeroSpanID, "all zeros")
		}
		return trace.SpanID{}, newErr(CodeBadSpanID, "not lowercase hex")
	}
	return id, nil
}

// ValidSpanID checks the span_id format.
func ValidSpanID(s string) error {
	_, err := SpanIDFromString(s)
	return err
}

func isZeroHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
