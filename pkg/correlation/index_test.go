package correlation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// A client span that reached two backend spans (a proxy retried it): every
// consumer must take the same one, the earliest, whatever order the store
// returned the spans in.
func TestServerRootIsOneRuleForEveryConsumer(t *testing.T) {
	in := sessionFixture(90 * time.Second)
	retry := telemetry.Span{TraceID: hex(1, 32), SpanID: hex(14, 16), ParentSpanID: hex(11, 16), Name: "GET /x", Service: "svc-retry",
		Kind: telemetry.KindServer, Start: in.Traces[0].Spans[2].Start.Add(10 * time.Millisecond), Duration: 50 * time.Millisecond,
		Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}}
	for name, order := range map[string]func([]telemetry.Span) []telemetry.Span{
		"later hop first": func(s []telemetry.Span) []telemetry.Span { return append([]telemetry.Span{retry}, s...) },
		"later hop last":  func(s []telemetry.Span) []telemetry.Span { return append(s, retry) },
	} {
		t.Run(name, func(t *testing.T) {
			in := sessionFixture(90 * time.Second)
			in.Traces[0].Spans = order(in.Traces[0].Spans)
			x := NewIndex(in.Traces)

			var root *telemetry.Span
			for _, r := range x.Requests() {
				if r.Client.SpanID == hex(11, 16) {
					root = r.ServerRoot
				}
			}
			require.NotNil(t, root)
			assert.Equal(t, "svc-a", root.Service, "the earliest backend child is the request's server span")

			tl := BuildTimeline(in)
			assert.Same(t, root, tl.Requests[0].ServerRoot, "the timeline reads the same join")
			assert.Equal(t, 90*time.Second, tl.ClockOffset)
			assert.Equal(t, x.Offset(sid), ClockOffset{Offset: tl.ClockOffset, Samples: tl.OffsetSamples})

			sums := SummarizeSessions(x)
			require.NotEmpty(t, sums)
			for _, s := range sums {
				if s.SessionID == sid {
					assert.Equal(t, tl.Start, s.Start, "the sessions list and the timeline share the clock offset")
				}
			}
		})
	}
}

func TestIndexDeduplicatesAndAligns(t *testing.T) {
	in := sessionFixture(-7 * time.Minute)
	x := NewIndex(in.Traces)
	// 4 distinct spans in trace 1, 1 in trace 2, 1 of another session.
	assert.Len(t, x.Spans(), 6)
	for i := 1; i < len(x.Spans()); i++ {
		assert.False(t, x.Spans()[i].Start.Before(x.Spans()[i-1].Start), "start order")
	}
	c1 := x.Span(SpanRef{hex(1, 32), hex(11, 16)})
	require.NotNil(t, c1)
	assert.Equal(t, c1.Start.Add(7*time.Minute), x.AlignedStart(c1))
	s1 := x.Span(SpanRef{hex(1, 32), hex(12, 16)})
	assert.Equal(t, s1.Start, x.AlignedStart(s1), "backend spans are the reference clock")
	assert.Len(t, x.Subtree(s1), 2)
	assert.Zero(t, x.Offset("11111111111111111111111111111111").Samples, "a session with no backend pair has no estimate")

	dev := &in.Logs[1]
	assert.Equal(t, dev.Time.Add(7*time.Minute), AlignedLogTime(dev, -7*time.Minute))
	be := &in.Logs[0]
	assert.Equal(t, be.Time, AlignedLogTime(be, -7*time.Minute))
}
