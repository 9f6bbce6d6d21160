package victorialogs

import (
	"strconv"
	"strings"
)

// LogsQL building. Every value and field name is written as a quoted string
// literal (VictoriaLogs reads them with Go's unquoting rules), so nothing a
// user types can end a literal and add filters or pipes of its own.

// quote renders s as a LogsQL quoted string literal.
func quote(s string) string { return strconv.Quote(s) }

// ExactFilter matches records whose field equals value exactly.
func ExactFilter(field, value string) string {
	return quote(field) + ":=" + quote(value)
}

// InFilter matches records whose field equals one of values exactly.
func InFilter(field string, values []string) string {
	var b strings.Builder
	b.WriteString(quote(field))
	b.WriteString(":in(")
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(v))
	}
	b.WriteByte(')')
	return b.String()
}

// And joins filters; LogsQL's default operator between filters is AND.
func And(filters ...string) string {
	var nonEmpty []string
	for _, f := range filters {
		if f != "" {
			nonEmpty = append(nonEmpty, f)
		}
	}
	if len(nonEmpty) == 0 {
		return "*"
	}
	return strings.Join(nonEmpty, " AND ")
}

// Or groups filters as alternatives.
func Or(filters ...string) string {
	if len(filters) == 1 {
		return filters[0]
	}
	return "(" + strings.Join(filters, " OR ") + ")"
}
