package correlation

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

const sid = "0af7651916cd43dd8448eb211c80319c"

var deviceResource = telemetry.Attrs{
	{Key: schema.AttrServiceName, Value: "any-app"}, {Key: schema.AttrServiceVersion, Value: "4.2.0"},
	{Key: schema.AttrOSName, Value: "iOS"}, {Key: schema.AttrOSVersion, Value: "17.4"},
	{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"},
}

func hex(n, width int) string { return fmt.Sprintf("%0*x", width, n) }

// sessionFixture: a device whose clock runs 90 s ahead; one action with two
// requests — the first reaches a backend (server span with a child), the
// second's backend trace is missing — plus a request from another session
// that must not join.
func sessionFixture(skew time.Duration) Input {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	dev := func(trace, span, parent int, name string, kind telemetry.SpanKind, start, dur time.Duration, attrs ...telemetry.KV) telemetry.Span {
		a := append(telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}, attrs...)
		return telemetry.Span{TraceID: hex(trace, 32), SpanID: hex(span, 16), ParentSpanID: map[bool]string{true: hex(parent, 16)}[parent != 0],
			Name: name, Service: "any-app", Kind: kind, Start: t0.Add(start + skew), Duration: dur, Attributes: a, Resource: deviceResource}
	}
	be := func(trace, span, parent int, svc string, start, dur time.Duration) telemetry.Span {
		return telemetry.Span{TraceID: hex(trace, 32), SpanID: hex(span, 16), ParentSpanID: hex(parent, 16), Name: "GET /x", Service: svc,
			Kind: telemetry.KindServer, Start: t0.Add(start), Duration: dur,
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}, Resource: telemetry.Attrs{{Key: "service.name", Value: svc}}}
	}
	action := dev(1, 10, 0, "tap checkout", telemetry.KindInternal, 0, 2*time.Second, telemetry.KV{Key: schema.AttrStitchActionName, Value: "tap"})
	c1 := dev(1, 11, 10, "POST", telemetry.KindClient, 100*time.Millisecond, 500*time.Millisecond, telemetry.KV{Key: schema.AttrServerAddress, Value: "api.example"})
	s1 := be(1, 12, 11, "svc-a", 200*time.Millisecond, 300*time.Millisecond)
	s1child := be(1, 13, 12, "svc-b", 250*time.Millisecond, 100*time.Millisecond)
	// The second request is its own trace; its backend never answered.
	c2 := dev(2, 21, 0, "GET", telemetry.KindClient, time.Second, 200*time.Millisecond, telemetry.KV{Key: schema.AttrServerAddress, Value: "legacy.example"})
	other := dev(3, 31, 0, "GET", telemetry.KindClient, time.Second, 100*time.Millisecond)
	other.Attributes = telemetry.Attrs{{Key: schema.AttrSessionID, Value: "11111111111111111111111111111111"}}
	return Input{
		SessionID: sid,
		Traces: []telemetry.Trace{
			{TraceID: hex(1, 32), Spans: []telemetry.Span{action, c1, s1, s1child}},
			// The same trace again (found through a second search): no duplicates.
			{TraceID: hex(1, 32), Spans: []telemetry.Span{s1}},
			{TraceID: hex(2, 32), Spans: []telemetry.Span{c2}},
			{TraceID: hex(3, 32), Spans: []telemetry.Span{other}},
		},
		Logs: []telemetry.LogRecord{
			{Time: t0.Add(260 * time.Millisecond), TraceID: hex(1, 32), SpanID: hex(13, 16), Service: "svc-b", Severity: "ERROR", Body: "boom"},
			{Time: t0.Add(skew), Service: "any-app", Body: schema.EventSessionStart, Attributes: telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}}},
		},
	}
}

func TestBuildTimelineJoinsRequestsToBackend(t *testing.T) {
	tl := BuildTimeline(sessionFixture(90 * time.Second))
	require.Len(t, tl.Actions, 1)
	require.Len(t, tl.Requests, 2, "the other session's request is not joined")

	r1 := tl.Requests[0]
	assert.Equal(t, hex(11, 16), r1.Client.SpanID)
	require.NotNil(t, r1.Action)
	assert.Equal(t, hex(10, 16), r1.Action.SpanID)
	require.NotNil(t, r1.ServerRoot)
	assert.Equal(t, "svc-a", r1.ServerRoot.Service)
	require.Len(t, r1.Backend, 2)
	assert.Equal(t, "svc-b", r1.Backend[1].Service)
	assert.Equal(t, 200*time.Millisecond, r1.NetworkTime())

	r2 := tl.Requests[1]
	assert.Nil(t, r2.ServerRoot)
	assert.Contains(t, r2.MissingReason, "legacy.example")
	assert.Contains(t, r2.MissingReason, hex(2, 32))

	assert.Len(t, tl.Backend, 2, "deduplicated across repeated traces")
	assert.Equal(t, "4.2.0", tl.App.Version)
	assert.Equal(t, "iPhone15,2", tl.App.DeviceModel)
	idx := tl.LogsOf(&telemetry.Span{TraceID: hex(1, 32), SpanID: hex(13, 16)})
	require.Len(t, idx, 1)
	assert.Equal(t, "boom", tl.Logs[idx[0]].Body)
	// Logs are in backend-clock order: the device's session.start, stamped
	// 90 s ahead, is aligned to before the backend's error record.
	require.Len(t, tl.Logs, 2)
	assert.Equal(t, schema.EventSessionStart, tl.Logs[0].Body)
	assert.Equal(t, LayerLifecycle, tl.Logs[0].Layer)
	assert.Equal(t, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), tl.Logs[0].At)
	assert.Equal(t, LayerLog, tl.Logs[1].Layer)
}

func TestClockOffsetPutsBackendInsideClient(t *testing.T) {
	for _, skew := range []time.Duration{0, 90 * time.Second, -7 * time.Minute, 1500 * time.Millisecond} {
		tl := BuildTimeline(sessionFixture(skew))
		assert.Equal(t, 1, tl.OffsetSamples)
		// The pair's midpoints differ by the skew (the server span sits in
		// the client span's middle in the fixture: 100..600 vs 200..500).
		assert.Equal(t, skew, tl.ClockOffset, "skew %s", skew)
		r := tl.Requests[0]
		cs := tl.Aligned(r.Client)
		ce := cs.Add(r.Client.Duration)
		assert.False(t, r.ServerRoot.Start.Before(cs), "server starts inside the aligned client span (skew %s)", skew)
		assert.False(t, r.ServerRoot.End().After(ce), "server ends inside the aligned client span (skew %s)", skew)
		// Network time does not depend on the skew.
		assert.Equal(t, 200*time.Millisecond, r.NetworkTime())
	}
}

func TestEstimateClockOffsetMedian(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(offset time.Duration) *Request {
		return &Request{
			Client:     &telemetry.Span{Start: t0.Add(offset), Duration: 100 * time.Millisecond},
			ServerRoot: &telemetry.Span{Start: t0.Add(25 * time.Millisecond), Duration: 50 * time.Millisecond},
		}
	}
	off, n := EstimateClockOffset([]*Request{mk(10 * time.Second), mk(10 * time.Second), mk(10*time.Second + 40*time.Millisecond), mk(-time.Hour), {Client: &telemetry.Span{}}})
	assert.Equal(t, 4, n)
	assert.Equal(t, 10*time.Second, off, "the outlier does not move the median")
	off, n = EstimateClockOffset(nil)
	assert.Zero(t, off)
	assert.Zero(t, n)
}

func TestSampledOutReason(t *testing.T) {
	in := sessionFixture(0)
	c2 := &in.Traces[2].Spans[0]
	c2.Attributes = append(c2.Attributes, telemetry.KV{Key: schema.AttrStitchSamplingDecision, Value: "keep"}, telemetry.KV{Key: schema.AttrStitchSamplingReason, Value: "error"},
		// At rate 0.01 this session ID is not sampled (0x0af7… / 2^64 ≈ 0.043).
		telemetry.KV{Key: schema.AttrStitchSamplingRate, Value: "0.01"})
	tl := BuildTimeline(in)
	assert.Contains(t, tl.Requests[1].MissingReason, "sampled out")
}
