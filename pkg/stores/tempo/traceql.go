package tempo

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// TraceQL building. This file is pure: no I/O, so it is unit-tested and fuzzed
// directly. Every user value is written as a TraceQL string literal (Go-style
// double-quoted, backslash escapes: Tempo's TraceQL docs, "Value types and
// literals"), or, for attributes the schema types as numbers or booleans, as a
// literal that was parsed first and printed back; attribute names that are not
// plain dotted identifiers are written in TraceQL's quoted-attribute form,
// whose only escapes are \" and \\ ("Quoted attribute names").

// Scope is a TraceQL attribute scope.
type Scope string

const (
	ScopeSpan     Scope = "span"
	ScopeResource Scope = "resource"
	ScopeEvent    Scope = "event"
	// ScopeAny is TraceQL's unscoped form (".name"): Tempo looks on the span
	// and on its resource.
	ScopeAny Scope = ""
)

// ScopeOf says where an attribute lives in a trace, from the schema's
// signals: resource-only attributes on the resource, span attributes on the
// span, span-event-only attributes on events; an attribute on both spans and
// resources, or one the schema does not define, is left unscoped so that
// either matches.
func ScopeOf(name string) Scope {
	a, ok := schema.Default().Attribute(name)
	if !ok {
		return ScopeAny
	}
	var span, resource, event bool
	for _, s := range a.Signals {
		switch s {
		case "span":
			span = true
		case "resource":
			resource = true
		case "span_event":
			event = true
		}
	}
	switch {
	case span && resource:
		return ScopeAny
	case span:
		return ScopeSpan
	case resource:
		return ScopeResource
	case event:
		return ScopeEvent
	}
	return ScopeAny
}

// plainAttrName is a dotted identifier TraceQL reads unquoted
// (span.http.status_code); anything else is quoted.
var plainAttrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// ErrBadAttributeName is returned for attribute names no store can hold:
// empty, invalid UTF-8 or with control characters.
var ErrBadAttributeName = errors.New("invalid attribute name")

// AttrRef renders a scoped attribute reference: span.session.id,
// resource."odd name", .unscoped.
func AttrRef(scope Scope, name string) (string, error) {
	if name == "" || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w %q", ErrBadAttributeName, name)
	}
	if plainAttrName.MatchString(name) {
		return string(scope) + "." + name, nil
	}
	return string(scope) + "." + quoteAttrName(name), nil
}

// quoteAttrName writes a name in TraceQL's quoted-attribute form.
func quoteAttrName(name string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// QuoteString renders s as a TraceQL string literal. strconv.Quote writes
// exactly the escapes a Go-style double-quoted literal reads back, and
// escapes every control character and invalid byte, so the literal is one
// line and nothing in s can end it.
func QuoteString(s string) string { return strconv.Quote(s) }

// Literal renders an attribute's value as the literal its schema type needs:
// TraceQL compares typed values, so an int attribute never equals "502".
func Literal(name, value string) (string, error) {
	typ := schema.TypeString
	if a, ok := schema.Default().Attribute(name); ok {
		typ = a.Type
	}
	switch typ {
	case schema.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return "", fmt.Errorf("attribute %s is an integer; %q is not", name, value)
		}
		return strconv.FormatInt(n, 10), nil
	case schema.TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("attribute %s is a number; %q is not", name, value)
		}
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s, nil
	case schema.TypeBool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return "", fmt.Errorf("attribute %s is a boolean; %q is not", name, value)
		}
		return strconv.FormatBool(b), nil
	}
	return QuoteString(value), nil
}

// condition renders "<ref> = <literal>" for one exact match.
func condition(kv telemetry.KV) (string, error) {
	ref, err := AttrRef(ScopeOf(kv.Key), kv.Key)
	if err != nil {
		return "", err
	}
	lit, err := Literal(kv.Key, kv.Value)
	if err != nil {
		return "", err
	}
	return ref + " = " + lit, nil
}

// SpansetFilter renders one spanset selecting spans that carry every
// attribute (AND-ed: all must hold on the same span, with its resource).
// extra conditions (already rendered) are AND-ed after them.
func SpansetFilter(attrs []telemetry.KV, extra ...string) (string, error) {
	seen := map[string]string{}
	conds := make([]string, 0, len(attrs)+len(extra))
	for _, kv := range attrs {
		if prev, dup := seen[kv.Key]; dup {
			if prev != kv.Value {
				return "", fmt.Errorf("attribute %q filtered on two values", kv.Key)
			}
			continue
		}
		seen[kv.Key] = kv.Value
		c, err := condition(kv)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	conds = append(conds, extra...)
	if len(conds) == 0 {
		return "{ }", nil
	}
	return "{ " + strings.Join(conds, " && ") + " }", nil
}

// sessionRef is the TraceQL reference of the session attribute.
func sessionRef() string {
	ref, _ := AttrRef(ScopeOf(schema.AttrSessionID), schema.AttrSessionID)
	return ref
}

// SessionCountQuery renders the TraceQL metrics query counting the spans of
// each session among the spans matching attrs.
func SessionCountQuery(attrs []telemetry.KV) (string, error) {
	ref := sessionRef()
	f, err := SpansetFilter(attrs, ref+" != nil")
	if err != nil {
		return "", err
	}
	return f + " | count_over_time() by (" + ref + ")", nil
}

// SessionSearchQuery renders the search that stands in for SessionCountQuery
// where TraceQL metrics are unavailable: the same spans, with the session
// attribute selected so that every returned span carries it.
func SessionSearchQuery(attrs []telemetry.KV) (string, error) {
	ref := sessionRef()
	f, err := SpansetFilter(attrs, ref+" != nil")
	if err != nil {
		return "", err
	}
	return f + " | select(" + ref + ")", nil
}
