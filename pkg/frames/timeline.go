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
	rows := make([]timelineRow, 0, len(tl.Actions)+len(tl.OtherDevice)+2*len(tl.Requests)+len(tl.Backend)+len(tl.Logs))
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
		rows = append(rows, timelineRow{
			time: l.At, layer: l.Layer, service: l.Service, name: l.Body, traceID: l.TraceID, spanID: l.SpanID,
			severity: l.Severity, body: l.Body, attributes: attrsJSON(l.Attributes),
		})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].time.Before(rows[j].time) })

	n := len(rows)
	var (
		times                                                    = make([]time.Time, n)
		durs                                                     = make([]float64, n)
		layers, services, names, traceIDs, spanIDs, parents, sts = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		codes                                                    = make([]*int64, n)
		sevs, bodies                                             = make([]string, n), make([]string, n)
		attrs                                                    = make([]json.RawMessage, n)
	)
	for i, r := range rows {
		times[i], durs[i], layers[i], services[i], names[i] = r.time, r.durationMs, string(r.layer), r.service, r.name
		traceIDs[i], spanIDs[i], parents[i], sts[i], codes[i] = r.traceID, r.spanID, r.parentSpanID, r.status, r.statusCode
		sevs[i], bodies[i], attrs[i] = r.severity, r.body, r.attributes
	}
	f := data.NewFrame("timeline",
		data.NewField("time", nil, times),
		data.NewField("durationMs", nil, durs),
		data.NewField("layer", nil, layers),
		data.NewField("service", nil, services),
		data.NewField("name", nil, names),
		data.NewField("traceId", nil, traceIDs),
		data.NewField("spanId", nil, spanIDs),
		data.NewField("parentSpanId", nil, parents),
		data.NewField("status", nil, sts),
		data.NewField("statusCode", nil, codes),
		data.NewField("severity", nil, sevs),
		data.NewField("body", nil, bodies),
		data.NewField("attributes", nil, attrs),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// Logs builds a Grafana logs frame of the session's log records, each with
// its trace ID (Grafana links it to the trace).
func Logs(tl *correlation.Timeline) *data.Frame {
	n := len(tl.Logs)
	var (
		times                                     = make([]time.Time, n)
		bodies, sevs, services, traceIDs, spanIDs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		labels                                    = make([]json.RawMessage, n)
	)
	for i, l := range tl.Logs {
		times[i], bodies[i], sevs[i], services[i], traceIDs[i], spanIDs[i] = l.At, l.Body, l.Severity, l.Service, l.TraceID, l.SpanID
		keys, values := make([]string, 0, len(l.Attributes)+1), make([]string, 0, len(l.Attributes)+1)
		keys, values = append(keys, "service.name"), append(values, l.Service)
		for _, kv := range l.Attributes {
			keys, values = append(keys, kv.Key), append(values, kv.Value)
		}
		labels[i] = objectJSON(keys, values)
	}
	f := data.NewFrame("logs",
		data.NewField("timestamp", nil, times),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, sevs),
		data.NewField("service", nil, services),
		data.NewField("traceId", nil, traceIDs),
		data.NewField("spanId", nil, spanIDs),
		data.NewField("labels", nil, labels),
	)
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
	keys, values := make([]string, len(a)), make([]string, len(a))
	for i, kv := range a {
		keys[i], values[i] = kv.Key, kv.Value
	}
	return objectJSON(keys, values)
}
