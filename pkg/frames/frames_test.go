package frames

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

const sid = "0af7651916cd43dd8448eb211c80319c"

func hex(n, width int) string { return fmt.Sprintf("%0*x", width, n) }

func fixture(skew time.Duration) *correlation.Timeline {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	res := telemetry.Attrs{{Key: schema.AttrServiceName, Value: "app"}, {Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}}
	sess := telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}
	spans := []telemetry.Span{
		{TraceID: hex(1, 32), SpanID: hex(10, 16), Name: "tap", Service: "app", Kind: telemetry.KindInternal, Start: t0.Add(skew), Duration: time.Second,
			Attributes: append(telemetry.Attrs{{Key: schema.AttrStitchActionName, Value: "tap"}}, sess...), Resource: res},
		{TraceID: hex(1, 32), SpanID: hex(11, 16), ParentSpanID: hex(10, 16), Name: "GET", Service: "app", Kind: telemetry.KindClient,
			Start: t0.Add(skew + 100*time.Millisecond), Duration: 400 * time.Millisecond, Attributes: sess, Resource: res},
		{TraceID: hex(1, 32), SpanID: hex(12, 16), ParentSpanID: hex(11, 16), Name: "GET /x", Service: "svc", Kind: telemetry.KindServer,
			Start: t0.Add(200 * time.Millisecond), Duration: 200 * time.Millisecond, StatusCode: telemetry.StatusError, Attributes: sess},
		{TraceID: hex(2, 32), SpanID: hex(21, 16), Name: "POST", Service: "app", Kind: telemetry.KindClient,
			Start: t0.Add(skew + 500*time.Millisecond), Duration: 100 * time.Millisecond, Attributes: sess, Resource: res},
	}
	return correlation.BuildTimeline(correlation.Input{
		SessionID: sid,
		Traces:    []telemetry.Trace{{TraceID: hex(1, 32), Spans: spans[:3]}, {TraceID: hex(2, 32), Spans: spans[3:]}},
		Logs: []telemetry.LogRecord{{Time: t0.Add(300 * time.Millisecond), TraceID: hex(1, 32), SpanID: hex(12, 16), Service: "svc", Severity: "ERROR", Body: "failed"},
			{Time: t0.Add(skew), Service: "app", Body: schema.EventSessionStart, Attributes: telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}}}},
	})
}

// The columns and types Grafana's trace panel reads, pinned.
func TestWaterfallIsOneGrafanaTrace(t *testing.T) {
	f := Waterfall(fixture(45*time.Second), Links{})
	want := map[string]data.FieldType{
		"traceID": data.FieldTypeString, "spanID": data.FieldTypeString, "parentSpanID": data.FieldTypeString,
		"operationName": data.FieldTypeString, "serviceName": data.FieldTypeString, "kind": data.FieldTypeString,
		"statusCode": data.FieldTypeInt64, "statusMessage": data.FieldTypeString, "instrumentationLibraryName": data.FieldTypeString,
		"instrumentationLibraryVersion": data.FieldTypeString, "traceState": data.FieldTypeString, "serviceTags": data.FieldTypeJSON,
		"startTime": data.FieldTypeFloat64, "duration": data.FieldTypeFloat64, "logs": data.FieldTypeJSON,
		"references": data.FieldTypeJSON, "tags": data.FieldTypeJSON,
	}
	require.Len(t, f.Fields, len(want))
	for _, fl := range f.Fields {
		assert.Equal(t, want[fl.Name], fl.Type(), fl.Name)
	}
	assert.Equal(t, data.VisTypeTrace, string(f.Meta.PreferredVisualization))

	n := f.Rows()
	require.Equal(t, 5, n, "root + action + 2 client + 1 server")
	parents := map[string]string{}
	var starts = map[string]float64{}
	var durs = map[string]float64{}
	traceOf := map[string]string{}
	for i := 0; i < n; i++ {
		id := f.Fields[1].At(i).(string)
		traceOf[id] = f.Fields[0].At(i).(string)
		parents[id] = f.Fields[2].At(i).(string)
		starts[id] = f.Fields[12].At(i).(float64)
		durs[id] = f.Fields[13].At(i).(float64)
	}
	root := RootSpanID(sid)
	assert.Equal(t, "", parents[root])
	// One tree (Grafana nests by span IDs), each span with its own trace.
	assert.Equal(t, sid, traceOf[root], "the session root carries the session ID")
	assert.Equal(t, hex(1, 32), traceOf[hex(11, 16)])
	assert.Equal(t, hex(1, 32), traceOf[hex(12, 16)])
	assert.Equal(t, hex(2, 32), traceOf[hex(21, 16)])
	assert.Equal(t, root, parents[hex(10, 16)], "action under the session")
	assert.Equal(t, hex(10, 16), parents[hex(11, 16)], "request under its action")
	assert.Equal(t, hex(11, 16), parents[hex(12, 16)], "backend span under its client span")
	assert.Equal(t, root, parents[hex(21, 16)], "a request without an action hangs on the session")
	// Inside its client span despite the 45 s device skew.
	assert.GreaterOrEqual(t, starts[hex(12, 16)], starts[hex(11, 16)])
	assert.LessOrEqual(t, starts[hex(12, 16)]+durs[hex(12, 16)], starts[hex(11, 16)]+durs[hex(11, 16)])

	// The request with no backend says why; the error log sits on its span.
	for i := 0; i < n; i++ {
		tags := string(f.Fields[16].At(i).(json.RawMessage))
		logs := string(f.Fields[14].At(i).(json.RawMessage))
		switch f.Fields[1].At(i) {
		case hex(21, 16):
			assert.Contains(t, tags, "stitch.backend.missing")
		case hex(12, 16):
			assert.Contains(t, logs, "failed")
		case root:
			assert.Contains(t, logs, schema.EventSessionStart)
		}
	}
}

func TestTimelineTable(t *testing.T) {
	f := Timeline(fixture(0), Links{})
	layers := map[string]int{}
	for i := 0; i < f.Rows(); i++ {
		layers[f.Fields[2].At(i).(string)]++
	}
	assert.Equal(t, map[string]int{"action": 1, "client": 2, "network": 1, "server": 1, "log": 1, "lifecycle": 1}, layers)
	// Sorted by time.
	for i := 1; i < f.Rows(); i++ {
		assert.False(t, f.Fields[0].At(i).(time.Time).Before(f.Fields[0].At(i-1).(time.Time)))
	}
}

func TestLogsFrame(t *testing.T) {
	f := Logs(fixture(0), Links{})
	require.Equal(t, 2, f.Rows())
	assert.Equal(t, data.VisTypeLogs, string(f.Meta.PreferredVisualization))
	tid, _ := f.FieldByName("traceId")
	assert.NotNil(t, tid)
}
