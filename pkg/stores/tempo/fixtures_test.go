package tempo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
)

// The binary fixtures of testdata/otlp are generated here, from OTLP built
// with the collector's pdata: go test ./pkg/stores/tempo -run TestFixtures -update.

var (
	fixtureT0      = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	fixtureTraceID = pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	fixtureSession = "5e55104d0c0ffee0000000000000a11c"
)

func spanID(b byte) pcommon.SpanID { return pcommon.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, b} }

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(fixtureT0.Add(d)) }

// fixtureTrace is one session request: the app's tap and client span (device
// resource), the backend's server span and a database span (service
// resource). It uses every OTLP field the model keeps.
func fixtureTrace() ptrace.Traces {
	td := ptrace.NewTraces()

	app := td.ResourceSpans().AppendEmpty()
	ra := app.Resource().Attributes()
	ra.PutStr("service.name", "stitch-ios")
	ra.PutStr("service.version", "3.2.0+417")
	ra.PutStr("os.name", "iOS")
	ra.PutStr("os.version", "17.4")
	ra.PutStr("device.model.identifier", "iPhone15,2")
	ra.PutDouble("stitch.sampling.rate", 0.25)
	as := app.ScopeSpans().AppendEmpty()
	as.Scope().SetName("stitch.network")
	as.Scope().SetVersion("1.0.0")

	tap := as.Spans().AppendEmpty()
	tap.SetTraceID(fixtureTraceID)
	tap.SetSpanID(spanID(0x01))
	tap.SetName("tap checkout")
	tap.SetKind(ptrace.SpanKindInternal)
	tap.SetStartTimestamp(ts(0))
	tap.SetEndTimestamp(ts(900 * time.Millisecond))
	tap.Attributes().PutStr("session.id", fixtureSession)
	tap.Attributes().PutStr("stitch.action.name", "checkout")

	client := as.Spans().AppendEmpty()
	client.SetTraceID(fixtureTraceID)
	client.SetSpanID(spanID(0x02))
	client.SetParentSpanID(spanID(0x01))
	client.SetName("POST")
	client.SetKind(ptrace.SpanKindClient)
	client.SetStartTimestamp(ts(10 * time.Millisecond))
	client.SetEndTimestamp(ts(810 * time.Millisecond))
	client.Status().SetCode(ptrace.StatusCodeError)
	client.Status().SetMessage("bad gateway")
	client.TraceState().FromRaw("stitch=1")
	ca := client.Attributes()
	ca.PutStr("session.id", fixtureSession)
	ca.PutStr("http.request.method", "POST")
	ca.PutStr("url.template", "/v1/orders")
	ca.PutStr("server.address", "api.example.com")
	ca.PutInt("http.response.status_code", 502)
	ca.PutBool("stitch.retryable", true)
	ev := client.Events().AppendEmpty()
	ev.SetName("retry")
	ev.SetTimestamp(ts(400 * time.Millisecond))
	ev.Attributes().PutInt("n", 1)
	link := client.Links().AppendEmpty()
	link.SetTraceID(pcommon.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c})
	link.SetSpanID(spanID(0x99))
	link.Attributes().PutStr("link.reason", "previous attempt")

	api := td.ResourceSpans().AppendEmpty()
	api.Resource().Attributes().PutStr("service.name", "checkout-api")
	api.Resource().Attributes().PutStr("deployment.environment", "demo")
	bs := api.ScopeSpans().AppendEmpty()
	bs.Scope().SetName("net/http")

	server := bs.Spans().AppendEmpty()
	server.SetTraceID(fixtureTraceID)
	server.SetSpanID(spanID(0x03))
	server.SetParentSpanID(spanID(0x02))
	server.SetName("POST /v1/orders")
	server.SetKind(ptrace.SpanKindServer)
	server.SetStartTimestamp(ts(60 * time.Millisecond))
	server.SetEndTimestamp(ts(760 * time.Millisecond))
	server.Status().SetCode(ptrace.StatusCodeError)
	server.Attributes().PutStr("session.id", fixtureSession)
	server.Attributes().PutInt("http.response.status_code", 502)

	db := bs.Spans().AppendEmpty()
	db.SetTraceID(fixtureTraceID)
	db.SetSpanID(spanID(0x04))
	db.SetParentSpanID(spanID(0x03))
	db.SetName("SELECT orders")
	db.SetKind(ptrace.SpanKindClient)
	db.SetStartTimestamp(ts(100 * time.Millisecond))
	db.SetEndTimestamp(ts(700 * time.Millisecond))
	db.Status().SetCode(ptrace.StatusCodeOk)
	db.Attributes().PutStr("db.system", "postgresql")
	return td
}

// fixturePartialTrace is the part Tempo (2.7+) returns of a trace over
// max_bytes_per_trace: the backend spans only.
func fixturePartialTrace() ptrace.Traces {
	td := fixtureTrace()
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		v, _ := rs.Resource().Attributes().Get("service.name")
		return v.Str() == "stitch-ios"
	})
	return td
}

// encodeTraceByIDResponse writes Tempo's v2 wrapper (field numbers as in
// trace.go): trace, metrics (an opaque message, to prove it is skipped),
// status, message. Proto3 leaves a zero status out.
func encodeTraceByIDResponse(trace []byte, partial bool, message string) []byte {
	var b []byte
	b = protowire.AppendTag(b, wrapperFieldTrace, protowire.BytesType)
	b = protowire.AppendBytes(b, trace)
	var metrics []byte
	metrics = protowire.AppendTag(metrics, 1, protowire.VarintType)
	metrics = protowire.AppendVarint(metrics, 1234)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, metrics)
	if partial {
		b = protowire.AppendTag(b, wrapperFieldStatus, protowire.VarintType)
		b = protowire.AppendVarint(b, statusPartial)
	}
	if message != "" {
		b = protowire.AppendTag(b, wrapperFieldMessage, protowire.BytesType)
		b = protowire.AppendString(b, message)
	}
	return b
}

func marshalTraces(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return b
}

// generatedFixtures is every binary fixture, by testdata path.
func generatedFixtures(t *testing.T) map[string][]byte {
	full := marshalTraces(t, fixtureTrace())
	return map[string][]byte{
		"otlp/trace_v1.pb":          full,
		"otlp/trace_v2_complete.pb": encodeTraceByIDResponse(full, false, ""),
		"otlp/trace_v2_partial.pb": encodeTraceByIDResponse(marshalTraces(t, fixturePartialTrace()), true,
			"Trace exceeds maximum size of 5000000 bytes, a partial trace is returned"),
		"otlp/trace_v2_empty.pb": encodeTraceByIDResponse(nil, false, ""),
	}
}

// The committed binary fixtures are what the generator writes: a change to
// the generator without -update, or a hand-edited fixture, fails here.
func TestFixturesMatchTheirGenerator(t *testing.T) {
	for name, want := range generatedFixtures(t) {
		path := filepath.Join("testdata", name)
		if *contracttest.Update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./pkg/stores/tempo -run TestFixtures -update")
		require.True(t, bytes.Equal(want, got), "%s differs from its generator; rerun with -update", path)
	}
}
