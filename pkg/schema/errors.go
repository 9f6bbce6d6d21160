package schema

import (
	"errors"
	"fmt"
)

// Code is a machine-readable reason code. The same codes appear in the
// schema's reason_codes list and in the test vectors.
type Code string

// Reason codes. See reason_codes in schema/stitch-telemetry.yaml.
const (
	CodeEmpty              Code = "empty"
	CodeOversized          Code = "oversized"
	CodeMalformed          Code = "malformed"
	CodeBadHex             Code = "bad_hex"
	CodeBadVersion         Code = "bad_version"
	CodeExtraFields        Code = "extra_fields"
	CodeBadFlags           Code = "bad_flags"
	CodeZeroTraceID        Code = "zero_trace_id"
	CodeZeroSpanID         Code = "zero_span_id"
	CodeBadTraceID         Code = "bad_trace_id"
	CodeBadSpanID          Code = "bad_span_id"
	CodeBadSessionID       Code = "bad_session_id"
	CodeMissingSessionID   Code = "missing_session_id"
	CodePartial            Code = "partial"
	CodeBadMember          Code = "bad_member"
	CodeTooManyMembers     Code = "too_many_members"
	CodeInvalidURL         Code = "invalid_url"
	CodeTooLong            Code = "too_long"
	CodeWeakKey            Code = "weak_key"
	CodeBadRate            Code = "bad_rate"
	CodeBadEvent           Code = "bad_event"
	CodeIDsExhausted       Code = "ids_exhausted"
	CodeUnknownAttribute   Code = "unknown_attribute"
	CodeForbiddenAttribute Code = "forbidden_attribute"
	CodeWrongType          Code = "wrong_type"
	CodeEmptyValue         Code = "empty_value"
	CodeBadCharacters      Code = "bad_characters"
	CodeBadEnum            Code = "bad_enum"
	CodePatternMismatch    Code = "pattern_mismatch"
	CodeOutOfRange         Code = "out_of_range"
	CodePIIInURL           Code = "pii_in_url"
	CodePIIDetected        Code = "pii_detected"
)

// allCodes lists every Code; a test checks it against the YAML.
var allCodes = []Code{
	CodeEmpty, CodeOversized, CodeMalformed, CodeBadHex, CodeBadVersion,
	CodeExtraFields, CodeBadFlags, CodeZeroTraceID, CodeZeroSpanID,
	CodeBadTraceID, CodeBadSpanID, CodeBadSessionID, CodeMissingSessionID,
	CodePartial, CodeBadMember, CodeTooManyMembers, CodeInvalidURL,
	CodeTooLong, CodeWeakKey, CodeBadRate, CodeBadEvent, CodeIDsExhausted,
	CodeUnknownAttribute, CodeForbiddenAttribute, CodeWrongType,
	CodeEmptyValue, CodeBadCharacters, CodeBadEnum, CodePatternMismatch,
	CodeOutOfRange, CodePIIInURL, CodePIIDetected,
}

// Error is the error type returned by this package.
type Error struct {
	Code   Code
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "stitch schema: " + string(e.Code)
	}
	return "stitch schema: " + string(e.Code) + ": " + e.Detail
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: CodeBadSessionID}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newErr(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// CodeOf returns the reason code of err, or "" when err is nil or not from
// this package.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
