package correlation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// worldOfHosts: "good" continues every trace, "strip" none (its own trace
// has no session), and one sampled-out request to "good" has no backend
// trace, as expected. The device clock is 90 s ahead.
func worldOfHosts() []telemetry.Trace {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dev := telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "m"}}
	sid := "0af7651916cd43dd8448eb211c80319c"
	var traces []telemetry.Trace
	client := func(n int, host, reason string, failed bool) telemetry.Span {
		s := telemetry.Span{TraceID: hex(n, 32), SpanID: hex(n, 16), Kind: telemetry.KindClient, Start: t0.Add(time.Duration(n)*time.Second + 90*time.Second),
			Duration: 300 * time.Millisecond, Resource: dev, Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid},
				{Key: schema.AttrServerAddress, Value: host}, {Key: schema.AttrStitchSamplingReason, Value: reason}, {Key: schema.AttrStitchSamplingRate, Value: "0.5"}}}
		if failed {
			s.StatusCode = telemetry.StatusError
		}
		return s
	}
	for n := 1; n <= 4; n++ {
		c := client(n, "good", "session_sampled", n == 4)
		srv := telemetry.Span{TraceID: c.TraceID, SpanID: hex(100+n, 16), ParentSpanID: c.SpanID, Service: "svc", Kind: telemetry.KindServer,
			Start: t0.Add(time.Duration(n)*time.Second + 100*time.Millisecond), Duration: 100 * time.Millisecond, Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}}
		traces = append(traces, telemetry.Trace{TraceID: c.TraceID, Spans: []telemetry.Span{c, srv}})
	}
	for n := 5; n <= 7; n++ {
		c := client(n, "strip", "session_sampled", false)
		own := telemetry.Span{TraceID: hex(900+n, 32), SpanID: hex(900+n, 16), Service: "legacy", Kind: telemetry.KindServer, Start: t0.Add(time.Duration(n) * time.Second)}
		traces = append(traces, telemetry.Trace{TraceID: c.TraceID, Spans: []telemetry.Span{c}}, telemetry.Trace{TraceID: own.TraceID, Spans: []telemetry.Span{own}})
	}
	// A request of a sampled-out session (its ID's first 64 bits are above
	// rate × 2^64), kept for its error: no backend trace is expected.
	out := client(8, "good", "error", true)
	out.Attributes[0].Value = "f0000000000000000000000000000001"
	out.Start = t0.Add(8 * time.Second) // its clock is right: no pair to align it by
	traces = append(traces, telemetry.Trace{TraceID: hex(8, 32), Spans: []telemetry.Span{out}})
	return traces
}

// Through a tail-sampling collector, a sampled-out session's error request
// keeps its backend trace: counted as continued, not as a disagreement.
func TestAuditPropagationTailSampledError(t *testing.T) {
	traces := worldOfHosts()
	last := &traces[len(traces)-1]
	out := last.Spans[0]
	srv := telemetry.Span{TraceID: out.TraceID, SpanID: hex(808, 16), ParentSpanID: out.SpanID, Service: "svc", Kind: telemetry.KindServer,
		Start: out.Start.Add(10 * time.Millisecond), Duration: 50 * time.Millisecond, Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: out.Attr(schema.AttrSessionID)}}}
	last.Spans = append(last.Spans, srv)
	p := AuditPropagation(NewIndex(traces))
	good := p.Hosts[1]
	require.Equal(t, "good", good.Host)
	assert.Equal(t, 0, good.SampledOut)
	assert.Equal(t, 0, good.Disagreements)
	assert.Equal(t, 5, good.WithBackendTrace)
	assert.Equal(t, 1.0, good.Coverage())
}

func TestAuditPropagation(t *testing.T) {
	p := AuditPropagation(NewIndex(worldOfHosts()))
	require.Len(t, p.Hosts, 2)
	strip, good := p.Hosts[0], p.Hosts[1]
	assert.Equal(t, "strip", strip.Host, "the stripping host stands out on top")
	assert.Equal(t, 0.0, strip.Coverage())
	assert.Equal(t, hex(5, 32), strip.ExampleOrphan)
	assert.Equal(t, "good", good.Host)
	assert.Equal(t, 5, good.Requests)
	assert.Equal(t, 1, good.SampledOut)
	assert.Equal(t, 1.0, good.Coverage(), "the sampled-out request is not an orphan")
	require.Len(t, p.Services, 2)
	assert.Equal(t, "legacy", p.Services[0].Service)
	assert.Equal(t, 0.0, p.Services[0].SessionCoverage())
	assert.Equal(t, 1.0, p.Services[1].SessionCoverage())
	assert.Equal(t, []OffsetBucket{{"< 1s", 0}, {"1s – 10s", 0}, {"10s – 1m", 0}, {"1m – 5m", 1}, {"≥ 5m", 0}}, p.ClockOffsets)
}

func TestSessionMetric(t *testing.T) {
	traces := worldOfHosts()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from, to, step := t0, t0.Add(20*time.Second), 5*time.Second
	val := func(s *Series, i int) float64 { require.NotNil(t, s.Values[i], "bucket %d", i); return *s.Values[i] }

	sessions := SessionMetric(NewIndex(traces), MetricSessions, "", from, to, step)
	require.Len(t, sessions, 1)
	require.Len(t, sessions[0].Values, 4)
	// Requests 1-4 fall in bucket 0 (times aligned: the 90 s skew removed),
	// 5-7 in bucket 1; one session, weighted by 1/0.5.
	assert.True(t, sessions[0].Weighted)
	assert.Equal(t, 2.0, val(sessions[0], 0))
	assert.Equal(t, 3.0, val(sessions[0], 1), "the sampled session weighs 2, the sampled-out one 1")
	assert.Equal(t, 0.0, val(sessions[0], 3), "no session: zero, not unknown")

	cov := SessionMetric(NewIndex(traces), MetricPropagationCoverage, "", from, to, step)
	assert.Equal(t, 1.0, val(cov[0], 0))
	assert.Equal(t, 0.0, val(cov[0], 1), "the stripping host's bucket")
	assert.Nil(t, cov[0].Values[3])

	ratio := SessionMetric(NewIndex(traces), MetricErrorSessionRatio, "", from, to, step)
	assert.Equal(t, 1.0, val(ratio[0], 0))
	assert.InDelta(t, 1.0/3, val(ratio[0], 1), 1e-9, "the sampled-out session failed in bucket 1")

	// Latency comes from the metric store's histograms, not a sample of
	// traces.
	server := SessionMetric(NewIndex(traces), MetricServerLatencyP95, "", from, to, step)
	for _, v := range server[0].Values {
		assert.Nil(t, v)
	}

	assert.Nil(t, SessionMetric(NewIndex(traces), MetricSessions, "", to, from, step))
}
