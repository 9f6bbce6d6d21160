package correlation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// cascadeTrace: app → edge (502) → mid (500) → deep (error, the root cause);
// a sibling under mid that succeeded must not be blamed.
func cascadeTrace(n int, session string, t0 time.Time) telemetry.Trace {
	tid := hex(5000+n, 32)
	id := func(k int) string { return hex(n*10+k, 16) }
	dev := telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "m"}}
	code := func(c string) telemetry.KV { return telemetry.KV{Key: schema.AttrHTTPResponseStatusCode, Value: c} }
	return telemetry.Trace{TraceID: tid, Spans: []telemetry.Span{
		{TraceID: tid, SpanID: id(1), Service: "app", Name: "POST /checkout", Kind: telemetry.KindClient, Start: t0, Duration: time.Second, Resource: dev,
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: session}, code("502")}},
		{TraceID: tid, SpanID: id(2), ParentSpanID: id(1), Service: "edge", Name: "POST /checkout", Kind: telemetry.KindServer, Start: t0, Duration: 900 * time.Millisecond,
			Attributes: telemetry.Attrs{code("502")}},
		{TraceID: tid, SpanID: id(3), ParentSpanID: id(2), Service: "mid", Name: "POST /orders", Kind: telemetry.KindServer, Start: t0.Add(time.Millisecond), Duration: 800 * time.Millisecond,
			Attributes: telemetry.Attrs{code("500")}},
		{TraceID: tid, SpanID: id(4), ParentSpanID: id(3), Service: "ok-svc", Name: "GET /price", Kind: telemetry.KindServer, Start: t0.Add(2 * time.Millisecond), Duration: time.Millisecond,
			Attributes: telemetry.Attrs{code("200")}},
		{TraceID: tid, SpanID: id(5), ParentSpanID: id(3), Service: "deep", Name: "reserve", Kind: telemetry.KindServer, Start: t0.Add(3 * time.Millisecond), Duration: 700 * time.Millisecond,
			StatusCode: telemetry.StatusError},
	}}
}

func TestErrorCascadesGroupsByRootCause(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s1, s2 := "11111111111111111111111111111111", "22222222222222222222222222222222"
	traces := []telemetry.Trace{cascadeTrace(1, s1, t0), cascadeTrace(2, s2, t0.Add(time.Minute)), cascadeTrace(3, s1, t0.Add(2*time.Minute))}
	// A different failure: the edge itself fails, nothing below.
	other := cascadeTrace(4, s2, t0.Add(3*time.Minute))
	other.Spans = other.Spans[:2]
	traces = append(traces, other)
	logs := []telemetry.LogRecord{
		{Time: t0.Add(500 * time.Millisecond), TraceID: hex(5001, 32), Service: "mid", Severity: "ERROR", Body: "reservation failed"},
		{Time: t0.Add(400 * time.Millisecond), TraceID: hex(5001, 32), Service: "deep", Severity: "ERROR", Body: "lock wait timeout"},
		{Time: t0.Add(300 * time.Millisecond), TraceID: hex(5001, 32), Service: "deep", Severity: "INFO", Body: "waiting"},
	}
	// A failed request with no failed backend span is no cascade.
	clientSide := cascadeTrace(5, s1, t0.Add(4*time.Minute))
	clientSide.Spans[0].Attributes = append(clientSide.Spans[0].Attributes, telemetry.KV{Key: schema.AttrErrorType, Value: "404"})
	clientSide.Spans[0].Attributes[1].Value = "404"
	clientSide.Spans = clientSide.Spans[:1]
	traces = append(traces, clientSide)
	// A failed attempt whose action succeeded (a retry recovered it).
	recovered := cascadeTrace(6, s2, t0.Add(5*time.Minute))
	action := telemetry.Span{TraceID: recovered.TraceID, SpanID: hex(999, 16), Service: "app", Name: "tap", Kind: telemetry.KindInternal,
		Start: t0.Add(5 * time.Minute), Resource: recovered.Spans[0].Resource}
	recovered.Spans[0].ParentSpanID = action.SpanID
	recovered.Spans = append(recovered.Spans, action)
	traces = append(traces, recovered)
	got, clientOnly := ErrorCascades(NewIndex(traces), logs)
	assert.Equal(t, 1, clientOnly)
	require.Len(t, got, 2)
	top := got[0]
	assert.Equal(t, 3, top.Count)
	assert.Len(t, top.Sessions, 2)
	assert.Equal(t, []string{s1, s2}, top.Examples)
	require.Len(t, top.Chain, 4)
	assert.Equal(t, "deep", top.Chain[3].Service, "the root cause is the deepest failed span")
	assert.Equal(t, "mid", top.Chain[2].Service)
	assert.Equal(t, "500", top.Chain[2].StatusCode)
	assert.Equal(t, "deep: lock wait timeout", top.FirstErrorLog, "the earliest error record of an example trace")
	assert.Equal(t, 1, got[1].Count)
	assert.Equal(t, "edge", got[1].Chain[len(got[1].Chain)-1].Service)
}

func TestNewCascadeSignatures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s1 := "11111111111111111111111111111111"
	// The same cascade at 0 and 2 min, and a different one at 3 min.
	edgeOnly := cascadeTrace(4, s1, t0.Add(3*time.Minute))
	edgeOnly.Spans = edgeOnly.Spans[:2]
	traces := []telemetry.Trace{cascadeTrace(1, s1, t0), cascadeTrace(2, s1, t0.Add(2*time.Minute)), edgeOnly}
	// Times are aligned by the session's clock offset (50 ms here): start the
	// buckets half a minute early.
	series := SessionMetric(NewIndex(traces), MetricNewCascadeSignatures, "", t0.Add(-30*time.Second), t0.Add(210*time.Second), time.Minute)
	require.Len(t, series, 1)
	var got []float64
	for _, v := range series[0].Values {
		got = append(got, *v)
	}
	assert.Equal(t, []float64{1, 0, 0, 1}, got, "new at first sight only")
	none := SessionMetric(NewIndex(nil), MetricNewCascadeSignatures, "", t0, t0.Add(2*time.Minute), time.Minute)
	require.Len(t, none, 1)
	assert.Equal(t, 0.0, *none[0].Values[0])
}

func TestNewCascadeSignaturesLookback(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s1 := "11111111111111111111111111111111"
	traces := []telemetry.Trace{cascadeTrace(1, s1, t0), cascadeTrace(2, s1, t0.Add(time.Hour))}
	// Seen an hour before the range: not new inside it.
	seen := NewCascadeSignatures(NewIndex(traces), "", t0.Add(-time.Minute), t0.Add(50*time.Minute), t0.Add(70*time.Minute), 10*time.Minute)
	require.Len(t, seen, 1)
	for _, v := range seen[0].Values {
		assert.Equal(t, 0.0, *v)
	}
	// Without that history it is new at its first sight in the range.
	fresh := NewCascadeSignatures(NewIndex(traces[1:]), "", t0.Add(-time.Minute), t0.Add(50*time.Minute), t0.Add(70*time.Minute), 10*time.Minute)
	require.Len(t, fresh, 1)
	assert.Equal(t, 1.0, *fresh[0].Values[0]+*fresh[0].Values[1])
	assert.Nil(t, NewCascadeSignatures(NewIndex(traces), "", t0.Add(time.Hour), t0, t0.Add(time.Minute), time.Minute), "history after the range")
}
