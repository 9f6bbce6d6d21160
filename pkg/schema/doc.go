// Package schema implements the Stitch shared telemetry schema defined in
// schema/stitch-telemetry.yaml at the repository root.
//
// It owns everything that the iOS exporter and the Go plugin must agree on:
//
//   - the attribute, event and header names (names_gen.go, generated from
//     the YAML) and the loaded schema itself (Default, Load);
//   - validation of attribute values against the schema (Validate);
//   - session, trace and span ID formats (ValidSessionID, ValidTraceID,
//     ValidSpanID);
//   - W3C traceparent and baggage encoding and decoding, delegated to the
//     OpenTelemetry Go propagators (ParseTraceparent, FormatTraceparent,
//     DecodeBaggage, EncodeBaggage, SessionIDFromBaggage);
//   - the session rotation state machine (SessionMachine), which is pure:
//     it takes events with times and an ID source and never reads a clock;
//   - URL templating (TemplateURL), keyed pseudonymous IDs (PseudonymousID)
//     and the per-session sampling decision (Sample);
//   - schema version compatibility (CanRead).
//
// Every failure is an *Error carrying a reason Code that is also used by the
// language-neutral test vectors in schema/vectors. The package does no I/O:
// the YAML is embedded at build time.
//
// To change the schema, edit schema/stitch-telemetry.yaml and run
// `go run ./pkg/schema/cmd/schemadoc` from the repository root (or
// `go generate ./pkg/schema`).
package schema

//go:generate go run ./cmd/schemadoc -root ../..
