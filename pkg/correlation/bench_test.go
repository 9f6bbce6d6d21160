package correlation_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/frames"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// syntheticSession builds one session of about n spans: actions, each with
// client requests, each with a backend trace of several spans, and a log
// record per backend span. Shapes only; no names from any demo.
func syntheticSession(n int) (string, []telemetry.Trace, []telemetry.LogRecord) {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	id := func(bytes int) string {
		b := make([]byte, bytes)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return hex.EncodeToString(b)
	}
	sid := id(16)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	skew := 42 * time.Second
	device := telemetry.Attrs{{Key: schema.AttrServiceName, Value: "app"}, {Key: schema.AttrServiceVersion, Value: "1.0.0"},
		{Key: schema.AttrOSName, Value: "iOS"}, {Key: schema.AttrOSVersion, Value: "17.4"}, {Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}}
	sess := telemetry.KV{Key: schema.AttrSessionID, Value: sid}
	var traces []telemetry.Trace
	var logs []telemetry.LogRecord
	spans := 0
	for a := 0; spans < n; a++ {
		at := t0.Add(time.Duration(a) * 3 * time.Second)
		actionTrace, actionSpan := id(16), id(8)
		traces = append(traces, telemetry.Trace{TraceID: actionTrace, Spans: []telemetry.Span{{
			TraceID: actionTrace, SpanID: actionSpan, Name: "tap", Service: "app", Kind: telemetry.KindInternal, Start: at.Add(skew), Duration: 2 * time.Second,
			Attributes: telemetry.Attrs{sess, {Key: schema.AttrStitchActionName, Value: "tap"}}, Resource: device}}})
		spans++
		for r := 0; r < 3 && spans < n; r++ {
			tr := &traces[len(traces)-1]
			client := id(8)
			cs := at.Add(time.Duration(r) * 500 * time.Millisecond)
			tr.Spans = append(tr.Spans, telemetry.Span{TraceID: actionTrace, SpanID: client, ParentSpanID: actionSpan, Name: "GET", Service: "app",
				Kind: telemetry.KindClient, Start: cs.Add(skew), Duration: 400 * time.Millisecond,
				Attributes: telemetry.Attrs{sess, {Key: schema.AttrURLTemplate, Value: "/items/{id}"}, {Key: schema.AttrHTTPResponseStatusCode, Value: "200"}}, Resource: device})
			spans++
			parent := client
			for b := 0; b < 6 && spans < n; b++ {
				sp := id(8)
				tr.Spans = append(tr.Spans, telemetry.Span{TraceID: actionTrace, SpanID: sp, ParentSpanID: parent, Name: fmt.Sprintf("op%d", b),
					Service: fmt.Sprintf("svc%d", b%3), Kind: telemetry.KindServer, Start: cs.Add(time.Duration(50+b*10) * time.Millisecond),
					Duration: time.Duration(300-b*40) * time.Millisecond, Attributes: telemetry.Attrs{sess}, Resource: telemetry.Attrs{{Key: "service.name", Value: "svc"}}})
				logs = append(logs, telemetry.LogRecord{Time: cs.Add(60 * time.Millisecond), TraceID: actionTrace, SpanID: sp, Service: "svc", Severity: "INFO", Body: "handled"})
				parent = sp
				spans++
			}
		}
	}
	return sid, traces, logs
}

// toOTLP encodes the same spans as OTLP protobuf: the decoding reference.
func toOTLP(traces []telemetry.Trace) []byte {
	td := ptrace.NewTraces()
	for _, t := range traces {
		rs := td.ResourceSpans().AppendEmpty()
		ss := rs.ScopeSpans().AppendEmpty()
		for _, s := range t.Spans {
			sp := ss.Spans().AppendEmpty()
			var tid pcommon.TraceID
			var sid, pid pcommon.SpanID
			hex.Decode(tid[:], []byte(s.TraceID))
			hex.Decode(sid[:], []byte(s.SpanID))
			sp.SetTraceID(tid)
			sp.SetSpanID(sid)
			if s.ParentSpanID != "" {
				hex.Decode(pid[:], []byte(s.ParentSpanID))
				sp.SetParentSpanID(pid)
			}
			sp.SetName(s.Name)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.Start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.End()))
			for _, kv := range s.Attributes {
				sp.Attributes().PutStr(kv.Key, kv.Value)
			}
			for _, kv := range s.Resource {
				// Resource attributes per span, as a store returns them per trace.
				sp.Attributes().PutStr("resource."+kv.Key, kv.Value)
			}
		}
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		panic(err)
	}
	return b
}

func countSpans(traces []telemetry.Trace) int {
	n := 0
	for _, t := range traces {
		n += len(t.Spans)
	}
	return n
}

// BenchmarkJoinAndFrames measures the join and all three frames of one
// session; BenchmarkDecodeOTLP decodes the same spans from OTLP protobuf in
// the same run, as the reference. The ratio is written by `mage bench`.
func BenchmarkJoinAndFrames(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		sid, traces, logs := syntheticSession(n)
		spans := countSpans(traces)
		b.Run(fmt.Sprintf("spans=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tl := correlation.BuildTimeline(correlation.Input{SessionID: sid, Traces: traces, Logs: logs})
				_ = frames.Timeline(tl, frames.Links{})
				_ = frames.Waterfall(tl, frames.Links{})
				_ = frames.Logs(tl, frames.Links{})
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			// The whole query's work: the join and all three frames.
			all := func() {
				tl := correlation.BuildTimeline(correlation.Input{SessionID: sid, Traces: traces, Logs: logs})
				_ = frames.Timeline(tl, frames.Links{})
				_ = frames.Waterfall(tl, frames.Links{})
				_ = frames.Logs(tl, frames.Links{})
			}
			b.ReportMetric(testing.AllocsPerRun(1, all)/float64(spans), "allocs/span")
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			all()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(spans), "B/span")
		})
	}
}

func BenchmarkDecodeOTLP(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		_, traces, _ := syntheticSession(n)
		spans := countSpans(traces)
		buf := toOTLP(traces)
		b.Run(fmt.Sprintf("spans=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			u := &ptrace.ProtoUnmarshaler{}
			for b.Loop() {
				if _, err := u.UnmarshalTraces(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

func TestSyntheticSessionJoinsCompletely(t *testing.T) {
	sid, traces, logs := syntheticSession(2000)
	tl := correlation.BuildTimeline(correlation.Input{SessionID: sid, Traces: traces, Logs: logs})
	for _, r := range tl.Requests {
		if r.ServerRoot == nil {
			t.Fatalf("request %s has no backend", r.Client.SpanID)
		}
	}
	if tl.ClockOffset != 42*time.Second {
		t.Fatalf("offset %s", tl.ClockOffset)
	}
	if f := frames.Waterfall(tl, frames.Links{}); f.Rows() != countSpans(traces)+1 {
		t.Fatalf("waterfall rows %d, want %d", f.Rows(), countSpans(traces)+1)
	}
}
