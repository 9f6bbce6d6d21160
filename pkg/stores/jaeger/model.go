package jaeger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// The JSON model of Jaeger's query API (/api/traces, /api/traces/<id>).

type jsonTrace struct {
	TraceID   string                 `json:"traceID"`
	Spans     []jsonSpan             `json:"spans"`
	Processes map[string]jsonProcess `json:"processes"`
	Warnings  []string               `json:"warnings"`
}

type jsonSpan struct {
	TraceID       string          `json:"traceID"`
	SpanID        string          `json:"spanID"`
	OperationName string          `json:"operationName"`
	References    []jsonReference `json:"references"`
	StartTime     int64           `json:"startTime"` // µs since the epoch
	Duration      int64           `json:"duration"`  // µs
	Tags          []jsonKV        `json:"tags"`
	Logs          []jsonLog       `json:"logs"`
	ProcessID     string          `json:"processID"`
}

type jsonReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jsonKV struct {
	Key   string   `json:"key"`
	Type  string   `json:"type"`
	Value tagValue `json:"value"`
}

// tagValue is a tag's value rendered as a string while decoding: a JSON
// string's text, null as "", anything else (numbers, booleans) as its JSON
// text. Decoding it in place keeps no copy of the raw JSON per tag.
type tagValue string

func (v *tagValue) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' {
		if plain := b[1 : len(b)-1]; !bytes.ContainsAny(plain, `\"`) && utf8.Valid(plain) {
			// No escape: the text is the value (most tags), one copy.
			*v = tagValue(plain)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = tagValue(s)
		return nil
	}
	if string(b) == "null" {
		*v = ""
		return nil
	}
	*v = tagValue(strings.TrimSpace(string(b)))
	return nil
}

type jsonLog struct {
	Timestamp int64    `json:"timestamp"`
	Fields    []jsonKV `json:"fields"`
}

type jsonProcess struct {
	ServiceName string   `json:"serviceName"`
	Tags        []jsonKV `json:"tags"`
}

// Tags Jaeger uses to carry OpenTelemetry fields that its model lacks.
const (
	tagSpanKind      = "span.kind"
	tagStatusCode    = "otel.status_code"
	tagStatusMessage = "otel.status_description"
	tagError         = "error"
	tagScopeName     = "otel.scope.name"
	tagScopeVersion  = "otel.scope.version"
	tagLibraryName   = "otel.library.name"
	tagLibraryVer    = "otel.library.version"
	tagTraceState    = "w3c.tracestate"
	fieldEvent       = "event"
)

func (kv jsonKV) stringValue() string { return string(kv.Value) }

// normalizeID lowercases an ID and left-pads it with zeros: Jaeger drops
// leading zeros of trace and span IDs in its JSON.
func normalizeID(id string, width int) string {
	id = strings.ToLower(id)
	if len(id) < width {
		id = strings.Repeat("0", width-len(id)) + id
	}
	return id
}

// isHexID says whether a normalized ID is width lowercase hex digits.
func isHexID(id string, width int) bool {
	if len(id) != width {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkIDs rejects a span whose trace, span, parent or link IDs are not hex
// of their width: the IDs join traces with logs and go into links.
func checkIDs(s telemetry.Span) error {
	ok := isHexID(s.TraceID, 32) && isHexID(s.SpanID, 16) && (s.ParentSpanID == "" || isHexID(s.ParentSpanID, 16))
	for _, l := range s.Links {
		ok = ok && isHexID(l.TraceID, 32) && isHexID(l.SpanID, 16)
	}
	if !ok {
		return fmt.Errorf("span %q: a trace or span ID is not hex", s.SpanID)
	}
	return nil
}

// toTraces converts Jaeger's JSON traces into the store-neutral model.
func toTraces(in []jsonTrace) ([]telemetry.Trace, error) {
	out := make([]telemetry.Trace, 0, len(in))
	for _, jt := range in {
		t := telemetry.Trace{TraceID: normalizeID(jt.TraceID, 32), Spans: make([]telemetry.Span, 0, len(jt.Spans))}
		if !isHexID(t.TraceID, 32) {
			return nil, fmt.Errorf("trace ID %q is not hex", jt.TraceID)
		}
		if len(jt.Warnings) > 0 {
			t.Notice = strings.Join(jt.Warnings, "; ")
		}
		// The spans of one process share its resource list (capacity
		// equal to length, so an append copies).
		resources := make(map[string]telemetry.Attrs, len(jt.Processes))
		for id, p := range jt.Processes {
			r := make(telemetry.Attrs, 0, len(p.Tags)+1)
			r = append(r, telemetry.KV{Key: "service.name", Value: p.ServiceName})
			for _, tag := range p.Tags {
				r = append(r, telemetry.KV{Key: tag.Key, Value: tag.stringValue()})
			}
			resources[id] = r
		}
		for j := range jt.Spans {
			s, err := toSpan(jt.Spans[j], jt.Processes, resources)
			if err != nil {
				return nil, fmt.Errorf("trace %s: %w", jt.TraceID, err)
			}
			t.Spans = append(t.Spans, s)
			// What only the JSON span held (its tag and reference lists)
			// can go while the rest converts: a trace by ID can be as large
			// as a store answer.
			jt.Spans[j] = jsonSpan{}
		}
		out = append(out, t)
	}
	return out, nil
}

func toSpan(js jsonSpan, processes map[string]jsonProcess, resources map[string]telemetry.Attrs) (telemetry.Span, error) {
	if js.SpanID == "" || js.TraceID == "" {
		return telemetry.Span{}, fmt.Errorf("span without trace or span ID")
	}
	s := telemetry.Span{
		TraceID:  normalizeID(js.TraceID, 32),
		SpanID:   normalizeID(js.SpanID, 16),
		Name:     js.OperationName,
		Start:    time.UnixMicro(js.StartTime).UTC(),
		Duration: time.Duration(js.Duration) * time.Microsecond,
	}
	for _, r := range js.References {
		switch {
		case r.RefType == "CHILD_OF" && s.ParentSpanID == "" && normalizeID(r.TraceID, 32) == s.TraceID:
			s.ParentSpanID = normalizeID(r.SpanID, 16)
		default:
			s.Links = append(s.Links, telemetry.Link{TraceID: normalizeID(r.TraceID, 32), SpanID: normalizeID(r.SpanID, 16)})
		}
	}
	if err := checkIDs(s); err != nil {
		return telemetry.Span{}, err
	}
	var errorTag bool
	s.Attributes = make(telemetry.Attrs, 0, len(js.Tags))
	for _, tag := range js.Tags {
		v := tag.stringValue()
		switch tag.Key {
		case tagSpanKind:
			s.Kind = telemetry.SpanKind(strings.ToLower(v))
		case tagStatusCode:
			switch strings.ToUpper(v) {
			case "ERROR":
				s.StatusCode = telemetry.StatusError
			case "OK":
				s.StatusCode = telemetry.StatusOK
			}
		case tagStatusMessage:
			s.StatusMessage = v
		case tagError:
			errorTag = v == "true"
		case tagScopeName, tagLibraryName:
			s.ScopeName = v
		case tagScopeVersion, tagLibraryVer:
			s.ScopeVersion = v
		case tagTraceState:
			s.TraceState = v
		default:
			s.Attributes = append(s.Attributes, telemetry.KV{Key: tag.Key, Value: v})
		}
	}
	if errorTag && s.StatusCode == telemetry.StatusUnset {
		s.StatusCode = telemetry.StatusError
	}
	for _, l := range js.Logs {
		ev := telemetry.Event{Time: time.UnixMicro(l.Timestamp).UTC()}
		for _, f := range l.Fields {
			if f.Key == fieldEvent && ev.Name == "" {
				ev.Name = f.stringValue()
				continue
			}
			ev.Attributes = append(ev.Attributes, telemetry.KV{Key: f.Key, Value: f.stringValue()})
		}
		s.Events = append(s.Events, ev)
	}
	if p, ok := processes[js.ProcessID]; ok {
		s.Service = p.ServiceName
		s.Resource = resources[js.ProcessID]
	}
	return s, nil
}

// tagsParam renders exact-match attribute filters as the JSON object
// /api/traces takes in its tags parameter. JSON encoding escapes every user
// value, so nothing a user types can change the filter's structure.
func tagsParam(attrs []telemetry.KV) (string, error) {
	m := make(map[string]string, len(attrs))
	for _, kv := range attrs {
		if prev, dup := m[kv.Key]; dup && prev != kv.Value {
			return "", fmt.Errorf("attribute %q filtered on two values", kv.Key)
		}
		m[kv.Key] = kv.Value
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func microsParam(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }
