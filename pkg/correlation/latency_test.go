package correlation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

func TestPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	assert.Equal(t, 50*time.Millisecond, p.P50)
	assert.Equal(t, 95*time.Millisecond, p.P95)
	assert.Equal(t, 99*time.Millisecond, p.P99)
	assert.Equal(t, Percentiles{}, percentiles(nil))
	one := percentiles([]time.Duration{7})
	assert.Equal(t, Percentiles{7, 7, 7}, one)
}

// Two endpoints; the device clock of the second request's device is an
// hour off: the network split comes from durations and does not move.
func TestLatencyBreakdown(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dev := telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "m"}, {Key: schema.AttrServiceVersion, Value: "1"}}
	var traces []telemetry.Trace
	add := func(n int, endpoint string, client, server time.Duration, skew time.Duration, failed bool) {
		tid := hex(1000+n, 32)
		c := telemetry.Span{TraceID: tid, SpanID: hex(n*2+1, 16), Kind: telemetry.KindClient, Start: t0.Add(skew), Duration: client, Resource: dev,
			Attributes: telemetry.Attrs{{Key: schema.AttrURLTemplate, Value: endpoint}}}
		if failed {
			c.StatusCode = telemetry.StatusError
		}
		spans := []telemetry.Span{c}
		if server > 0 {
			spans = append(spans, telemetry.Span{TraceID: tid, SpanID: hex(n*2+2, 16), ParentSpanID: c.SpanID, Kind: telemetry.KindServer, Start: t0, Duration: server})
		}
		traces = append(traces, telemetry.Trace{TraceID: tid, Spans: spans})
	}
	for i := 0; i < 10; i++ {
		add(i, "/fast", 100*time.Millisecond, 60*time.Millisecond, 0, false)
	}
	for i := 10; i < 20; i++ {
		add(i, "/slow", 3500*time.Millisecond, 3300*time.Millisecond, time.Hour, i == 19)
	}
	add(20, "/slow", 200*time.Millisecond, 0, 0, false) // no backend span found

	groups := LatencyBreakdown(NewIndex(traces), []string{GroupEndpoint})
	require.Len(t, groups, 2)
	slow, fast := groups[0], groups[1]
	assert.Equal(t, []string{"/slow"}, slow.Key, "slowest server p95 first")
	assert.Equal(t, 11, slow.Requests)
	assert.Equal(t, 10, slow.WithServer)
	assert.Equal(t, 1, slow.Errors)
	assert.InDelta(t, 1.0/11, slow.ErrorRate(), 1e-9)
	assert.Equal(t, 3300*time.Millisecond, slow.Server.P95)
	assert.Equal(t, 200*time.Millisecond, slow.Network.P50, "network from durations, skew ignored")
	assert.Equal(t, 40*time.Millisecond, fast.Network.P95)

	byVersion := LatencyBreakdown(NewIndex(traces), []string{GroupEndpoint, GroupAppVersion})
	assert.Equal(t, []string{"/slow", "1"}, byVersion[0].Key)
}
