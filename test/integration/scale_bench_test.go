//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/stack"
	"github.com/stitch-observability/stitch/pkg/plugin"
)

// otlpSession is one session as OTLP/HTTP JSON request bodies: traces of an
// app action, its client request and a chain of backend spans spread over
// backends services, every span carrying the session. Shapes only; no
// names from any demo.
func otlpSession(sid string, traces, spansPerTrace, backends int, at time.Time) []string {
	const perBody = 50 // traces per request, so a body stays a few MB
	var bodies []string
	for first := 0; first < traces; first += perBody {
		bySvc := map[string][]string{}
		for t := first; t < min(first+perBody, traces); t++ {
			trace := fmt.Sprintf("%s%08x", sid[:24], t)
			ts := at.Add(time.Duration(t) * 50 * time.Millisecond)
			span := func(svc string, n int, parent string, kind int, start time.Time, d time.Duration, attrs string) string {
				id := fmt.Sprintf("%08x%08x", t, n)
				p := ""
				if parent != "" {
					p = fmt.Sprintf(`"parentSpanId":"%s",`, parent)
				}
				bySvc[svc] = append(bySvc[svc], fmt.Sprintf(`{"traceId":"%s","spanId":"%s",%s"name":"op%d","kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[{"key":"session.id","value":{"stringValue":"%s"}}%s]}`,
					trace, id, p, n%7, kind, start.UnixNano(), start.Add(d).UnixNano(), sid, attrs))
				return id
			}
			action := span("bench-app", 0, "", 1, ts, 40*time.Millisecond, `,{"key":"stitch.action.name","value":{"stringValue":"tap"}}`)
			parent := span("bench-app", 1, action, 3, ts.Add(time.Millisecond), 30*time.Millisecond, `,{"key":"url.template","value":{"stringValue":"/items/{id}"}}`)
			for n := 2; n < spansPerTrace; n++ {
				parent = span(fmt.Sprintf("bench-svc-%d", (n-2)%backends), n, parent, 2, ts.Add(time.Duration(n)*time.Millisecond), 20*time.Millisecond, "")
			}
		}
		var sb strings.Builder
		sb.WriteString(`{"resourceSpans":[`)
		i := 0
		for svc, spans := range bySvc {
			if i > 0 {
				sb.WriteByte(',')
			}
			i++
			res := fmt.Sprintf(`{"key":"service.name","value":{"stringValue":"%s"}}`, svc)
			if svc == "bench-app" {
				res += `,{"key":"device.model.identifier","value":{"stringValue":"iPhone15,2"}},{"key":"service.version","value":{"stringValue":"1.0.0"}},{"key":"os.name","value":{"stringValue":"iOS"}}`
			}
			fmt.Fprintf(&sb, `{"resource":{"attributes":[%s]},"scopeSpans":[{"spans":[%s]}]}`, res, strings.Join(spans, ","))
		}
		sb.WriteString(`]}`)
		bodies = append(bodies, sb.String())
	}
	return bodies
}

// extraServices registers n services in Jaeger, a two-span trace each, none
// of them carrying a session: the services a busy store knows besides the
// app's and its backends.
func extraServices(first, n int, at time.Time) string {
	var sb strings.Builder
	sb.WriteString(`{"resourceSpans":[`)
	for i := first; i < first+n; i++ {
		if i > first {
			sb.WriteByte(',')
		}
		ts := at.Add(time.Duration(i) * time.Millisecond).UnixNano()
		fmt.Fprintf(&sb, `{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bench-extra-%03d"}}]},"scopeSpans":[{"spans":[`+
			`{"traceId":"%032x","spanId":"%016x","name":"job","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"},`+
			`{"traceId":"%032x","spanId":"%016x","parentSpanId":"%016x","name":"step","kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}`,
			i, 0xe0000+i, 2*i+1, ts, ts+int64(time.Millisecond), 0xe0000+i, 2*i+2, 2*i+1, ts, ts+int64(time.Millisecond/2))
	}
	sb.WriteString(`]}`)
	return sb.String()
}

func postOTLP(b *testing.B, url, body string) {
	b.Helper()
	resp, err := http.Post(url+"/v1/traces", "application/json", strings.NewReader(body))
	require.NoError(b, err)
	resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
}

func jaegerServices(b *testing.B, url string) int { return len(jaegerServiceNames(b, url)) }

func jaegerServiceNames(b *testing.B, url string) []string {
	var out struct {
		Data []string `json:"data"`
	}
	resp, err := http.Get(url + "/api/services")
	require.NoError(b, err)
	defer resp.Body.Close()
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&out))
	return out.Data
}

// privateJaeger starts a Jaeger of the benchmark's own, so the services it
// registers never reach the shared stack.
func privateJaeger(b *testing.B) *stack.Stack {
	ports, err := stack.FreePorts()
	require.NoError(b, err)
	j, err := stack.Start(context.Background(), stack.Options{Dir: b.TempDir(), Ports: ports, Only: []string{"jaeger"}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = j.Stop(nil) })
	return j
}

// BenchmarkSessionServices measures a session timeline through the plugin
// over gRPC with 10 and then 300 services in the trace store: the session
// (40 traces over the app and 9 backends) is the same; 290 services that
// have nothing of it are added between the two. The cost should not depend
// on the services the store knows.
func BenchmarkSessionServices(b *testing.B) {
	j := privateJaeger(b)
	at := time.Now().Add(-10 * time.Minute)
	sid := "5e55105e55105e55105e55105e551050"
	for _, body := range otlpSession(sid, 40, 12, 9, at) {
		postOTLP(b, j.JaegerOTLPHTTPURL(), body)
	}
	inst := newInstance(b, map[string]any{"traces": storeJSON("jaeger", j.JaegerURL())}, nil)
	q, err := pluginharness.Query("A", map[string]any{"queryType": "sessionTimeline", "sessionId": sid}, at.Add(-time.Minute), time.Now().Add(time.Minute))
	require.NoError(b, err)
	rows := func() int {
		res, err := grafana.QueryData(context.Background(), inst, q)
		if err != nil || res.Responses["A"].Error != nil {
			return -1
		}
		if f := frameByName(res.Responses["A"].Frames, "waterfall"); f != nil {
			return f.Rows()
		}
		return -1
	}
	want := 1 + 40*12
	for _, n := range []int{10, 300} {
		if n > 10 {
			// The session's 10 services are in (checked below for n = 10).
			postOTLP(b, j.JaegerOTLPHTTPURL(), extraServices(0, n-10, at))
		}
		var gotServices, gotRows int
		deadline := time.Now().Add(30 * time.Second)
		for gotServices, gotRows = jaegerServices(b, j.JaegerURL()), rows(); gotServices != n || gotRows != want; gotServices, gotRows = jaegerServices(b, j.JaegerURL()), rows() {
			if time.Now().After(deadline) {
				b.Fatalf("%d services, the whole session queryable: last %d services %v, %d waterfall rows (want %d)", n, gotServices, jaegerServiceNames(b, j.JaegerURL()), gotRows, want)
			}
			time.Sleep(250 * time.Millisecond)
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for b.Loop() {
				if got := rows(); got != want {
					b.Fatalf("waterfall rows %d, want %d", got, want)
				}
			}
		})
	}
}

// heapInUse is the bytes of heap objects now, garbage not yet swept
// included: what the process holds.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkSessionPeakHeap measures the plugin's heap over one
// sessionTimeline query of a 10⁴-span session, in process: the store
// answers decoded, the join, the frames and their Arrow encoding (what the
// plugin sends Grafana). Heap in use is sampled every 100 µs during the
// query; peak-heap-B is its highest rise over the heap before (the
// handler and the SDK's Arrow encoding), handler-peak-heap-B the same up
// to the handler's return, response-B the Arrow bytes sent.
func BenchmarkSessionPeakHeap(b *testing.B) {
	j := privateJaeger(b)
	at := time.Now().Add(-10 * time.Minute)
	sid := "9ea4000009ea4000009ea4000009ea40"
	const traces, perTrace = 400, 25 // 10⁴ spans, under the 500-trace session cap
	for _, body := range otlpSession(sid, traces, perTrace, 9, at) {
		postOTLP(b, j.JaegerOTLPHTTPURL(), body)
	}
	raw, err := json.Marshal(map[string]any{"traces": storeJSON("jaeger", j.JaegerURL())})
	require.NoError(b, err)
	inst, err := plugin.NewDatasource(context.Background(), backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(b, err)
	ds := inst.(*plugin.Datasource)
	b.Cleanup(ds.Dispose)
	q, err := pluginharness.Query("A", map[string]any{"queryType": "sessionTimeline", "sessionId": sid}, at.Add(-time.Minute), time.Now().Add(time.Minute))
	require.NoError(b, err)
	// query runs the handler, calls handled, then encodes the frames.
	query := func(handled func()) (int, int) {
		res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		handled()
		require.NoError(b, err)
		r := res.Responses["A"]
		require.NoError(b, r.Error)
		arrow, err := r.Frames.MarshalArrow()
		require.NoError(b, err)
		n := 0
		for _, a := range arrow {
			n += len(a)
		}
		rows := 0
		if f := frameByName(r.Frames, "waterfall"); f != nil {
			rows = f.Rows()
		}
		return n, rows
	}
	require.Eventually(b, func() bool { _, rows := query(func() {}); return rows == 1+traces*perTrace }, 60*time.Second, 500*time.Millisecond, "the whole session queryable")

	var peak, handlerPeak, response, allocs uint64
	for b.Loop() {
		runtime.GC()
		before := heapInUse()
		var max atomic.Uint64
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(100 * time.Microsecond)
			defer t.Stop()
			for {
				if h := heapInUse(); h > max.Load() {
					max.Store(h)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		n, _ := query(func() {
			if h := heapInUse(); h > max.Load() {
				max.Store(h)
			}
			if rise := max.Load() - min(before, max.Load()); rise > handlerPeak {
				handlerPeak = rise
			}
		})
		runtime.ReadMemStats(&ms1)
		close(stop)
		<-done
		if h := heapInUse(); h > max.Load() {
			max.Store(h)
		}
		if rise := max.Load() - min(before, max.Load()); rise > peak {
			peak = rise
		}
		response = uint64(n)
		allocs += ms1.TotalAlloc - ms0.TotalAlloc
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(handlerPeak), "handler-peak-heap-B")
	b.ReportMetric(float64(response), "response-B")
	b.ReportMetric(float64(peak)/float64(response), "peak/response")
	b.ReportMetric(float64(handlerPeak)/float64(response), "handler-peak/response")
	b.ReportMetric(float64(allocs)/float64(b.N), "alloc-B/op")
}
