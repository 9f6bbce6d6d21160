package tempo

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

var hostile = []string{
	`plain`, `with "quotes"`, `back\slash`, "new\nline", `}{"`, "unicode ✓ 世界", `a|b:c`, `*`, "`backtick`",
	`" } || { true } | select(.x) && { .a = "`, `\"`, "\x00nul", `span.session.id = x`, "", "\u2028", `'single'`,
	"\xff\xfe invalid utf8", `\u0022`, "tab\there", `}`,
}

// condition is one parsed "<ref> <op> <literal>" of a spanset.
type parsedCondition struct {
	scope, name, op, value string
	quoted                 bool // value was a string literal
}

// parseSpanset reads a built spanset with TraceQL's grammar as its docs give
// it: "{ }" or "{ cond && cond … }", cond = scope "." name op literal, name a
// plain dotted identifier or a quoted attribute name (escapes \" and \\ only),
// literal a Go-style double-quoted string, a number, a boolean or nil. It
// fails unless the whole input is consumed: nothing a value holds can add to
// the query.
func parseSpanset(s string) ([]parsedCondition, error) {
	if s == "{ }" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "{ ") {
		return nil, fmt.Errorf("no opening brace in %q", s)
	}
	rest := s[2:]
	var out []parsedCondition
	for {
		var c parsedCondition
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			return nil, fmt.Errorf("no scope in %q", rest)
		}
		c.scope, rest = rest[:dot], rest[dot+1:]
		switch Scope(c.scope) {
		case ScopeSpan, ScopeResource, ScopeEvent, ScopeAny:
		default:
			return nil, fmt.Errorf("unknown scope %q", c.scope)
		}
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' {
					i++
					if i == len(rest) || (rest[i] != '"' && rest[i] != '\\') {
						return nil, fmt.Errorf("bad escape in attribute name %q", rest)
					}
				}
				b.WriteByte(rest[i])
			}
			if i == len(rest) {
				return nil, fmt.Errorf("unterminated attribute name %q", rest)
			}
			c.name, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 || !plainAttrName.MatchString(rest[:end]) {
				return nil, fmt.Errorf("bad plain attribute name in %q", rest)
			}
			c.name, rest = rest[:end], rest[end:]
		}
		switch {
		case strings.HasPrefix(rest, " = "):
			c.op, rest = "=", rest[3:]
		case strings.HasPrefix(rest, " != "):
			c.op, rest = "!=", rest[4:]
		default:
			return nil, fmt.Errorf("no operator in %q", rest)
		}
		if strings.HasPrefix(rest, `"`) {
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("bad string literal in %q: %v", rest, err)
			}
			c.value, _ = strconv.Unquote(lit)
			c.quoted, rest = true, rest[len(lit):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				return nil, fmt.Errorf("unterminated literal in %q", rest)
			}
			c.value, rest = rest[:end], rest[end:]
			if c.value != "nil" && c.value != "true" && c.value != "false" {
				if _, err := strconv.ParseFloat(c.value, 64); err != nil {
					return nil, fmt.Errorf("bad literal %q", c.value)
				}
			}
		}
		out = append(out, c)
		switch {
		case rest == " }":
			return out, nil
		case strings.HasPrefix(rest, " && "):
			rest = rest[4:]
		default:
			return nil, fmt.Errorf("unexpected %q after a condition", rest)
		}
	}
}

func TestSpansetFilter(t *testing.T) {
	cases := []struct {
		attrs []telemetry.KV
		want  string
	}{
		{nil, "{ }"},
		{[]telemetry.KV{{Key: "session.id", Value: "abc"}}, `{ span.session.id = "abc" }`},
		{[]telemetry.KV{{Key: "service.name", Value: "app"}, {Key: "url.template", Value: "/a/{id}"}},
			`{ resource.service.name = "app" && span.url.template = "/a/{id}" }`},
		{[]telemetry.KV{{Key: "http.response.status_code", Value: " 502"}}, `{ span.http.response.status_code = 502 }`},
		{[]telemetry.KV{{Key: "stitch.sampling.rate", Value: "1"}}, `{ .stitch.sampling.rate = 1.0 }`},
		{[]telemetry.KV{{Key: "session.previous_id", Value: "x"}}, `{ event.session.previous_id = "x" }`},
		{[]telemetry.KV{{Key: "k8s.pod.name", Value: "x"}}, `{ .k8s.pod.name = "x" }`},
		{[]telemetry.KV{{Key: "http.request.header.content-type", Value: "x"}}, `{ ."http.request.header.content-type" = "x" }`},
		{[]telemetry.KV{{Key: `we"ird\name`, Value: `v"`}}, `{ ."we\"ird\\name" = "v\"" }`},
		{[]telemetry.KV{{Key: "session.id", Value: "a"}, {Key: "session.id", Value: "a"}}, `{ span.session.id = "a" }`},
	}
	for _, c := range cases {
		got, err := SpansetFilter(c.attrs)
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
		_, err = parseSpanset(got)
		assert.NoError(t, err, got)
	}
}

func TestSpansetFilterRefuses(t *testing.T) {
	for _, attrs := range [][]telemetry.KV{
		{{Key: "session.id", Value: "a"}, {Key: "session.id", Value: "b"}},
		{{Key: "http.response.status_code", Value: "502; drop"}},
		{{Key: "stitch.sampling.rate", Value: "NaN"}},
		{{Key: "", Value: "x"}},
		{{Key: "a\nb", Value: "x"}},
		{{Key: "\xff", Value: "x"}},
	} {
		_, err := SpansetFilter(attrs)
		assert.Error(t, err, "%q", attrs)
	}
}

// Every attribute's scope comes from its signals in the schema, not from a
// list of names.
func TestScopeOfFollowsTheSchema(t *testing.T) {
	for _, name := range schema.AttributeNames {
		a, ok := schema.Default().Attribute(name)
		require.True(t, ok)
		has := map[string]bool{}
		for _, s := range a.Signals {
			has[s] = true
		}
		got := ScopeOf(name)
		switch {
		case has["span"] && has["resource"]:
			assert.Equal(t, ScopeAny, got, name)
		case has["span"]:
			assert.Equal(t, ScopeSpan, got, name)
		case has["resource"]:
			assert.Equal(t, ScopeResource, got, name)
		case has["span_event"]:
			assert.Equal(t, ScopeEvent, got, name)
		default:
			assert.Equal(t, ScopeAny, got, name)
		}
	}
	assert.Equal(t, ScopeSpan, ScopeOf(schema.AttrSessionID), "session.id is on spans")
	assert.Equal(t, ScopeResource, ScopeOf(schema.AttrServiceName))
}

func TestHostileValuesStayInsideTheirLiteral(t *testing.T) {
	for _, v := range hostile {
		q, err := SpansetFilter([]telemetry.KV{{Key: "session.id", Value: v}, {Key: "service.name", Value: v}})
		require.NoError(t, err)
		conds, err := parseSpanset(q)
		require.NoError(t, err, q)
		require.Len(t, conds, 2, q)
		for _, c := range conds {
			assert.True(t, c.quoted)
			assert.Equal(t, v, c.value, "value round-trips")
		}
		assert.NotContains(t, q, "\n", "no raw newline reaches the query")
	}
}

func TestMetricsAndSelectQueries(t *testing.T) {
	q, err := SessionCountQuery([]telemetry.KV{{Key: "service.name", Value: "app"}})
	require.NoError(t, err)
	assert.Equal(t, `{ resource.service.name = "app" && span.session.id != nil } | count_over_time() by (span.session.id)`, q)
	spanset, pipeline, ok := strings.Cut(q, " | ")
	require.True(t, ok)
	_, err = parseSpanset(spanset)
	require.NoError(t, err)
	assert.Equal(t, "count_over_time() by (span.session.id)", pipeline)

	q, err = SessionSearchQuery(nil)
	require.NoError(t, err)
	assert.Equal(t, `{ span.session.id != nil } | select(span.session.id)`, q)
}

func FuzzSpansetFilter(f *testing.F) {
	for _, v := range hostile {
		f.Add("session.id", v)
		f.Add(v, v)
	}
	f.Add("http.response.status_code", "502")
	f.Add("stitch.sampling.rate", "0.5e-3")
	f.Fuzz(func(t *testing.T, name, value string) {
		if name == "session.id" {
			return // the same key twice is deduplicated
		}
		built, err := SpansetFilter([]telemetry.KV{{Key: name, Value: value}, {Key: "session.id", Value: value}})
		if err != nil {
			if strings.Contains(err.Error(), "invalid attribute name") || strings.Contains(err.Error(), " is ") {
				return // refused input: duplicate key, impossible name, or a non-number for a typed attribute
			}
			t.Fatalf("unexpected error for %q=%q: %v", name, value, err)
		}
		conds, err := parseSpanset(built)
		if err != nil {
			t.Fatalf("built query does not parse: %v\n%s", err, built)
		}
		if len(conds) != 2 {
			t.Fatalf("want 2 conditions, got %d: %s", len(conds), built)
		}
		if conds[0].name != name || conds[1].name != "session.id" {
			t.Fatalf("attribute names do not round-trip: %q -> %q in %s", name, conds[0].name, built)
		}
		if conds[1].value != value || !conds[1].quoted {
			t.Fatalf("string value does not round-trip: %q -> %q in %s", value, conds[1].value, built)
		}
		if conds[0].quoted && conds[0].value != value {
			t.Fatalf("value does not round-trip: %q -> %q in %s", value, conds[0].value, built)
		}
		if strings.ContainsAny(built, "\n\r\x00") {
			t.Fatalf("control character in %q", built)
		}
	})
}
