package loki

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/otlptranslator"
)

// LogQL building. This file is pure: no I/O, so it is unit-tested and fuzzed
// directly. Every value is written as a LogQL double-quoted string (Go
// escapes: LogQL docs, "Log stream selector" and "Label filter expression"),
// and label names are checked against Loki's label-name grammar, so nothing a
// user types can end a literal and add a filter or a pipeline stage.

// AllStreams selects every stream OTLP ingestion creates: each has a
// service_name label (Loki requires a selector with at least one matcher
// that does not match the empty string).
const AllStreams = `{service_name=~".+"}`

// labelName is Loki's (Prometheus') label-name grammar.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ErrBadLabelName is returned for a label name Loki cannot hold.
var ErrBadLabelName = errors.New("invalid Loki label name")

// LabelName is the name an OpenTelemetry attribute gets in Loki. Loki's
// OTLP ingestion names attributes with Prometheus' otlptranslator label
// namer (default settings): every character other than a letter or a digit
// becomes "_", runs of "_" collapse to one, and a name starting with a digit
// gets a "key_" prefix (session.id -> session_id, 9lives -> key_9lives,
// a..b -> a_b). Names that come out empty or all "_" Loki refuses at ingest,
// so no label can have them.
func LabelName(attr string) (string, error) {
	name, err := (&otlptranslator.LabelNamer{}).Build(attr)
	if err != nil {
		return "", fmt.Errorf("%w for attribute %q: %v", ErrBadLabelName, attr, err)
	}
	return name, nil
}

// Quote renders s as a LogQL double-quoted string literal. strconv.Quote
// writes exactly the escapes Go-style literals read back and escapes every
// control character and invalid byte: the literal is one line.
func Quote(s string) string { return strconv.Quote(s) }

// LabelFilter renders `| name="value"`: an exact match on a label, stream
// label or structured metadata alike.
func LabelFilter(name, value string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	return "| " + name + "=" + Quote(value), nil
}

// LabelRegexFilter renders `| name=~"v1|v2|…"`: a label equal to one of
// values. Values are regex-quoted, then string-quoted; Loki anchors label
// regexes at both ends, so the alternation matches whole values only.
func LabelRegexFilter(name string, values []string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	if len(values) == 0 {
		return "", errors.New("a regex label filter needs at least one value")
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = regexp.QuoteMeta(v)
	}
	return "| " + name + "=~" + Quote(strings.Join(quoted, "|")), nil
}

// Query joins a stream selector and its filters into one log query.
func Query(selector string, filters ...string) string {
	parts := append([]string{selector}, filters...)
	return strings.Join(parts, " ")
}

// LabelNotEmptyFilter renders `| name!=""`: the label (stream label or
// structured metadata) is there with a value.
func LabelNotEmptyFilter(name string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	return "| " + name + `!=""`, nil
}

// hexPrefix is a prefix of a lowercase hex ID.
var hexPrefix = regexp.MustCompile(`^[0-9a-f]*$`)

// LabelHexPrefixFilter renders `| name=~"<prefix>.*"`: a label whose value
// starts with a lowercase hex prefix (Loki anchors label regexes, so the
// ".*" lets the rest of the value through).
func LabelHexPrefixFilter(name, prefix string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	if prefix == "" || !hexPrefix.MatchString(prefix) {
		return "", fmt.Errorf("session ID prefix %q is not lowercase hex", prefix)
	}
	return "| " + name + "=~" + Quote(prefix+".*"), nil
}

// LabelNotHexFilter renders `| name!~"<prefix>[0-9a-f].*"`: a label whose
// value does not continue a lowercase hex prefix with a hex digit.
func LabelNotHexFilter(name, prefix string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	if !hexPrefix.MatchString(prefix) {
		return "", fmt.Errorf("session ID prefix %q is not lowercase hex", prefix)
	}
	return "| " + name + "!~" + Quote(prefix+"[0-9a-f].*"), nil
}

// StreamSelector renders `{name="value"}`, or AllStreams for an empty
// value (Loki refuses a selector whose only matcher matches the empty
// string; the caller filters on the value instead).
func StreamSelector(name, value string) (string, error) {
	if !labelName.MatchString(name) {
		return "", fmt.Errorf("%w %q", ErrBadLabelName, name)
	}
	if value == "" {
		return AllStreams, nil
	}
	return "{" + name + "=" + Quote(value) + "}", nil
}

// CountBy renders `sum by (labels) (count_over_time(<logQuery> [<rng>]))`:
// the number of log lines of each label set in the rng before each
// evaluation time. Loki's range durations have the syntax of Prometheus'
// (whole milliseconds at the finest), so rng is rounded up to one.
func CountBy(by []string, logQuery string, rng time.Duration) (string, error) {
	for _, l := range by {
		if !labelName.MatchString(l) {
			return "", fmt.Errorf("%w %q", ErrBadLabelName, l)
		}
	}
	if len(by) == 0 {
		return "", errors.New("a count by labels needs a label")
	}
	return fmt.Sprintf("sum by (%s) (count_over_time(%s [%s]))", strings.Join(by, ", "), logQuery, Duration(rng)), nil
}

// Duration renders d as a LogQL range duration in whole milliseconds,
// rounded up (at least 1ms).
func Duration(d time.Duration) string {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(int64(ms), 10) + "ms"
}
