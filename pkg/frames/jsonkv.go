package frames

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A small JSON writer for the trace panel's key/value lists and the logs'
// labels. It is hand-written because encoding/json's reflection dominated
// the cost of building a large session's frames (see the benchmarks); it
// writes exactly what json.Marshal would for these shapes (pinned by test).

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
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

// appendValue appends a tag value: strings, numbers and booleans.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		j, err := json.Marshal(x)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, j...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// kvListJSON renders [{"key":…,"value":…},…].
func kvListJSON(kvs []traceKV) json.RawMessage {
	b := make([]byte, 0, 32*len(kvs)+2)
	b = appendKVList(b, kvs)
	return b
}

func appendKVList(b []byte, kvs []traceKV) []byte {
	b = append(b, '[')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKV(b, kv)
	}
	return append(b, ']')
}

func appendKV(b []byte, kv traceKV) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, kv.Key)
	b = append(b, `,"value":`...)
	if kv.Val != nil {
		b = appendValue(b, kv.Val)
	} else {
		b = appendJSONString(b, kv.Str)
	}
	return append(b, '}')
}

// logsJSON renders the trace panel's span logs.
func logsJSON(logs []traceLog) json.RawMessage {
	b := make([]byte, 0, 96*len(logs)+2)
	b = append(b, '[')
	for i, l := range logs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = appendValue(b, l.Timestamp)
		b = append(b, `,"fields":`...)
		b = appendKVList(b, l.Fields)
		if l.Name != "" {
			b = append(b, `,"name":`...)
			b = appendJSONString(b, l.Name)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// referencesJSON renders span links as the trace panel's references.
func referencesJSON(refs []traceReference) json.RawMessage {
	b := make([]byte, 0, 80*len(refs)+2)
	b = append(b, '[')
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"spanID":`...)
		b = appendJSONString(b, r.SpanID)
		b = append(b, `,"traceID":`...)
		b = appendJSONString(b, r.TraceID)
		if len(r.Tags) > 0 {
			b = append(b, `,"tags":`...)
			b = appendKVList(b, r.Tags)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// objectJSON renders a flat string map, keys in the given order.
func objectJSON(keys, values []string) json.RawMessage {
	b := make([]byte, 0, 24*len(keys)+2)
	b = append(b, '{')
	for i := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, keys[i])
		b = append(b, ':')
		b = appendJSONString(b, values[i])
	}
	return append(b, '}')
}
