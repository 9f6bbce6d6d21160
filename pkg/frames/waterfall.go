// Package frames builds the Grafana data frames Stitch returns from the
// joined session model: the timeline table, the whole session as one trace
// for Grafana's trace panel, and the logs frame. It has no I/O.
package frames

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// RootSpanID is the synthetic session root's span ID: derived from the
// session ID so the waterfall is stable across refreshes.
func RootSpanID(sessionID string) string {
	if len(sessionID) >= 16 {
		return sessionID[:16]
	}
	return fmt.Sprintf("%016s", sessionID)
}

// waterfallColumns are the trace frame's columns, filled row by row.
type waterfallColumns struct {
	fields                                           []*data.Field
	traceIDs, spanIDs, parents, ops, services, kinds []string
	statusCodes                                      []int64
	statusMsgs, scopeNames, scopeVersions, states    []string
	serviceTags, logs, refs, tags                    []json.RawMessage
	starts, durations                                []float64
	cells                                            *cellArena
	// resources remembers the last resources' cells: spans of one
	// service share one resource list, and so one serviceTags cell.
	resources [4]struct {
		attrs telemetry.Attrs
		cell  json.RawMessage
	}
	nextResource int
	// emptyList is the one "[]" cell every span without logs or links
	// shares.
	emptyList json.RawMessage
}

func newWaterfallColumns(n, estimate int) *waterfallColumns {
	c := &waterfallColumns{cells: newCellArena(estimate)}
	c.emptyList = c.cells.cell("[]")
	str := func(name string, dst *[]string) {
		f, v := column[string](name, data.FieldTypeString, n)
		c.fields, *dst = append(c.fields, f), v
	}
	js := func(name string, dst *[]json.RawMessage) {
		f, v := column[json.RawMessage](name, data.FieldTypeJSON, n)
		c.fields, *dst = append(c.fields, f), v
	}
	num := func(name string, dst *[]float64) {
		f, v := column[float64](name, data.FieldTypeFloat64, n)
		c.fields, *dst = append(c.fields, f), v
	}
	str("traceID", &c.traceIDs)
	str("spanID", &c.spanIDs)
	str("parentSpanID", &c.parents)
	str("operationName", &c.ops)
	str("serviceName", &c.services)
	str("kind", &c.kinds)
	f, codes := column[int64]("statusCode", data.FieldTypeInt64, n)
	c.fields, c.statusCodes = append(c.fields, f), codes
	str("statusMessage", &c.statusMsgs)
	str("instrumentationLibraryName", &c.scopeNames)
	str("instrumentationLibraryVersion", &c.scopeVersions)
	str("traceState", &c.states)
	js("serviceTags", &c.serviceTags)
	num("startTime", &c.starts)
	num("duration", &c.durations)
	js("logs", &c.logs)
	js("references", &c.refs)
	js("tags", &c.tags)
	return c
}

// Waterfall builds the whole session as ONE trace for Grafana's trace panel:
// a synthetic root span for the session, user actions under it, each client
// request under its action and every backend span the request caused under
// the client span. Device spans are shifted onto the backend clock (raw times
// kept in tags) so backend spans sit inside their client span.
func Waterfall(tl *correlation.Timeline, links Links) *data.Frame {
	rootID := RootSpanID(tl.SessionID)
	n := 1 + len(tl.Actions) + len(tl.OtherDevice) + len(tl.Requests) + len(tl.Unjoined)
	for _, r := range tl.Requests {
		n += len(r.Backend)
	}
	c := newWaterfallColumns(n, estimateWaterfall(tl))
	c.root(tl, rootID)
	k := 1
	for _, a := range tl.Actions {
		c.span(k, tl, a, true, rootID, "")
		k++
	}
	for _, s := range tl.OtherDevice {
		c.span(k, tl, s, true, rootID, "")
		k++
	}
	for _, r := range tl.Requests {
		parent := rootID
		if r.Action != nil {
			parent = r.Action.SpanID
		}
		c.span(k, tl, r.Client, true, parent, r.MissingReason)
		k++
		// The join puts each backend span in at most one request.
		for _, b := range r.Backend {
			c.span(k, tl, b, false, b.ParentSpanID, "")
			k++
		}
	}
	// Backend spans that carry the session but joined no request (e.g. a
	// background job) still belong to the story: under the root.
	for _, b := range tl.Unjoined {
		c.span(k, tl, b, false, rootID, "")
		k++
	}
	// Each span opens its trace in the trace store's data source and its
	// log records in the log store's; Grafana's trace view lists the
	// frame's field links on every span.
	var traceLinks, spanLinks linkList
	traceLinks.add(links.traceLink(valueRef))
	spanLinks.add(links.logsLink("Logs of this span", rowRef("traceID"), valueRef))
	link(c.fields[0], traceLinks...)
	link(c.fields[1], spanLinks...)
	f := data.NewFrame("waterfall", c.fields...)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	return f
}

// estimateWaterfall is about the bytes of the waterfall's JSON cells.
func estimateWaterfall(tl *correlation.Timeline) int {
	size := 0
	span := func(s *telemetry.Span) {
		size += 3*attrsSize(s.Attributes) + 2*attrsSize(s.Resource)/8 + 64
	}
	for _, s := range tl.Actions {
		span(s)
	}
	for _, s := range tl.OtherDevice {
		span(s)
	}
	for _, r := range tl.Requests {
		span(r.Client)
		for _, b := range r.Backend {
			span(b)
		}
	}
	for _, s := range tl.Unjoined {
		span(s)
	}
	for i := range tl.Logs {
		size += 3*attrsSize(tl.Logs[i].Attributes) + len(tl.Logs[i].Body)*2 + len(tl.Logs[i].Service) + 100
	}
	return size
}

// root writes the synthetic session root, row 0.
func (c *waterfallColumns) root(tl *correlation.Timeline, rootID string) {
	c.traceIDs[0], c.spanIDs[0], c.ops[0], c.services[0], c.kinds[0] = tl.SessionID, rootID, "session "+tl.SessionID, tl.App.Service, "internal"
	c.starts[0], c.durations[0] = msOf(tl.Start), float64(tl.End.Sub(tl.Start))/float64(time.Millisecond)

	b := append(c.cells.begin(), '[')
	b = appendKV(b, "service.name", tl.App.Service)
	for _, kv := range []struct{ k, v string }{
		{schema.AttrServiceVersion, tl.App.Version}, {schema.AttrOSName, tl.App.OSName}, {schema.AttrOSVersion, tl.App.OSVersion},
		{schema.AttrDeviceModelIdentifier, tl.App.DeviceModel}, {schema.AttrNetworkConnectionType, tl.App.NetworkType},
	} {
		if kv.v != "" {
			b = appendKV(append(b, ','), kv.k, kv.v)
		}
	}
	c.serviceTags[0] = c.cells.end(append(b, ']'))

	b = append(c.cells.begin(), '[')
	b = appendKV(b, schema.AttrSessionID, tl.SessionID)
	b = append(b, `,{"key":"stitch.clock.offset_estimate_ms","value":`...)
	b = appendFloat(b, float64(tl.ClockOffset)/float64(time.Millisecond))
	b = append(b, `},{"key":"stitch.clock.offset_samples","value":`...)
	b = strconv.AppendInt(b, int64(tl.OffsetSamples), 10)
	c.tags[0] = c.cells.end(append(b, "}]"...))

	// Logs not tied to a span (lifecycle events, device logs) hang on the root.
	b = append(c.cells.begin(), '[')
	first := true
	for i := range tl.Logs {
		if l := &tl.Logs[i]; l.SpanID == "" || l.TraceID == "" {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendTimelineLog(b, l)
		}
	}
	c.logs[0] = c.cells.end(append(b, ']'))
	c.refs[0] = c.cells.cell("[]")
}

// span writes one span's row with its own trace ID, so a link or Grafana's
// trace-to-logs reaches the real trace; the panel still shows one tree,
// since Grafana's trace view nests spans by span and parent span ID alone,
// under the session root (whose trace ID is the session ID). The trace ID is
// also kept in the span's tags. A client request whose backend is missing
// says why (missing).
func (c *waterfallColumns) span(k int, tl *correlation.Timeline, s *telemetry.Span, device bool, parent, missing string) {
	start := s.Start
	if device {
		start = start.Add(-tl.ClockOffset)
	}
	c.traceIDs[k], c.spanIDs[k], c.parents[k], c.ops[k], c.services[k], c.kinds[k] = s.TraceID, s.SpanID, parent, s.Name, s.Service, string(s.Kind)
	c.statusCodes[k], c.statusMsgs[k], c.scopeNames[k], c.scopeVersions[k], c.states[k] = int64(s.StatusCode), s.StatusMessage, s.ScopeName, s.ScopeVersion, s.TraceState
	c.starts[k], c.durations[k] = msOf(start), float64(s.Duration)/float64(time.Millisecond)
	c.serviceTags[k] = c.resourceCell(s.Resource)

	b := append(c.cells.begin(), `[{"key":"trace.id","value":`...)
	b = appendJSONString(b, s.TraceID)
	b = append(b, '}')
	if device && tl.ClockOffset != 0 {
		b = append(b, `,{"key":"stitch.device_time","value":"`...)
		b = s.Start.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	b = appendKVs(b, s.Attributes, true)
	if missing != "" {
		b = appendKV(append(b, ','), "stitch.backend.missing", missing)
	}
	c.tags[k] = c.cells.end(append(b, ']'))

	c.logs[k] = c.spanLogs(tl, s, start, missing)
	c.refs[k] = c.emptyList
	if len(s.Links) > 0 {
		b = append(c.cells.begin(), '[')
		for i := range s.Links {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"spanID":`...)
			b = appendJSONString(b, s.Links[i].SpanID)
			b = append(b, `,"traceID":`...)
			b = appendJSONString(b, s.Links[i].TraceID)
			b = append(b, '}')
		}
		c.refs[k] = c.cells.end(append(b, ']'))
	}
}

// spanLogs is a span's events, its log records and, for a request whose
// backend is missing, why: the trace panel's span logs.
func (c *waterfallColumns) spanLogs(tl *correlation.Timeline, s *telemetry.Span, start time.Time, missing string) json.RawMessage {
	logs := tl.LogsOf(s)
	if len(s.Events) == 0 && len(logs) == 0 && missing == "" {
		return c.emptyList
	}
	b := append(c.cells.begin(), '[')
	first := true
	comma := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for i := range s.Events {
		ev := &s.Events[i]
		comma()
		b = append(b, `{"timestamp":`...)
		b = appendFloat(b, msOf(ev.Time.Add(start.Sub(s.Start))))
		b = append(b, `,"fields":[`...)
		b = appendKVs(b, ev.Attributes, false)
		b = append(b, ']')
		if ev.Name != "" {
			b = append(b, `,"name":`...)
			b = appendJSONString(b, ev.Name)
		}
		b = append(b, '}')
	}
	for _, i := range logs {
		comma()
		b = appendTimelineLog(b, &tl.Logs[i])
	}
	if missing != "" {
		comma()
		b = append(b, `{"timestamp":`...)
		b = appendFloat(b, msOf(start))
		b = append(b, `,"fields":[`...)
		b = appendKV(b, "reason", missing)
		b = append(b, `],"name":"backend trace missing"}`...)
	}
	return c.cells.end(append(b, ']'))
}

// resourceCell is a span's resource as the trace panel's serviceTags,
// shared by the spans with the same resource (the same list, or an equal
// one: a service's spans repeat its resource).
func (c *waterfallColumns) resourceCell(res telemetry.Attrs) json.RawMessage {
	for i := range c.resources {
		if r := &c.resources[i]; r.cell != nil && sameAttrs(r.attrs, res) {
			return r.cell
		}
	}
	b := append(c.cells.begin(), '[')
	b = appendKVs(b, res, false)
	cell := c.cells.end(append(b, ']'))
	r := &c.resources[c.nextResource%len(c.resources)]
	r.attrs, r.cell = res, cell
	c.nextResource++
	return cell
}

// sameAttrs tells equal attribute lists apart cheaply: the same list, or
// the same keys and values in the same order.
func sameAttrs(a, b telemetry.Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// appendTimelineLog appends a log record as a span log of the trace panel.
func appendTimelineLog(b []byte, l *correlation.TimelineLog) []byte {
	b = append(b, `{"timestamp":`...)
	b = appendFloat(b, msOf(l.At))
	b = append(b, `,"fields":[`...)
	b = appendKV(b, "severity", l.Severity)
	b = appendKV(append(b, ','), "service", l.Service)
	b = appendKV(append(b, ','), "body", l.Body)
	b = appendKVs(b, l.Attributes, true)
	b = append(b, ']')
	if l.Body != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, l.Body)
	}
	return append(b, '}')
}

func msOf(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }
