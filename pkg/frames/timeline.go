package frames

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// The timeline's rows come from six lists; a row is named by its list and
// its index there, so the rows are sorted as small keys and the columns are
// filled once, in the sorted order.
const (
	srcAction uint32 = iota << 28
	srcOther
	srcClient
	srcNetwork
	srcBackend
	srcLog
	srcMask = 0xf << 28
)

// rowKey orders the timeline's rows: by time, then by the order the rows
// are listed in (ord), which makes the order total and the sort stable.
type rowKey struct {
	sec  int64
	nsec int32
	ord  int32
}

func rowKeyOf(t time.Time, ord int) rowKey {
	// Nanosecond() is below 10⁹; ord counts the rows of one session's
	// frame, built from a response capped at 64 MiB.
	return rowKey{sec: t.Unix(), nsec: int32(t.Nanosecond()), ord: int32(ord)} // #nosec G115 -- see above
}

func (a rowKey) cmp(b rowKey) int {
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
		return c
	}
	return cmp.Compare(a.ord, b.ord)
}

// orderRows puts the rows in time order, ties in list order (a stable sort
// by time). The join hands over each list in time order, so the rows are
// a few sorted runs (ends at runEnds) and merging them is linear; a list
// out of order falls back to sorting.
func orderRows(keys []rowKey, runEnds []int) []rowKey {
	start := 0
	for _, end := range runEnds {
		for i := start + 1; i < end; i++ {
			if keys[i-1].cmp(keys[i]) > 0 {
				slices.SortFunc(keys, rowKey.cmp)
				return keys
			}
		}
		start = end
	}
	heads := make([]int, len(runEnds))
	for r := range runEnds {
		if r > 0 {
			heads[r] = runEnds[r-1]
		}
	}
	out := make([]rowKey, len(keys))
	for k := range out {
		best := -1
		for r, h := range heads {
			if h < runEnds[r] && (best < 0 || keys[h].cmp(keys[heads[best]]) < 0) {
				best = r
			}
		}
		out[k] = keys[heads[best]]
		heads[best]++
	}
	return out
}

// Timeline builds the session as a table, one row per item in time order
// (backend clock): actions, client requests, the network share of each,
// backend spans, log records and lifecycle events.
func Timeline(tl *correlation.Timeline, links Links) *data.Frame {
	n := len(tl.Actions) + len(tl.OtherDevice) + len(tl.Requests) + len(tl.Backend) + len(tl.Logs)
	for _, r := range tl.Requests {
		if r.ServerRoot != nil {
			n++
		}
	}
	keys := make([]rowKey, 0, n)
	src := make([]uint32, 0, n)
	// Each list is already in time order: runs are where each ends.
	runs := make([]int, 0, 5)
	add := func(t time.Time, s uint32) {
		keys = append(keys, rowKeyOf(t, len(src)))
		src = append(src, s)
	}
	for i, a := range tl.Actions {
		add(tl.Aligned(a), srcAction|uint32(i))
	}
	runs = append(runs, len(keys))
	for i, s := range tl.OtherDevice {
		add(tl.Aligned(s), srcOther|uint32(i))
	}
	runs = append(runs, len(keys))
	// The network rows' names, in one string.
	var netNames []byte
	netEnd := make([]int32, len(tl.Requests))
	for i, r := range tl.Requests {
		at := tl.Aligned(r.Client)
		add(at, srcClient|uint32(i))
		if r.ServerRoot != nil {
			add(at, srcNetwork|uint32(i))
			netNames = append(netNames, "network + queueing: "...)
			netNames = append(netNames, r.Client.Name...)
		}
		netEnd[i] = int32(len(netNames)) // #nosec G115 -- names of one session's requests, from a response capped at 64 MiB
	}
	names := string(netNames)
	runs = append(runs, len(keys))
	for i, b := range tl.Backend {
		add(b.Start, srcBackend|uint32(i))
	}
	runs = append(runs, len(keys))
	for i := range tl.Logs {
		add(tl.Logs[i].At, srcLog|uint32(i))
	}
	runs = append(runs, len(keys))
	keys = orderRows(keys, runs)

	timeF, times := column[time.Time]("time", data.FieldTypeTime, n)
	durF, durs := column[float64]("durationMs", data.FieldTypeFloat64, n)
	layerF, layers := column[string]("layer", data.FieldTypeString, n)
	svcF, services := column[string]("service", data.FieldTypeString, n)
	nameF, rowNames := column[string]("name", data.FieldTypeString, n)
	traceF, traceIDs := column[string]("traceId", data.FieldTypeString, n)
	spanF, spanIDs := column[string]("spanId", data.FieldTypeString, n)
	parentF, parents := column[string]("parentSpanId", data.FieldTypeString, n)
	stF, sts := column[string]("status", data.FieldTypeString, n)
	codeF, codes := column[*int64]("statusCode", data.FieldTypeNullableInt64, n)
	sevF, sevs := column[string]("severity", data.FieldTypeString, n)
	bodyF, bodies := column[string]("body", data.FieldTypeString, n)
	attrF, attrs := column[json.RawMessage]("attributes", data.FieldTypeJSON, n)
	codeValues := make([]int64, 0, n-len(tl.Logs))
	cells := newCellArena(estimateObjects(tl))

	span := func(k int, layer correlation.Layer, s *telemetry.Span, at time.Time) {
		times[k], durs[k], layers[k], services[k], rowNames[k] = at, durMs(s.Duration), string(layer), s.Service, s.Name
		traceIDs[k], spanIDs[k], parents[k], sts[k] = s.TraceID, s.SpanID, s.ParentSpanID, statusText(s.StatusCode)
		if v := s.Attr(schema.AttrHTTPResponseStatusCode); v != "" {
			if code, err := strconv.ParseInt(v, 10, 64); err == nil {
				codeValues = append(codeValues, code)
				codes[k] = &codeValues[len(codeValues)-1]
			}
		}
		attrs[k] = attrsCell(cells, s.Attributes)
	}
	for k, key := range keys {
		s := src[key.ord]
		i := int(s &^ srcMask)
		switch s & srcMask {
		case srcAction:
			span(k, correlation.LayerAction, tl.Actions[i], tl.Aligned(tl.Actions[i]))
		case srcOther:
			span(k, correlation.LayerAction, tl.OtherDevice[i], tl.Aligned(tl.OtherDevice[i]))
		case srcClient:
			r := tl.Requests[i]
			span(k, correlation.LayerClient, r.Client, tl.Aligned(r.Client))
			if r.ServerRoot == nil {
				bodies[k] = r.MissingReason
			}
		case srcNetwork:
			r := tl.Requests[i]
			from := int32(0)
			if i > 0 {
				from = netEnd[i-1]
			}
			times[k], durs[k], layers[k], services[k] = tl.Aligned(r.Client), durMs(r.NetworkTime()), string(correlation.LayerNetwork), r.Client.Service
			rowNames[k], traceIDs[k], spanIDs[k], sts[k] = names[from:netEnd[i]], r.Client.TraceID, r.Client.SpanID, ""
			attrs[k] = cells.cell("{}")
		case srcBackend:
			span(k, correlation.LayerServer, tl.Backend[i], tl.Backend[i].Start)
		case srcLog:
			l := &tl.Logs[i]
			times[k], layers[k], services[k], rowNames[k], traceIDs[k], spanIDs[k] = l.At, string(l.Layer), l.Service, l.Body, l.TraceID, l.SpanID
			sevs[k], bodies[k] = l.Severity, l.Body
			attrs[k] = attrsCell(cells, l.Attributes)
		}
	}
	var traceLinks, spanLinks linkList
	traceLinks.add(links.traceLink(valueRef))
	traceLinks.add(links.logsLink("Logs of this trace", valueRef, ""))
	spanLinks.add(links.logsLink("Logs of this span", rowRef("traceId"), valueRef))
	link(traceF, traceLinks...)
	link(spanF, spanLinks...)
	f := data.NewFrame("timeline", timeF, durF, layerF, svcF, nameF, traceF, spanF, parentF, stF, codeF, sevF, bodyF, attrF)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// estimateObjects is about the bytes of the timeline's attribute cells.
func estimateObjects(tl *correlation.Timeline) int {
	size := 0
	spans := func(ss []*telemetry.Span) {
		for _, s := range ss {
			size += attrsSize(s.Attributes)
		}
	}
	spans(tl.Actions)
	spans(tl.OtherDevice)
	spans(tl.Backend)
	for _, r := range tl.Requests {
		size += attrsSize(r.Client.Attributes) + 2
	}
	for i := range tl.Logs {
		size += attrsSize(tl.Logs[i].Attributes)
	}
	return size
}

// attrsSize is the bytes of attributes as an object, unescaped.
func attrsSize(a telemetry.Attrs) int {
	size := 2
	for _, kv := range a {
		size += len(kv.Key) + len(kv.Value) + 6
	}
	return size
}

// attrsCell is attributes as a flat JSON object.
func attrsCell(cells *cellArena, a telemetry.Attrs) json.RawMessage {
	b := append(cells.begin(), '{')
	b = appendObject(b, a, false)
	return cells.end(append(b, '}'))
}

// Logs builds a Grafana logs frame of the session's log records, each with
// its trace ID (Grafana links it to the trace).
func Logs(tl *correlation.Timeline, links Links) *data.Frame {
	n := len(tl.Logs)
	timeF, times := column[time.Time]("timestamp", data.FieldTypeTime, n)
	bodyF, bodies := column[string]("body", data.FieldTypeString, n)
	sevF, sevs := column[string]("severity", data.FieldTypeString, n)
	svcF, services := column[string]("service", data.FieldTypeString, n)
	traceF, traceIDs := column[string]("traceId", data.FieldTypeString, n)
	spanF, spanIDs := column[string]("spanId", data.FieldTypeString, n)
	labelF, labels := column[json.RawMessage]("labels", data.FieldTypeJSON, n)
	size := 0
	for i := range tl.Logs {
		size += attrsSize(tl.Logs[i].Attributes) + len(tl.Logs[i].Service) + 20
	}
	cells := newCellArena(size)
	for i := range tl.Logs {
		l := &tl.Logs[i]
		times[i], bodies[i], sevs[i], services[i], traceIDs[i], spanIDs[i] = l.At, l.Body, l.Severity, l.Service, l.TraceID, l.SpanID
		b := append(cells.begin(), `{"service.name":`...)
		b = appendJSONString(b, l.Service)
		b = appendObject(b, l.Attributes, true)
		labels[i] = cells.end(append(b, '}'))
	}
	// A log line links to its trace and back to the session's timeline.
	var traceLinks linkList
	traceLinks.add(links.traceLink(valueRef))
	traceLinks.add(links.sessionTimelineLink(tl.SessionID), links.Stitch != "")
	link(traceF, traceLinks...)
	f := data.NewFrame("logs", timeF, bodyF, sevF, svcF, traceF, spanF, labelF)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeLogs, Type: data.FrameTypeLogLines}
	return f
}

func statusText(c telemetry.StatusCode) string {
	switch c {
	case telemetry.StatusOK:
		return "ok"
	case telemetry.StatusError:
		return "error"
	}
	return "unset"
}

func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
