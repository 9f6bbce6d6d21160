//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/stack"
	"github.com/stitch-observability/stitch/pkg/schema"
)

// The reference pipeline (deploy/collector) in front of the real stores:
// its persistent queue across a store outage, its tail sampling, its
// redaction and its request histograms, each against the ground truth.

func requireCollector(t *testing.T) {
	t.Helper()
	require.True(t, theStack.HasCollector(), "the stack runs the collector in front of its stores")
}

// TestCollectorQueueSurvivesALogStoreOutage stops VictoriaLogs (by the PID
// the stack recorded) for 60 s while a world sends through the collector,
// starts it again, and proves that every store holds exactly what the
// ground truth says: the collector's persistent queue lost nothing and
// delivered nothing twice.
func TestCollectorQueueSurvivesALogStoreOutage(t *testing.T) {
	requireCollector(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	proc := theStack.Processes[slices.IndexFunc(theStack.Processes, func(p stack.Process) bool { return p.Name == "victorialogs" })]
	require.NoError(t, stack.StopProcess(proc, 10*time.Second))
	stopped := time.Now()
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			require.NoError(t, theStack.Restart(context.Background(), "victorialogs", logWriter{t}))
		}
	}
	t.Cleanup(restart) // whatever happens, the store comes back
	t.Logf("victorialogs (pid %d) stopped", proc.PID)

	seed := time.Now().UnixNano() % 1_000_000_007
	gt, err := demoworld.Run(ctx, demoworld.Config{Seed: seed, Sessions: 8, OutDir: t.TempDir()}, worldTargets(), logWriter{t})
	require.NoError(t, err, "the senders never see the outage: the collector accepts everything")
	require.True(t, gt.Collector)
	sent := time.Since(stopped)
	require.Less(t, sent, 55*time.Second, "the world finished sending while the store was still down")

	// The store is still down: nothing of the run can be there yet.
	time.Sleep(time.Until(stopped.Add(60 * time.Second)))
	restart()
	t.Logf("victorialogs down for %s; the world finished sending after %s", time.Since(stopped).Round(time.Second), sent.Round(time.Second))

	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	arrival, err := demoworld.ProveArrival(pctx, gt, worldTargets(), logWriter{t})
	require.NoError(t, err, "failed checks: %+v", arrival.Failed())
	logs := 0
	for _, c := range arrival.Checks {
		if c.Store == "victorialogs" && strings.HasPrefix(c.What, "log records of ") {
			logs += c.Got
		}
	}
	assert.Positive(t, logs, "log records were queued through the outage")

	// Nothing twice: every stored record of the run is distinct.
	rows := logsQL(t, ctx, demoworld.TagRunID+`:=`+strconv.Quote(gt.Run.ID)+` | stats by (_time, _msg, trace_id, span_id, service.name) count() n | filter n:>1`)
	assert.Empty(t, rows, "duplicated log records")
}

// TestCollectorTailSamplingFollowsTheSchema: a session the schema samples
// out keeps only the traces of its errors and slow requests, device and
// backend spans alike; a sampled session keeps everything; the plugin's
// timeline shows why each kept request of the sampled-out session is there.
func TestCollectorTailSamplingFollowsTheSchema(t *testing.T) {
	requireCollector(t)
	gt := sharedWorld(t)
	require.True(t, gt.Collector)
	ctx := testContext(t)
	from, to := worldRange(gt)

	// What Jaeger holds for a session, by trace: span IDs per service.
	stored := func(t *testing.T, session string) map[string]map[string][]string {
		out := map[string]map[string][]string{}
		services := append([]string{demoworld.AppServiceName}, "gateway", "orders", "inventory", "payments")
		for _, svc := range services {
			tags, _ := json.Marshal(map[string]string{"session.id": session})
			q := url.Values{"service": {svc}, "tags": {string(tags)}, "limit": {"1000"},
				"start": {strconv.FormatInt(from.UnixMicro(), 10)}, "end": {strconv.FormatInt(to.UnixMicro(), 10)}}
			var resp struct {
				Data []jTrace `json:"data"`
			}
			storeGet(t, ctx, theStack.JaegerURL()+"/api/traces?"+q.Encode(), &resp)
			for _, tr := range resp.Data {
				for _, s := range tr.Spans {
					if out[s.TraceID] == nil {
						out[s.TraceID] = map[string][]string{}
					}
					name := tr.Processes[s.ProcessID].ServiceName
					if !slices.Contains(out[s.TraceID][name], s.SpanID) {
						out[s.TraceID][name] = append(out[s.TraceID][name], s.SpanID)
					}
				}
			}
		}
		return out
	}
	backendCount := func(byService map[string][]string) map[string]int {
		n := map[string]int{}
		for svc, ids := range byService {
			if svc != demoworld.AppServiceName {
				n[svc] = len(ids)
			}
		}
		return n
	}

	require.NotEmpty(t, gt.Faults.SampledOut.Sessions)
	out := gt.Faults.SampledOut.Sessions[0]
	t.Run("sampled-out session: only its error and slow requests, device and backend", func(t *testing.T) {
		got := stored(t, out)
		wantDevice := map[string]bool{}
		wantBackend := map[string]map[string]int{} // trace → service → spans
		kept, dropped := 0, 0
		for _, a := range gt.Actions {
			if a.SessionID == out && a.Exported {
				wantDevice[a.SpanID] = true
			}
		}
		for _, r := range gt.Requests {
			if r.SessionID != out {
				continue
			}
			for _, at := range r.Attempts {
				if at.Exported {
					wantDevice[at.ClientSpanID] = true
					assert.Contains(t, []string{"error", "latency"}, at.SamplingReason)
				}
				switch at.TailSampling {
				case demoworld.TailKept:
					kept++
					if wantBackend[r.TraceID] == nil {
						wantBackend[r.TraceID] = map[string]int{}
					}
					for svc, n := range at.BackendSpans {
						wantBackend[r.TraceID][svc] += n
					}
				case demoworld.TailDropped:
					dropped++
					assert.NotContains(t, got, r.TraceID, "request %s: its trace is dropped whole", r.ID)
				}
			}
		}
		require.Positive(t, kept, "the world has kept requests in a sampled-out session")
		require.Positive(t, dropped, "the world has dropped requests in a sampled-out session")
		gotDevice := map[string]bool{}
		for traceID, byService := range got {
			for _, id := range byService[demoworld.AppServiceName] {
				gotDevice[id] = true
			}
			if n := backendCount(byService); len(n) > 0 {
				assert.Equal(t, wantBackend[traceID], n, "backend spans of kept trace %s", traceID)
			}
		}
		assert.Equal(t, wantDevice, gotDevice, "device spans: exactly those the device kept")
		for traceID := range wantBackend {
			assert.Contains(t, got, traceID)
		}
	})

	t.Run("sampled session: everything", func(t *testing.T) {
		var sess *demoworld.SessionTruth
		for _, s := range gt.Sessions {
			if s.Sampled && s.Requests > 0 {
				sess = s
				break
			}
		}
		require.NotNil(t, sess)
		got := stored(t, sess.ID)
		want := map[string]map[string]int{}
		devices := 0
		for _, r := range gt.Requests {
			if r.SessionID != sess.ID {
				continue
			}
			for _, at := range r.Attempts {
				assert.True(t, at.Exported)
				assert.Empty(t, at.TailSampling)
				devices++
				if at.Propagation != demoworld.PropagationPropagated {
					continue
				}
				if want[r.TraceID] == nil {
					want[r.TraceID] = map[string]int{}
				}
				for svc, n := range at.BackendSpans {
					want[r.TraceID][svc] += n
				}
			}
		}
		gotDevices := 0
		for traceID, byService := range got {
			gotDevices += len(byService[demoworld.AppServiceName])
			if w, ok := want[traceID]; ok {
				assert.Equal(t, w, backendCount(byService), "backend spans of trace %s", traceID)
			}
		}
		for traceID := range want {
			assert.Contains(t, got, traceID)
		}
		actions := 0
		for _, a := range gt.Actions {
			if a.SessionID == sess.ID {
				actions++
			}
		}
		assert.Equal(t, devices+actions, gotDevices, "every action and client span of the session")
	})

	t.Run("the plugin's timeline of the sampled-out session", func(t *testing.T) {
		inst := newInstance(t, stackSettings(), nil)
		res, err := grafana.QueryData(ctx, inst, worldQuery(t, gt, map[string]any{"queryType": "sessionTimeline", "sessionId": out}))
		require.NoError(t, err)
		r := res.Responses["A"]
		require.NoError(t, r.Error)
		tl := frameByName(r.Frames, "timeline")
		require.NotNil(t, tl)
		layer, spanID, traceID, body, attrs := column(t, tl, "layer"), column(t, tl, "spanId"), column(t, tl, "traceId"), column(t, tl, "body"), column(t, tl, "attributes")
		clients := map[string]int{}
		backend := map[string]int{}
		for i := 0; i < tl.Rows(); i++ {
			switch layer.At(i) {
			case "client":
				clients[spanID.At(i).(string)] = i
			case "server":
				backend[traceID.At(i).(string)]++
			}
		}
		for _, req := range gt.Requests {
			if req.SessionID != out {
				continue
			}
			for _, at := range req.Attempts {
				row, shown := clients[at.ClientSpanID]
				require.Equal(t, at.Exported, shown, "request %s: shown exactly when the device kept it", req.ID)
				if !shown {
					continue
				}
				var a map[string]any
				require.NoError(t, json.Unmarshal(attrs.At(row).(json.RawMessage), &a))
				assert.Equal(t, at.SamplingReason, fmt.Sprint(a[schema.AttrStitchSamplingReason]), "why the request of a sampled-out session is kept")
				switch at.Propagation {
				case demoworld.PropagationPropagated:
					assert.Equal(t, demoworld.TailKept, at.TailSampling)
					assert.Empty(t, body.At(row), "request %s: kept whole by tail sampling, nothing missing", req.ID)
					assert.Positive(t, backend[req.TraceID], "request %s: its backend spans are in the timeline", req.ID)
				case demoworld.PropagationStripped:
					assert.Contains(t, body.At(row), "no backend trace", "request %s: the host dropped traceparent", req.ID)
				default:
					assert.Contains(t, body.At(row), "sampled out", "request %s says why its backend trace is missing", req.ID)
				}
			}
		}
		total, want := 0, 0
		for _, n := range backend {
			total += n
		}
		for _, req := range gt.Requests {
			for _, at := range req.Attempts {
				// A host that drops traceparent keeps its spans in a trace
				// of its own, without the session.
				if req.SessionID == out && at.Propagation == demoworld.PropagationPropagated {
					for _, n := range at.BackendSpans {
						want += n
					}
				}
			}
		}
		assert.Equal(t, want, total, "backend spans of the sampled-out session in its timeline: only the kept traces'")
	})
}

// TestCollectorRedactsForbiddenAttributesAndPII plants the schema's
// forbidden attributes and an e-mail address in pii_scan attributes of a
// span, a log record and a metric sent to the collector, and checks that
// none of them reaches Jaeger, VictoriaLogs or Prometheus.
func TestCollectorRedactsForbiddenAttributesAndPII(t *testing.T) {
	requireCollector(t)
	ctx := testContext(t)
	svc := "redaction-probe-" + randomHex(t, 4)
	// A session the rule samples in (below rate 0.9's boundary), so the
	// trace is kept.
	session := "0" + randomHex(t, 16)[1:]
	traceID, spanID := randomHex(t, 16), randomHex(t, 8)
	const email = "jane.doe@example.com"
	now := time.Now()
	str := func(k, v string) string {
		return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v)
	}
	resource := fmt.Sprintf(`{"attributes":[%s,%s,%s]}`, str("service.name", svc), str(demoworld.TagRunID, svc), str("device.name", "Jane's iPhone"))
	planted := strings.Join([]string{
		str("session.id", session),
		str("url.full", "https://api.shop.example/v1/users/jane.doe@example.com?token=1"),
		str("user.email", email),
		str("client.address", "192.0.2.7"),
		str("app.screen.name", "Profile "+email),
		str("error.type", email),
		str("url.template", "/v1/users/{id}"),
		str("http.request.method", "GET"),
	}, ",")
	post := func(path, body string) {
		resp, err := http.Post(theStack.CollectorOTLPHTTPURL()+path, "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	post("/v1/traces", fmt.Sprintf(`{"resourceSpans":[{"resource":%s,"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"GET /v1/users/{id}","kind":3,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}]}]}]}`,
		resource, traceID, spanID, now.UnixNano(), now.Add(40*time.Millisecond).UnixNano(), planted))
	post("/v1/logs", fmt.Sprintf(`{"resourceLogs":[{"resource":%s,"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityNumber":9,"severityText":"INFO","body":{"stringValue":"redaction probe"},"traceId":%q,"spanId":%q,"attributes":[%s]}]}]}]}`,
		resource, now.UnixNano(), traceID, spanID, planted))
	post("/v1/metrics", fmt.Sprintf(`{"resourceMetrics":[{"resource":%s,"scopeMetrics":[{"metrics":[{"name":"stitch.redaction.probe","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"1","startTimeUnixNano":"%d","timeUnixNano":"%d","attributes":[%s]}]}}]}]}]}`,
		resource, now.Add(-time.Second).UnixNano(), now.UnixNano(), planted))

	forbidden := []string{"url.full", "user.email", "client.address", "device.name"}
	leak := func(t *testing.T, where string, kv map[string]string) {
		t.Helper()
		for k, v := range kv {
			norm := strings.ReplaceAll(k, "_", ".")
			for _, f := range forbidden {
				assert.NotEqual(t, f, norm, "%s: forbidden attribute %s arrived", where, k)
			}
			assert.NotContains(t, v, "@example.com", "%s: %s carries the e-mail address", where, k)
			assert.NotContains(t, v, "192.0.2.7", "%s: %s carries the IP address", where, k)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	var trace jTrace
	var logRows []map[string]string
	var series []map[string]string
	for time.Now().Before(deadline) {
		var resp struct {
			Data []jTrace `json:"data"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, theStack.JaegerURL()+"/api/traces/"+traceID, nil)
		if r, err := http.DefaultClient.Do(req); err == nil {
			if r.StatusCode == http.StatusOK {
				_ = json.NewDecoder(r.Body).Decode(&resp)
			}
			r.Body.Close()
		}
		logRows = logsQL(t, ctx, `service.name:=`+strconv.Quote(svc))
		var sr struct {
			Data []map[string]string `json:"data"`
		}
		storeGet(t, ctx, theStack.PrometheusURL()+"/api/v1/series?"+url.Values{"match[]": {`{job=` + strconv.Quote(svc) + `}`}}.Encode(), &sr)
		series = sr.Data
		if len(resp.Data) == 1 && len(logRows) > 0 && len(series) >= 2 { // the probe and target_info
			trace = resp.Data[0]
			break
		}
		time.Sleep(time.Second)
	}
	require.Len(t, trace.Spans, 1, "the probe span arrived in Jaeger")
	require.Len(t, logRows, 1, "the probe log record arrived in VictoriaLogs")
	require.GreaterOrEqual(t, len(series), 2, "the probe metric and target_info arrived in Prometheus: %v", series)

	tags := map[string]string{}
	for _, tg := range trace.Spans[0].Tags {
		tags[tg.Key] = fmt.Sprint(tg.Value)
	}
	leak(t, "jaeger span", tags)
	assert.Equal(t, session, tags["session.id"], "identifiers are left alone")
	assert.Equal(t, "/v1/users/{id}", tags["url.template"])
	assert.Contains(t, tags["app.screen.name"], "****", "the e-mail in a pii_scan attribute is masked")
	leak(t, "victorialogs record", logRows[0])
	assert.Equal(t, session, logRows[0]["session.id"])
	for _, s := range series {
		leak(t, "prometheus series "+s["__name__"], s)
	}
	var procs struct {
		Data []struct {
			Processes map[string]struct {
				Tags []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"processes"`
		} `json:"data"`
	}
	storeGet(t, ctx, theStack.JaegerURL()+"/api/traces/"+traceID, &procs)
	for _, p := range procs.Data[0].Processes {
		res := map[string]string{}
		for _, tg := range p.Tags {
			res[tg.Key] = fmt.Sprint(tg.Value)
		}
		leak(t, "jaeger resource", res)
	}
}

// requestHistogramBounds are the collector's bucket bounds in ms
// (internal/stack/configs/collector.yaml.tmpl), +Inf last.
var requestHistogramBounds = []float64{5, 10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 7500, 10000, 30000, math.Inf(1)}

func bucketOf(ms float64) int {
	return sort.SearchFloat64s(requestHistogramBounds, ms)
}

// TestCollectorRequestHistogramsMatchTheTruth: the span-metrics histograms
// count every app request per endpoint, and their p95 lies within one
// bucket of the truth's; their exemplars name traces of the run.
func TestCollectorRequestHistogramsMatchTheTruth(t *testing.T) {
	requireCollector(t)
	gt := sharedWorld(t)
	ctx := testContext(t)
	sel := `{instance=` + strconv.Quote(gt.Run.ID) + `,job=` + strconv.Quote(gt.App.ServiceName) + `,span_kind="SPAN_KIND_CLIENT"}`
	query := func(q string) map[string]float64 {
		var resp struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		storeGet(t, ctx, theStack.PrometheusURL()+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &resp)
		out := map[string]float64{}
		for _, r := range resp.Data.Result {
			v, _ := strconv.ParseFloat(r.Value[1].(string), 64)
			out[r.Metric["http_request_method"]+" "+r.Metric["url_template"]] = v
		}
		return out
	}

	durations := map[string][]float64{}
	for _, r := range gt.Requests {
		for _, at := range r.Attempts {
			if at.Exported {
				k := r.Method + " " + r.URLTemplate
				durations[k] = append(durations[k], float64(at.DurationMs))
			}
		}
	}
	require.NotEmpty(t, durations)
	counts := query(`sum by (http_request_method, url_template) (last_over_time(` + demoworld.RequestHistogram + `_count` + sel + `[15m]))`)
	p95 := query(`histogram_quantile(0.95, sum by (le, http_request_method, url_template) (last_over_time(` + demoworld.RequestHistogram + `_bucket` + sel + `[15m])))`)
	for ep, ds := range durations {
		assert.Equal(t, float64(len(ds)), counts[ep], "requests to %s", ep)
		slices.Sort(ds)
		truth := ds[int(math.Ceil(0.95*float64(len(ds))))-1] // nearest rank
		got, ok := p95[ep]
		if !assert.True(t, ok, "p95 of %s", ep) {
			continue
		}
		d := bucketOf(got) - bucketOf(truth)
		assert.LessOrEqual(t, d*d, 1, "%s: p95 %.0f ms from the histogram, %.0f ms in the truth (buckets %d and %d)", ep, got, truth, bucketOf(got), bucketOf(truth))
		t.Logf("%-28s %4d requests, p95 %6.0f ms (histogram) vs %6.0f ms (truth)", ep, len(ds), got, truth)
	}
	assert.Len(t, counts, len(durations), "no endpoint the truth does not know")

	// Exemplars link the histogram to traces of the run.
	var ex struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	storeGet(t, ctx, theStack.PrometheusURL()+"/api/v1/query_exemplars?"+url.Values{
		"query": {demoworld.RequestHistogram + `_bucket` + sel},
		"start": {strconv.FormatInt(gt.Run.Started.Add(-time.Minute).Unix(), 10)},
		"end":   {strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)},
	}.Encode(), &ex)
	traces := map[string]bool{}
	for _, r := range gt.Requests {
		traces[r.TraceID] = true
	}
	n := 0
	for _, s := range ex.Data {
		for _, e := range s.Exemplars {
			n++
			assert.True(t, traces[e.Labels["trace_id"]], "exemplar trace %s is a request trace of the run", e.Labels["trace_id"])
		}
	}
	assert.Positive(t, n, "the request histograms carry exemplars")
}
