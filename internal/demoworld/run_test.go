package demoworld

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// sink is a fake store: it accepts OTLP/HTTP protobuf for the three
// signals on the paths the real stores use and keeps what it got.
type sink struct {
	mu      sync.Mutex
	traces  []*coltrace.ExportTraceServiceRequest
	logs    []*collogs.ExportLogsServiceRequest
	metrics []*colmetrics.ExportMetricsServiceRequest
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var resp proto.Message
	switch r.URL.Path {
	case otlpTracesPath:
		m := &coltrace.ExportTraceServiceRequest{}
		err, resp = proto.Unmarshal(body, m), &coltrace.ExportTraceServiceResponse{}
		s.traces = append(s.traces, m)
	case otlpLogsPath:
		m := &collogs.ExportLogsServiceRequest{}
		err, resp = proto.Unmarshal(body, m), &collogs.ExportLogsServiceResponse{}
		s.logs = append(s.logs, m)
	case otlpMetricsPath:
		m := &colmetrics.ExportMetricsServiceRequest{}
		err, resp = proto.Unmarshal(body, m), &colmetrics.ExportMetricsServiceResponse{}
		s.metrics = append(s.metrics, m)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func attrString(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.GetStringValue(), true
		}
	}
	return "", false
}

// anyValue turns an OTLP value into what schema.Validate takes.
func anyValue(v *commonpb.AnyValue) any {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	}
	return nil
}

// TestRunAgainstFakeStores runs a small world against in-process OTLP
// sinks and checks that what was sent matches the ground truth exactly.
func TestRunAgainstFakeStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small world in real time (about 15 s)")
	}
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	targets := Targets{JaegerOTLPHTTP: srv.URL, VictoriaLogs: srv.URL, Prometheus: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	dir := t.TempDir()
	gt, err := Run(ctx, Config{Seed: 20, Sessions: 4, OutDir: dir, RunID: "test-run"}, targets, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(gt.Run.Warnings) > 0 {
		t.Errorf("the run left its plan: %q", gt.Run.Warnings)
	}

	// The file is the returned ground truth, and the planned part is the
	// plan's.
	loaded, err := LoadGroundTruth(filepath.Join(dir, "groundtruth-test-run.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := gt.JSON()
	b, _ := loaded.JSON()
	if !bytes.Equal(a, b) {
		t.Error("the ground-truth file differs from the returned ground truth")
	}
	planned := mustPlan(t, 20, 4).GroundTruth()
	if len(planned.Requests) != len(gt.Requests) || planned.Requests[0].Attempts[0].ClientSpanID != gt.Requests[0].Attempts[0].ClientSpanID {
		t.Error("the run's ground truth is not the plan's")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	spec := schema.Default()
	runTags := map[string]bool{TagRunID: true, TagEnvironment: true}

	// Traces.
	spans := map[string]int{}
	deviceIDs := map[string]bool{}
	type backendSpan struct{ session, parent string }
	backendByTrace := map[string][]backendSpan{}
	for _, req := range s.traces {
		for _, rs := range req.ResourceSpans {
			svc, _ := attrString(rs.Resource.Attributes, schema.AttrServiceName)
			if run, _ := attrString(rs.Resource.Attributes, TagRunID); run != "test-run" {
				t.Errorf("%s: resource without the run tag", svc)
			}
			for _, kv := range rs.Resource.Attributes {
				if !runTags[kv.Key] {
					if err := schema.Validate(kv.Key, anyValue(kv.Value)); err != nil {
						t.Errorf("%s resource %s: %v", svc, kv.Key, err)
					}
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					spans[svc]++
					tid, sid := hex.EncodeToString(sp.TraceId), hex.EncodeToString(sp.SpanId)
					for _, kv := range sp.Attributes {
						if spec.IsForbidden(kv.Key) {
							t.Errorf("%s span %s carries the forbidden %s", svc, sp.Name, kv.Key)
						}
						if svc == AppServiceName {
							if err := schema.Validate(kv.Key, anyValue(kv.Value)); err != nil {
								t.Errorf("device span %s %s: %v", sp.Name, kv.Key, err)
							}
						}
					}
					if svc == AppServiceName {
						deviceIDs[tid+"/"+sid] = true
						continue
					}
					session, _ := attrString(sp.Attributes, schema.AttrSessionID)
					backendByTrace[tid] = append(backendByTrace[tid], backendSpan{session, hex.EncodeToString(sp.ParentSpanId)})
				}
			}
		}
	}
	for svc, want := range gt.Expect.JaegerSpans {
		if spans[svc] != want {
			t.Errorf("spans of %s: got %d, want %d", svc, spans[svc], want)
		}
	}
	for _, r := range gt.Requests {
		for _, at := range r.Attempts {
			if at.Exported != deviceIDs[r.TraceID+"/"+at.ClientSpanID] {
				t.Errorf("request %s attempt %d: exported=%v in the ground truth, sent=%v", r.ID, at.ResendCount, at.Exported, !at.Exported)
			}
			switch at.Propagation {
			case PropagationPropagated:
				// traceparent: the gateway's server span is the client span's child.
				found := false
				for _, bs := range backendByTrace[r.TraceID] {
					if bs.session != r.SessionID {
						t.Errorf("request %s: backend span with session %q, want %s", r.ID, bs.session, r.SessionID)
					}
					found = found || bs.parent == at.ClientSpanID
				}
				if r.ServerAddress == hostAPI && !found {
					t.Errorf("request %s attempt %d: no backend span under the client span", r.ID, at.ResendCount)
				}
			case PropagationStripped:
				for _, bs := range backendByTrace[at.BackendTraceID] {
					if bs.session != "" || bs.parent != "" {
						t.Errorf("request %s: the stripping host's span has session %q parent %q", r.ID, bs.session, bs.parent)
					}
				}
				if len(backendByTrace[at.BackendTraceID]) == 0 {
					t.Errorf("request %s: no trace from the stripping host", r.ID)
				}
			case PropagationSampledOut:
				if len(backendByTrace[r.TraceID]) > 0 {
					t.Errorf("request %s: sampled out, yet the backend recorded spans", r.ID)
				}
			}
		}
	}

	// Logs.
	records := map[string]int{}
	for _, req := range s.logs {
		for _, rl := range req.ResourceLogs {
			svc, _ := attrString(rl.Resource.Attributes, schema.AttrServiceName)
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					records[svc]++
					if svc == AppServiceName {
						for _, kv := range lr.Attributes {
							if err := schema.Validate(kv.Key, anyValue(kv.Value)); err != nil {
								t.Errorf("device log %q %s: %v", lr.Body.GetStringValue(), kv.Key, err)
							}
						}
					} else if svc != svcLegacy {
						if _, ok := attrString(lr.Attributes, schema.AttrSessionID); !ok || len(lr.TraceId) == 0 {
							t.Errorf("%s log %q without session.id or trace ID", svc, lr.Body.GetStringValue())
						}
					}
				}
			}
		}
	}
	for svc, want := range gt.Expect.VictoriaLogsRecords {
		if records[svc] != want {
			t.Errorf("log records of %s: got %d, want %d", svc, records[svc], want)
		}
	}

	// Metrics: the last cumulative count of each request-duration series,
	// summed per service, and exemplars with the run's trace IDs.
	known := map[string]bool{}
	for _, id := range gt.BackendTraceIDs() {
		known[id] = true
	}
	last := map[string]uint64{}
	svcOf := map[string]string{}
	seriesOf := map[string]string{}
	exemplars := 0
	for _, req := range s.metrics {
		for _, rm := range req.ResourceMetrics {
			svc, _ := attrString(rm.Resource.Attributes, schema.AttrServiceName)
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "http.server.request.duration" {
						continue
					}
					for _, dp := range m.GetHistogram().GetDataPoints() {
						var key strings.Builder
						key.WriteString(svc)
						for _, kv := range dp.Attributes {
							key.WriteString("|" + kv.Key + "=" + kv.Value.String())
						}
						k := key.String()
						last[k] = max(last[k], dp.Count)
						svcOf[k] = svc
						route, _ := attrString(dp.Attributes, "http.route")
						var status int64
						for _, kv := range dp.Attributes {
							if kv.Key == "http.response.status_code" {
								status = kv.Value.GetIntValue()
							}
						}
						seriesOf[k] = Served{svc, route, int(status)}.Key()
						for _, e := range dp.Exemplars {
							exemplars++
							if !known[hex.EncodeToString(e.TraceId)] {
								t.Errorf("%s exemplar with an unknown trace ID %x", svc, e.TraceId)
							}
						}
					}
				}
			}
		}
	}
	counts := map[string]int{}
	series := map[string]int{}
	for k, n := range last {
		counts[svcOf[k]] += int(n)
		series[seriesOf[k]] += int(n)
	}
	if !reflect.DeepEqual(series, gt.Expect.PrometheusSeries) {
		t.Errorf("RED series: got %v, want %v", series, gt.Expect.PrometheusSeries)
	}
	for svc, want := range gt.Expect.PrometheusRequests {
		if counts[svc] != want {
			t.Errorf("requests measured by %s: got %d, want %d", svc, counts[svc], want)
		}
	}
	if exemplars == 0 {
		t.Error("no exemplars")
	}
}

func TestTargetsMustBeLoopback(t *testing.T) {
	ok := Targets{JaegerOTLPHTTP: "http://127.0.0.1:4318/", VictoriaLogs: "http://localhost:9428", Prometheus: "http://[::1]:9090", JaegerQuery: "http://127.0.0.2:16686"}
	n, err := ok.normalized(true)
	if err != nil {
		t.Fatal(err)
	}
	if n.JaegerOTLPHTTP != "http://127.0.0.1:4318" {
		t.Errorf("trailing slash kept: %q", n.JaegerOTLPHTTP)
	}
	for _, bad := range []string{"http://10.0.0.1:4318", "http://example.com:4318", "ftp://127.0.0.1:21", "http://127.0.0.1:4318/v1/traces", "http://u:p@127.0.0.1:1", ""} {
		tg := ok
		tg.JaegerOTLPHTTP = bad
		if _, err := tg.normalized(true); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
	if _, err := Run(context.Background(), Config{Seed: 1, Sessions: 1}, Targets{JaegerOTLPHTTP: "http://192.168.1.10:4318", VictoriaLogs: "http://127.0.0.1:1", Prometheus: "http://127.0.0.1:1"}, nil); err == nil {
		t.Error("Run accepted a non-loopback target")
	}
}

func TestGroundTruthFileRoundTrip(t *testing.T) {
	gt := mustPlan(t, 4, 12).GroundTruth()
	path := filepath.Join(t.TempDir(), "sub", "gt.json")
	if err := gt.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadGroundTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := gt.JSON()
	b, _ := loaded.JSON()
	if !bytes.Equal(a, b) {
		t.Fatal("round trip changed the ground truth")
	}
	if _, err := DecodeGroundTruth(strings.NewReader(`{"format":"something/else"}`)); err == nil {
		t.Error("a foreign format was accepted")
	}
	if _, err := DecodeGroundTruth(strings.NewReader(`{`)); err == nil {
		t.Error("broken JSON was accepted")
	}
}
