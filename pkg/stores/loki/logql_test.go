package loki

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
)

var hostile = []string{
	`plain`, `with "quotes"`, `back\slash`, "new\nline", `}{"`, "unicode ✓ 世界", `a|b:c`, `*`, "`backtick`",
	`" | line_format "{{.x}}`, `\"`, "\x00nul", `session_id="x"`, "", "\u2028", `'single'`, "\xff\xfe invalid utf8",
	`") or session_id=~".*`, "tab\there",
}

// readLiteral reads one LogQL string literal at the start of s, with the
// grammar LogQL's docs give: a Go-style double-quoted string with backslash
// escapes, or a backtick raw string. It returns the value and the rest.
func readLiteral(s string) (string, string, error) {
	if strings.HasPrefix(s, "`") {
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return "", "", fmt.Errorf("unterminated raw string in %q", s)
		}
		return s[1 : 1+end], s[2+end:], nil
	}
	lit, err := strconv.QuotedPrefix(s)
	if err != nil || !strings.HasPrefix(lit, `"`) {
		return "", "", fmt.Errorf("no string literal at %q", s)
	}
	v, err := strconv.Unquote(lit)
	return v, s[len(lit):], err
}

// parseLabelFilter reads `| name op "literal"` and fails unless the filter
// is the whole input: nothing a value holds can add a stage.
func parseLabelFilter(s string) (name, op, value string, err error) {
	if !strings.HasPrefix(s, "| ") {
		return "", "", "", fmt.Errorf("no pipe in %q", s)
	}
	m := regexp.MustCompile(`^\| ([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)`).FindStringSubmatch(s)
	if m == nil {
		return "", "", "", fmt.Errorf("no label matcher in %q", s)
	}
	value, rest, err := readLiteral(s[len(m[0]):])
	if err != nil {
		return "", "", "", err
	}
	if rest != "" {
		return "", "", "", fmt.Errorf("%q follows the literal in %q", rest, s)
	}
	return m[1], m[2], value, nil
}

// LabelName follows Loki's OTLP naming (Prometheus' otlptranslator with
// default settings), edge cases included.
func TestLabelName(t *testing.T) {
	for attr, want := range map[string]string{
		schema.AttrSessionID:             "session_id",
		schema.AttrServiceName:           "service_name",
		schema.AttrDeviceModelIdentifier: "device_model_identifier",
		"feature_flag.result.variant":    "feature_flag_result_variant",
		"http.request.method":            "http_request_method",
		"a-b c":                          "a_b_c",
		"a..b":                           "a_b",
		"a__b":                           "a_b",
		"a._-b":                          "a_b",
		"trailing.":                      "trailing_",
		"9lives":                         "key_9lives",
		"1":                              "key_1",
		"0.x":                            "key_0_x",
		"_private":                       "_private",
		".leading":                       "_leading",
		"__reserved__":                   "__reserved__",
		"ünïcode":                        "_n_code",
		"UPPER.Case":                     "UPPER_Case",
	} {
		got, err := LabelName(attr)
		require.NoError(t, err, attr)
		assert.Equal(t, want, got, attr)
		assert.Regexp(t, labelName, got, "a valid Loki label name")
	}
	for _, attr := range []string{"", "_", "...", "__"} {
		_, err := LabelName(attr)
		assert.ErrorIs(t, err, ErrBadLabelName, "%q: Loki refuses such a name at ingest", attr)
	}
	for _, n := range schema.AttributeNames {
		label, err := LabelName(n)
		require.NoError(t, err)
		assert.Equal(t, n, schemaNames[label], "every schema name maps back from Loki")
	}
}

func TestLabelFilterKeepsValuesInsideTheLiteral(t *testing.T) {
	for _, v := range hostile {
		f, err := LabelFilter("session_id", v)
		require.NoError(t, err)
		name, op, got, err := parseLabelFilter(f)
		require.NoError(t, err, f)
		assert.Equal(t, "session_id", name)
		assert.Equal(t, "=", op)
		assert.Equal(t, v, got)
		assert.NotContains(t, f, "\n")
	}
	_, err := LabelFilter("session.id", "x")
	assert.ErrorIs(t, err, ErrBadLabelName)
}

func TestLabelRegexFilter(t *testing.T) {
	ids := []string{"4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"}
	f, err := LabelRegexFilter("trace_id", ids)
	require.NoError(t, err)
	assert.Equal(t, `| trace_id=~"4bf92f3577b34da6a3ce929d0e0e4736|0af7651916cd43dd8448eb211c80319c"`, f)
	_, op, re, err := parseLabelFilter(f)
	require.NoError(t, err)
	assert.Equal(t, "=~", op)
	anchored := regexp.MustCompile("^(?:" + re + ")$") // Loki anchors label regexes
	for _, id := range ids {
		assert.True(t, anchored.MatchString(id))
	}
	assert.False(t, anchored.MatchString(ids[0][:31]))
	assert.False(t, anchored.MatchString(ids[0]+"0"))

	_, err = LabelRegexFilter("trace_id", nil)
	assert.Error(t, err)
}

func TestQuery(t *testing.T) {
	f1, _ := LabelFilter("session_id", "s")
	f2, _ := LabelRegexFilter("trace_id", []string{"a"})
	assert.Equal(t, `{service_name=~".+"} | session_id="s" | trace_id=~"a"`, Query(AllStreams, f1, f2))
}

func FuzzLabelFilter(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		built, err := LabelFilter("session_id", value)
		if err != nil {
			t.Fatal(err)
		}
		name, op, got, err := parseLabelFilter(built)
		if err != nil {
			t.Fatalf("built filter does not parse: %v", err)
		}
		if name != "session_id" || op != "=" || got != value {
			t.Fatalf("round trip: %q -> %s %s %q", value, name, op, got)
		}
		if strings.ContainsAny(built, "\n\r\x00") {
			t.Fatalf("control character in %q", built)
		}
	})
}

func FuzzLabelRegexFilter(f *testing.F) {
	f.Add("4bf92f3577b34da6a3ce929d0e0e4736", "a|b")
	f.Add(`.*`, `")|`)
	f.Fuzz(func(t *testing.T, a, b string) {
		built, err := LabelRegexFilter("trace_id", []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		_, op, re, err := parseLabelFilter(built)
		if err != nil || op != "=~" {
			t.Fatalf("built filter does not parse: %v %s", err, built)
		}
		rx, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			t.Skip("not a valid regex for Go (invalid UTF-8 in a value)")
		}
		for _, v := range []string{a, b} {
			if !rx.MatchString(v) {
				t.Fatalf("%q does not match its own filter %s", v, built)
			}
		}
		if a != b && !strings.Contains(a, b) && !strings.Contains(b, a) && rx.MatchString(a+b) {
			t.Fatalf("the alternation matches more than its values: %s", built)
		}
	})
}
