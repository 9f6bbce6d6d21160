package victorialogs

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hostile = []string{
	`plain`, `with "quotes"`, `back\slash`, "new\nline", `}{"`, "unicode ✓ 世界", `a|b:c`, `*`, "`backtick`",
	`") OR * | delete`, `\"`, "\x00nul", `session.id:=x`, "", "\u2028", `'single'`,
}

// unquoteAt reads one quoted literal at the start of s and returns its value
// and the rest: the grammar of LogsQL's quoted strings.
func unquoteAt(t *testing.T, s string) (string, string) {
	t.Helper()
	prefix, err := strconv.QuotedPrefix(s)
	require.NoError(t, err, "a literal starts at %q", s)
	v, err := strconv.Unquote(prefix)
	require.NoError(t, err)
	return v, s[len(prefix):]
}

func TestExactFilterKeepsValuesInsideTheLiteral(t *testing.T) {
	for _, v := range hostile {
		f := ExactFilter("session.id", v)
		field, rest := unquoteAt(t, f)
		assert.Equal(t, "session.id", field)
		require.True(t, strings.HasPrefix(rest, ":="), f)
		got, rest := unquoteAt(t, rest[2:])
		assert.Equal(t, v, got)
		assert.Empty(t, rest, "nothing after the literal in %q", f)
		assert.NotContains(t, f, "\n", "no raw newline reaches the query")
	}
}

func TestInFilter(t *testing.T) {
	f := InFilter("trace_id", hostile)
	field, rest := unquoteAt(t, f)
	assert.Equal(t, "trace_id", field)
	require.True(t, strings.HasPrefix(rest, ":in("))
	rest = rest[4:]
	for i, v := range hostile {
		var got string
		got, rest = unquoteAt(t, rest)
		assert.Equal(t, v, got)
		if i < len(hostile)-1 {
			require.True(t, strings.HasPrefix(rest, ","))
			rest = rest[1:]
		}
	}
	assert.Equal(t, ")", rest)
}

func TestAndOr(t *testing.T) {
	assert.Equal(t, "*", And())
	assert.Equal(t, `a AND b`, And("a", "", "b"))
	assert.Equal(t, `(a OR b)`, Or("a", "b"))
	assert.Equal(t, `a`, Or("a"))
}

func FuzzExactFilter(f *testing.F) {
	for _, v := range hostile {
		f.Add("session.id", v)
	}
	f.Fuzz(func(t *testing.T, field, value string) {
		built := ExactFilter(field, value)
		p1, err := strconv.QuotedPrefix(built)
		if err != nil {
			t.Fatalf("no leading literal in %q", built)
		}
		gotField, _ := strconv.Unquote(p1)
		rest := built[len(p1):]
		if !strings.HasPrefix(rest, ":=") {
			t.Fatalf("operator missing in %q", built)
		}
		p2, err := strconv.QuotedPrefix(rest[2:])
		if err != nil || len(p2) != len(rest)-2 {
			t.Fatalf("value literal does not span the rest of %q", built)
		}
		gotValue, _ := strconv.Unquote(p2)
		if field != gotField || value != gotValue {
			t.Fatalf("round trip: %q %q -> %q %q", field, value, gotField, gotValue)
		}
	})
}
