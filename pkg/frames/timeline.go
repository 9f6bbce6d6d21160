package frames

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

type timelineRow struct {
	time                                         time.Time
	durationMs                                   float64
	layer                                        correlation.Layer
	service, name, traceID, spanID, parentSpanID string
	status                                       string
	statusCode                                   *int64
	severity, body                               string
	attributes                                   json.RawMessage
}

// Timeline builds the session as a table, one row per item in time order
// (backend clock): actions, client requests, the network share of each,
// backend spans, log records and lifecycle events.
func Timeline(tl *correlation.Timeline) *data.Frame {
	var rows []timelineRow
	spanRow := func(layer correlation.Layer, s *telemetry.Span) timelineRow {
		r := timelineRow{
			time: tl.Aligned(s), durationMs: durMs(s.Duration), layer: layer, service: s.Service, name: s.Name,
			traceID: s.TraceID, spanID: s.SpanID, parentSpanID: s.ParentSpanID, status: statusText(s.StatusCode),
			attributes: attrsJSON(s.Attributes),
		}
		if code, err := strconv.ParseInt(s.Attr(schema.AttrHTTPResponseStatusCode), 10, 64); err == nil {
			r.statusCode = &code
		}
		return r
	}
	for _, a := range tl.Actions {
		rows = append(rows, spanRow(correlation.LayerAction, a))
	}
	for _, s := range tl.OtherDevice {
		rows = append(rows, spanRow(correlation.LayerAction, s))
	}
	for _, r := range tl.Requests {
		row := spanRow(correlation.LayerClient, r.Client)
		if r.ServerRoot == nil {
			row.body = r.MissingReason
		}
		rows = append(rows, row)
		if r.ServerRoot != nil {
			rows = append(rows, timelineRow{
				time: tl.Aligned(r.Client), durationMs: durMs(r.NetworkTime()), layer: correlation.LayerNetwork,
				service: r.Client.Service, name: "network + queueing: " + r.Client.Name, traceID: r.Client.TraceID,
				spanID: r.Client.SpanID, attributes: json.RawMessage("{}"),
			})
		}
	}
	for _, b := range tl.Backend {
		rows = append(rows, spanRow(correlation.LayerServer, b))
	}
	for _, l := range tl.Logs {
		layer := correlation.LayerLog
		switch l.Body {
		case schema.EventSessionStart, schema.EventSessionEnd, schema.EventDeviceAppLifecycle:
			layer = correlation.LayerLifecycle
		}
		if n := l.Attributes.Value("event.name"); n == schema.EventSessionStart || n == schema.EventSessionEnd || n == schema.EventDeviceAppLifecycle {
			layer = correlation.LayerLifecycle
		}
		t := l.Time
		if correlation.IsDeviceLog(&l) {
			t = t.Add(-tl.ClockOffset)
		}
		rows = append(rows, timelineRow{
			time: t, layer: layer, service: l.Service, name: l.Body, traceID: l.TraceID, spanID: l.SpanID,
			severity: l.Severity, body: l.Body, attributes: attrsJSON(l.Attributes),
		})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].time.Before(rows[j].time) })

	f := data.NewFrame("timeline",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("durationMs", nil, []float64{}),
		data.NewField("layer", nil, []string{}),
		data.NewField("service", nil, []string{}),
		data.NewField("name", nil, []string{}),
		data.NewField("traceId", nil, []string{}),
		data.NewField("spanId", nil, []string{}),
		data.NewField("parentSpanId", nil, []string{}),
		data.NewField("status", nil, []string{}),
		data.NewField("statusCode", nil, []*int64{}),
		data.NewField("severity", nil, []string{}),
		data.NewField("body", nil, []string{}),
		data.NewField("attributes", nil, []json.RawMessage{}),
	)
	for _, r := range rows {
		f.AppendRow(r.time, r.durationMs, string(r.layer), r.service, r.name, r.traceID, r.spanID, r.parentSpanID,
			r.status, r.statusCode, r.severity, r.body, r.attributes)
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// Logs builds a Grafana logs frame of the session's log records, each with
// its trace ID (Grafana links it to the trace).
func Logs(tl *correlation.Timeline) *data.Frame {
	f := data.NewFrame("logs",
		data.NewField("timestamp", nil, []time.Time{}),
		data.NewField("body", nil, []string{}),
		data.NewField("severity", nil, []string{}),
		data.NewField("service", nil, []string{}),
		data.NewField("traceId", nil, []string{}),
		data.NewField("spanId", nil, []string{}),
		data.NewField("labels", nil, []json.RawMessage{}),
	)
	for _, l := range tl.Logs {
		labels := map[string]string{"service.name": l.Service}
		for _, kv := range l.Attributes {
			labels[kv.Key] = kv.Value
		}
		b, _ := json.Marshal(labels)
		f.AppendRow(l.Time, l.Body, l.Severity, l.Service, l.TraceID, l.SpanID, json.RawMessage(b))
	}
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

func attrsJSON(a telemetry.Attrs) json.RawMessage {
	m := make(map[string]string, len(a))
	for _, kv := range a {
		m[kv.Key] = kv.Value
	}
	b, _ := json.Marshal(m)
	return b
}
