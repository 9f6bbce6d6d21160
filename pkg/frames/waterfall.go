// Package frames builds the Grafana data frames Stitch returns from the
// joined session model: the timeline table, the whole session as one trace
// for Grafana's trace panel, and the logs frame. It has no I/O.
package frames

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// traceKV is a key/value as Grafana's trace panel reads tags. Most values
// are strings: they go in Str, so no interface boxing (an allocation per
// attribute) happens on the hot path; other values go in Val.
type traceKV struct {
	Key string
	Str string
	Val any
}

func strKV(k, v string) traceKV { return traceKV{Key: k, Str: v} }

// MarshalJSON writes {"key":…,"value":…}, as the trace panel reads it.
func (kv traceKV) MarshalJSON() ([]byte, error) { return appendKV(nil, kv), nil }

type traceLog struct {
	Timestamp float64   `json:"timestamp"` // ms
	Fields    []traceKV `json:"fields"`
	Name      string    `json:"name,omitempty"`
}

type traceReference struct {
	SpanID  string    `json:"spanID"`
	TraceID string    `json:"traceID"`
	Tags    []traceKV `json:"tags,omitempty"`
}

// waterfallRow is one span of the session trace.
type waterfallRow struct {
	traceID, spanID, parentSpanID, operation, service, kind string
	statusCode                                              int64
	statusMessage, scopeName, scopeVersion, traceState      string
	serviceTags                                             []traceKV
	start                                                   time.Time
	duration                                                time.Duration
	logs                                                    []traceLog
	references                                              []traceReference
	tags                                                    []traceKV
}

// RootSpanID is the synthetic session root's span ID: derived from the
// session ID so the waterfall is stable across refreshes.
func RootSpanID(sessionID string) string {
	if len(sessionID) >= 16 {
		return sessionID[:16]
	}
	return fmt.Sprintf("%016s", sessionID)
}

// Waterfall builds the whole session as ONE trace for Grafana's trace panel:
// a synthetic root span for the session, user actions under it, each client
// request under its action and every backend span the request caused under
// the client span. Device spans are shifted onto the backend clock (raw times
// kept in tags) so backend spans sit inside their client span.
func Waterfall(tl *correlation.Timeline) *data.Frame {
	rootID := RootSpanID(tl.SessionID)
	rows := make([]waterfallRow, 0, 1+len(tl.Actions)+len(tl.OtherDevice)+len(tl.Requests)+len(tl.Backend))
	inSession := make(map[correlation.SpanRef]bool, cap(rows))

	root := waterfallRow{
		traceID: tl.SessionID, spanID: rootID, operation: "session " + tl.SessionID, service: tl.App.Service,
		kind: "internal", start: tl.Start, duration: tl.End.Sub(tl.Start),
		serviceTags: []traceKV{strKV("service.name", tl.App.Service)},
		tags: []traceKV{
			strKV(schema.AttrSessionID, tl.SessionID),
			{Key: "stitch.clock.offset_estimate_ms", Val: float64(tl.ClockOffset) / float64(time.Millisecond)},
			{Key: "stitch.clock.offset_samples", Val: tl.OffsetSamples},
		},
	}
	for _, kv := range []struct{ k, v string }{
		{schema.AttrServiceVersion, tl.App.Version}, {schema.AttrOSName, tl.App.OSName}, {schema.AttrOSVersion, tl.App.OSVersion},
		{schema.AttrDeviceModelIdentifier, tl.App.DeviceModel}, {schema.AttrNetworkConnectionType, tl.App.NetworkType},
	} {
		if kv.v != "" {
			root.serviceTags = append(root.serviceTags, strKV(kv.k, kv.v))
		}
	}
	// Logs not tied to a span (lifecycle events, device logs) hang on the root.
	for i, l := range tl.Logs {
		if l.SpanID == "" || l.TraceID == "" {
			root.logs = append(root.logs, toTraceLog(&tl.Logs[i]))
		}
	}
	rows = append(rows, root)

	add := func(s *telemetry.Span, parent string) {
		ref := correlation.SpanRef{TraceID: s.TraceID, SpanID: s.SpanID}
		if inSession[ref] {
			return
		}
		inSession[ref] = true
		rows = append(rows, spanRow(tl, s, parent))
	}
	for _, a := range tl.Actions {
		add(a, rootID)
	}
	for _, s := range tl.OtherDevice {
		add(s, rootID)
	}
	for _, r := range tl.Requests {
		parent := rootID
		if r.Action != nil {
			parent = r.Action.SpanID
		}
		add(r.Client, parent)
		if r.ServerRoot == nil {
			last := &rows[len(rows)-1]
			last.tags = append(last.tags, strKV("stitch.backend.missing", r.MissingReason))
			last.logs = append(last.logs, traceLog{
				Timestamp: msOf(tl.Aligned(r.Client)), Name: "backend trace missing",
				Fields: []traceKV{strKV("reason", r.MissingReason)},
			})
			continue
		}
		for _, b := range r.Backend {
			add(b, b.ParentSpanID)
		}
	}
	// Backend spans that carry the session but joined no request (e.g. a
	// background job) still belong to the story: under the root.
	for _, b := range tl.Backend {
		add(b, rootID)
	}

	n := len(rows)
	var (
		traceIDs, spanIDs, parents, ops, services, kinds = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statusCodes                                      = make([]int64, n)
		statusMsgs, scopeNames, scopeVersions, states    = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		serviceTags, logs, refs, tags                    = make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n)
		starts, durations                                = make([]float64, n), make([]float64, n)
	)
	for i, r := range rows {
		traceIDs[i], spanIDs[i], parents[i], ops[i], services[i], kinds[i] = r.traceID, r.spanID, r.parentSpanID, r.operation, r.service, r.kind
		statusCodes[i], statusMsgs[i], scopeNames[i], scopeVersions[i], states[i] = r.statusCode, r.statusMessage, r.scopeName, r.scopeVersion, r.traceState
		serviceTags[i], logs[i], refs[i], tags[i] = kvListJSON(r.serviceTags), logsJSON(r.logs), referencesJSON(r.references), kvListJSON(r.tags)
		starts[i], durations[i] = msOf(r.start), float64(r.duration)/float64(time.Millisecond)
	}
	f := data.NewFrame("waterfall",
		data.NewField("traceID", nil, traceIDs),
		data.NewField("spanID", nil, spanIDs),
		data.NewField("parentSpanID", nil, parents),
		data.NewField("operationName", nil, ops),
		data.NewField("serviceName", nil, services),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, statusCodes),
		data.NewField("statusMessage", nil, statusMsgs),
		data.NewField("instrumentationLibraryName", nil, scopeNames),
		data.NewField("instrumentationLibraryVersion", nil, scopeVersions),
		data.NewField("traceState", nil, states),
		data.NewField("serviceTags", nil, serviceTags),
		data.NewField("startTime", nil, starts),
		data.NewField("duration", nil, durations),
		data.NewField("logs", nil, logs),
		data.NewField("references", nil, refs),
		data.NewField("tags", nil, tags),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	return f
}

func spanRow(tl *correlation.Timeline, s *telemetry.Span, parent string) waterfallRow {
	start := tl.Aligned(s)
	r := waterfallRow{
		// Every row carries the session ID as its trace ID: the panel shows
		// one trace. The span's own trace ID is kept in its tags.
		traceID: tl.SessionID, spanID: s.SpanID, parentSpanID: parent, operation: s.Name, service: s.Service,
		kind: string(s.Kind), statusCode: int64(s.StatusCode), statusMessage: s.StatusMessage,
		scopeName: s.ScopeName, scopeVersion: s.ScopeVersion, traceState: s.TraceState,
		start: start, duration: s.Duration,
	}
	r.serviceTags = make([]traceKV, 0, len(s.Resource))
	for _, kv := range s.Resource {
		r.serviceTags = append(r.serviceTags, strKV(kv.Key, kv.Value))
	}
	r.tags = make([]traceKV, 0, len(s.Attributes)+2)
	r.tags = append(r.tags, strKV("trace.id", s.TraceID))
	if correlation.IsDeviceSpan(s) && tl.ClockOffset != 0 {
		r.tags = append(r.tags, strKV("stitch.device_time", s.Start.UTC().Format(time.RFC3339Nano)))
	}
	for _, kv := range s.Attributes {
		r.tags = append(r.tags, strKV(kv.Key, kv.Value))
	}
	for _, ev := range s.Events {
		tlog := traceLog{Timestamp: msOf(ev.Time.Add(start.Sub(s.Start))), Name: ev.Name}
		for _, kv := range ev.Attributes {
			tlog.Fields = append(tlog.Fields, strKV(kv.Key, kv.Value))
		}
		r.logs = append(r.logs, tlog)
	}
	for _, i := range tl.LogsBySpan[correlation.SpanRef{TraceID: s.TraceID, SpanID: s.SpanID}] {
		r.logs = append(r.logs, toTraceLog(&tl.Logs[i]))
	}
	for _, l := range s.Links {
		r.references = append(r.references, traceReference{SpanID: l.SpanID, TraceID: l.TraceID})
	}
	return r
}

func toTraceLog(l *correlation.TimelineLog) traceLog {
	out := traceLog{Timestamp: msOf(l.At), Name: l.Body, Fields: []traceKV{strKV("severity", l.Severity), strKV("service", l.Service), strKV("body", l.Body)}}
	for _, kv := range l.Attributes {
		out.Fields = append(out.Fields, strKV(kv.Key, kv.Value))
	}
	return out
}

func msOf(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }
