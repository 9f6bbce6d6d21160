package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Peak heap of store reads against stores that send the largest body
// Stitch accepts (storehttp.MaxBodyBytes): a valid answer, and garbage. Run:
//
//	go test ./pkg/plugin -run '^$' -bench PeakHeap -benchtime 1x
//
// peak-heap-MiB is the highest heap (live and not yet collected objects,
// sampled from runtime/metrics every 200µs) above the heap before the reads
// (which holds the store's body); result-MiB is what the decoded results of
// the reads keep alive; peak/result is the ratio of the two.

// bodySize is just under the cap, so every valid body is read whole.
const bodySize = storehttp.MaxBodyBytes - 4096

const hugeTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// repeatToSize writes head, then item(i) for i = 0, 1, ... while the body
// stays under size with tail after it.
func repeatToSize(size int, head, sep, tail string, item func(i int) string) []byte {
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head)
	for i := 0; ; i++ {
		s := item(i)
		if b.Len()+len(sep)+len(s)+len(tail) > size {
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	b.WriteString(tail)
	return b.Bytes()
}

func jaegerTraceBody() []byte {
	return repeatToSize(bodySize, `{"data":[{"traceID":"`+hugeTraceID+`","processes":{"p1":{"serviceName":"api","tags":[{"key":"host","type":"string","value":"h1"}]}},"spans":[`, ",", `]}]}`,
		func(i int) string {
			return fmt.Sprintf(`{"traceID":"%s","spanID":"%016x","operationName":"GET /items/{id}","references":[{"refType":"CHILD_OF","traceID":"%s","spanID":"%016x"}],"startTime":1714557600000000,"duration":1500,"tags":[{"key":"http.request.method","type":"string","value":"GET"},{"key":"http.response.status_code","type":"int64","value":200},{"key":"url.template","type":"string","value":"/items/{id}"}],"logs":[],"processID":"p1"}`,
				hugeTraceID, i+1, hugeTraceID, i/10+1)
		})
}

// tempoTraceBody is a v2 trace-by-ID answer: the wrapper's trace field
// holds many ResourceSpans (a repeated field, so copies concatenate).
func tempoTraceBody() []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	ss := rs.ScopeSpans().AppendEmpty()
	tid := pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	for i := 0; i < 1000; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		sp.SetSpanID(sid)
		sp.SetName("GET /items/{id}")
		sp.SetStartTimestamp(pcommon.Timestamp(1714557600000000000 + i))
		sp.SetEndTimestamp(pcommon.Timestamp(1714557600001500000 + i))
		sp.Attributes().PutStr("http.request.method", "GET")
		sp.Attributes().PutInt("http.response.status_code", 200)
		sp.Attributes().PutStr("url.template", "/items/{id}")
	}
	chunk, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		panic(err)
	}
	n := (bodySize - 16) / len(chunk)
	trace := bytes.Repeat(chunk, n)
	out := binary.AppendUvarint([]byte{0x0a}, uint64(len(trace)))
	return append(out, trace...)
}

func victoriaLogsBody() []byte {
	return repeatToSize(bodySize, "", "\n", "\n", func(i int) string {
		return fmt.Sprintf(`{"_msg":"request %d served","_stream":"{service.name=\"api\"}","_time":"2024-05-01T10:00:00.%09dZ","service.name":"api","severity_text":"INFO","trace_id":"%s","span_id":"%016x","session.id":"%s"}`,
			i, i%1e9, hugeTraceID, i+1, goldenSession)
	})
}

func lokiBody() []byte {
	// Loki answers at most 5000 entries: long lines fill the cap.
	line := strings.Repeat("x", bodySize/5000-200)
	return repeatToSize(bodySize, `{"status":"success","data":{"resultType":"streams","result":[{"stream":{"service_name":"api"},"values":[`, ",", `]}]}}`,
		func(i int) string {
			return fmt.Sprintf(`["%d","%s",{"structuredMetadata":{"trace_id":"%s"}}]`, 1714557600000000000+i, line, hugeTraceID)
		})
}

func garbageBody() []byte {
	b := bytes.Repeat([]byte("\x00\x01 not an API answer "), storehttp.MaxBodyBytes/20+1)
	return b[:storehttp.MaxBodyBytes]
}

// hugeStore serves body for every path but the few small answers a read
// needs first (Jaeger's service list).
func hugeStore(b *testing.B, body []byte, ctype string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/services" {
			fmt.Fprint(w, `{"data":["api"]}`)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func hugeDatasource(b *testing.B, kind settings.Kind, role settings.Role, url string) *Datasource {
	raw, _ := json.Marshal(map[string]any{string(role): map[string]any{"kind": kind, "url": url, "timeoutSeconds": 120}})
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "stitch", JSONData: raw})
	if err != nil {
		b.Fatal(err)
	}
	ds := inst.(*Datasource)
	if ds.settingsErr != nil {
		b.Fatal(ds.settingsErr)
	}
	b.Cleanup(ds.Dispose)
	return ds
}

// storeRead is one read of a store as the engine makes it; it returns what
// the adapter decoded, so that the caller can measure it.
type storeRead func(ctx context.Context, ds *Datasource) (any, error)

func readTrace(ctx context.Context, ds *Datasource) (any, error) {
	return ds.traces.Trace(ctx, hugeTraceID, t0.Add(-time.Hour), t0)
}

func readLogs(ctx context.Context, ds *Datasource) (any, error) {
	return ds.logs.SearchLogs(ctx, stores.LogSearch{SessionID: goldenSession, Start: t0.Add(-time.Hour), End: t0, Limit: 1 << 30})
}

// peakHeap samples the heap until stop is called and returns the highest
// value seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

const mib = 1 << 20

func BenchmarkStoreReadPeakHeap(b *testing.B) {
	cases := []struct {
		name  string
		kind  settings.Kind
		role  settings.Role
		body  func() []byte
		ctype string
		read  storeRead
	}{
		{"jaeger-trace", settings.KindJaeger, settings.RoleTraces, jaegerTraceBody, "application/json", readTrace},
		{"tempo-trace", settings.KindTempo, settings.RoleTraces, tempoTraceBody, "application/protobuf", readTrace},
		{"victorialogs-logs", settings.KindVictoriaLogs, settings.RoleLogs, victoriaLogsBody, "application/stream+json", readLogs},
		{"loki-logs", settings.KindLoki, settings.RoleLogs, lokiBody, "application/json", readLogs},
	}
	for _, c := range cases {
		for _, garbage := range []bool{false, true} {
			what := "valid"
			if garbage {
				what = "garbage"
			}
			for _, queries := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/queries=%d", c.name, what, queries), func(b *testing.B) {
					body := garbageBody()
					if !garbage {
						body = c.body()
					}
					ds := hugeDatasource(b, c.kind, c.role, hugeStore(b, body, c.ctype))
					ctx := context.Background()
					// What one read's decoded result keeps alive.
					var result uint64
					if !garbage {
						before := heapNow()
						r, err := c.read(ctx, ds)
						if err != nil {
							b.Fatal(err)
						}
						after := heapNow()
						runtime.KeepAlive(r)
						result = (after - before) * uint64(queries)
					}
					b.ResetTimer()
					var peak uint64
					for i := 0; i < b.N; i++ {
						base := heapNow()
						stop := peakHeap()
						results := make([]any, queries)
						var wg sync.WaitGroup
						for q := 0; q < queries; q++ {
							wg.Add(1)
							go func() {
								defer wg.Done()
								r, err := c.read(ctx, ds)
								if garbage != (err != nil) {
									b.Errorf("garbage %v, error %v", garbage, err)
								}
								results[q] = r
							}()
						}
						wg.Wait()
						p := stop()
						runtime.KeepAlive(results)
						if p > base && p-base > peak {
							peak = p - base
						}
					}
					b.ReportMetric(float64(len(body))/mib, "body-MiB")
					b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
					if result > 0 {
						b.ReportMetric(float64(result)/mib, "result-MiB")
						b.ReportMetric(float64(peak)/float64(result), "peak/result")
					}
				})
			}
		}
	}
}
