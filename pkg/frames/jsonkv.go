package frames

import (
	"github.com/stitch-observability/stitch/pkg/telemetry"

	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// A small JSON writer for the frames' JSON cells (the trace panel's
// key/value lists, span logs and references, the timeline's attributes, the
// logs' labels). It is hand-written because encoding/json's reflection
// dominated the cost of building a large session's frames (see the
// benchmarks); it writes exactly what json.Marshal would for these shapes
// (pinned by test and fuzzing).

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes a JSON string carries as they are
// (encoding/json escapes <, > and & too).
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Eight bytes at a time: a word needs a closer look when a byte of it is
// below 0x20, at or above 0x80, or one of " \ < > &.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func hasZeroByte(w uint64) bool { return (w-lsb)&^w&msb != 0 }

func plainWord(s string) bool {
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return w&msb == 0 && (w-0x20*lsb)&^w&msb == 0 &&
		!hasZeroByte(w^('"'*lsb)) && !hasZeroByte(w^('\\'*lsb)) &&
		!hasZeroByte(w^('<'*lsb)) && !hasZeroByte(w^('>'*lsb)) && !hasZeroByte(w^('&'*lsb))
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json writes a float64; NaN and ±Inf,
// which it refuses, as null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		// An integer: its digits are the shortest form (and encoding/json
		// writes -0 as "-0").
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...)
		}
		return strconv.AppendInt(b, int64(f), 10)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendKV appends {"key":k,"value":v} with a string value.
func appendKV(b []byte, k, v string) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, k)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, v)
	return append(b, '}')
}

// appendKVs appends attributes as the trace panel's list elements, each
// preceded by a comma when comma is set or it is not the first.
func appendKVs(b []byte, attrs []telemetry.KV, comma bool) []byte {
	for i := range attrs {
		if comma || i > 0 {
			b = append(b, ',')
		}
		b = appendKV(b, attrs[i].Key, attrs[i].Value)
	}
	return b
}

// appendObject appends attributes as a flat JSON object's members, keys in
// the given order, each preceded by a comma when comma is set or it is not
// the first.
func appendObject(b []byte, attrs []telemetry.KV, comma bool) []byte {
	for i := range attrs {
		if comma || i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, attrs[i].Key)
		b = append(b, ':')
		b = appendJSONString(b, attrs[i].Value)
	}
	return b
}

// cellArena holds the bytes of many JSON cells: a cell is a slice of a
// chunk, so a frame's cells cost a few allocations, not one or more each.
// A chunk never moves once a cell is cut from it.
type cellArena struct {
	buf   []byte
	start int
	// next is the size of the chunk after the current one.
	next int
}

func newCellArena(estimate int) *cellArena {
	return &cellArena{buf: make([]byte, 0, max(estimate, 1024)), next: max(estimate/4, 64<<10)}
}

// begin returns the buffer to append the next cell to.
func (a *cellArena) begin() []byte {
	a.start = len(a.buf)
	return a.buf
}

// end takes the appended buffer back and cuts the cell out of it. When the
// cell outgrew the chunk (append moved it), the cell goes to a fresh chunk
// and the moved copy is dropped, so the cells already cut stay where they
// are and no chunk holds a second copy of them.
func (a *cellArena) end(b []byte) json.RawMessage {
	if cap(b) != cap(a.buf) && a.start > 0 {
		cell := b[a.start:]
		fresh := make([]byte, 0, max(a.next, 2*len(cell)))
		b = append(fresh, cell...)
		a.start = 0
	}
	a.buf = b
	return b[a.start:len(b):len(b)]
}

// cell is a cell of fixed bytes.
func (a *cellArena) cell(s string) json.RawMessage {
	return a.end(append(a.begin(), s...))
}
