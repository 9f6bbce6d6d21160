//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	res "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stitch-observability/stitch/internal/stack"
)

// collectorBatchTraces × collectorTraceSpans spans make one benchmark op.
const (
	collectorBatchTraces = 100
	collectorTraceSpans  = 10
	collectorSenders     = 4
)

func kv(k, v string) *common.KeyValue {
	return &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: v}}}
}

func kvInt(k string, v int64) *common.KeyValue {
	return &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_IntValue{IntValue: v}}}
}

// collectorBatch is one OTLP/HTTP protobuf request shaped like the demo
// world's traffic: per trace an app action and client span and eight
// backend spans over three services, every span with session.id; one
// session in ten is sampled out and a third of those traces fail.
func collectorBatch(run string, n int) []byte {
	app := &tracepb.ResourceSpans{Resource: &res.Resource{Attributes: []*common.KeyValue{
		kv("service.name", "bench-collector-app"), kv("service.instance.id", run), kv("service.version", "4.13.0"),
		kv("os.name", "iOS"), kv("os.version", "18.2"), kv("device.model.identifier", "iPhone15,2")}}}
	backends := map[string]*tracepb.ResourceSpans{}
	for _, svc := range []string{"gateway", "orders", "inventory"} {
		backends[svc] = &tracepb.ResourceSpans{Resource: &res.Resource{Attributes: []*common.KeyValue{
			kv("service.name", "bench-collector-"+svc), kv("service.instance.id", run), kv("service.version", "1.0.0")}}}
	}
	appSpans, backendSpans := []*tracepb.Span{}, map[string][]*tracepb.Span{}
	now := time.Now()
	id := func(i, j int) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint64(b, uint64(n)<<32|uint64(i)<<8|uint64(j)+1)
		return b
	}
	for i := 0; i < collectorBatchTraces; i++ {
		traceID := make([]byte, 16)
		binary.BigEndian.PutUint64(traceID, uint64(n)<<32|uint64(i)+1)
		binary.BigEndian.PutUint64(traceID[8:], uint64(now.UnixNano()))
		session := fmt.Sprintf("%02x%030x", (n*collectorBatchTraces+i)%256, n*collectorBatchTraces+i+1)
		failed := i%30 == 0
		status := int64(200)
		if failed {
			status = 502
		}
		t0 := now.Add(time.Duration(i) * time.Millisecond)
		span := func(j int, parent []byte, name string, kind tracepb.Span_SpanKind, start, dur time.Duration, attrs ...*common.KeyValue) *tracepb.Span {
			s := &tracepb.Span{TraceId: traceID, SpanId: id(i, j), ParentSpanId: parent, Name: name, Kind: kind,
				StartTimeUnixNano: uint64(t0.Add(start).UnixNano()), EndTimeUnixNano: uint64(t0.Add(start + dur).UnixNano()),
				Attributes: append([]*common.KeyValue{kv("session.id", session)}, attrs...)}
			if failed {
				s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
			}
			return s
		}
		action := span(0, nil, "tap.checkout.pay", tracepb.Span_SPAN_KIND_INTERNAL, 0, 120*time.Millisecond,
			kv("stitch.action.name", "tap.checkout.pay"), kv("stitch.sampling.decision", "keep"), kv("stitch.sampling.reason", "session_sampled"))
		client := span(1, action.SpanId, "POST /v1/checkout", tracepb.Span_SPAN_KIND_CLIENT, 5*time.Millisecond, 110*time.Millisecond,
			kv("url.template", "/v1/checkout"), kv("http.request.method", "POST"), kvInt("http.response.status_code", status),
			kv("server.address", "api.shop.example"), kv("network.connection.type", "wifi"), kv("stitch.sampling.reason", "session_sampled"))
		appSpans = append(appSpans, action, client)
		parent := client.SpanId
		for j, svc := range []string{"gateway", "gateway", "orders", "orders", "orders", "inventory", "inventory", "inventory"} {
			kind := tracepb.Span_SPAN_KIND_SERVER
			if j%2 == 1 {
				kind = tracepb.Span_SPAN_KIND_CLIENT
			}
			s := span(2+j, parent, "POST /orders", kind, time.Duration(6+j)*time.Millisecond, time.Duration(100-10*j)*time.Millisecond,
				kv("http.route", "/orders"), kv("http.request.method", "POST"), kvInt("http.response.status_code", status))
			backendSpans[svc] = append(backendSpans[svc], s)
			parent = s.SpanId
		}
	}
	app.ScopeSpans = []*tracepb.ScopeSpans{{Spans: appSpans}}
	req := &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{app}}
	for _, svc := range []string{"gateway", "orders", "inventory"} {
		backends[svc].ScopeSpans = []*tracepb.ScopeSpans{{Spans: backendSpans[svc]}}
		req.ResourceSpans = append(req.ResourceSpans, backends[svc])
	}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// procStats reads a process's CPU time (user + system) and its resident
// and peak resident memory from /proc.
func procStats(pid int) (cpu time.Duration, rss, peak int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = v << 10
			} else {
				peak = v << 10
			}
		}
	}
	return cpu, rss, peak, nil
}

// BenchmarkCollectorThroughput pushes OTLP/HTTP protobuf batches of 1000
// spans into the stack's collector (the reference configuration: redaction,
// tail sampling, request histograms, persistent queue to Jaeger) from four
// senders, and reports the spans per second it accepts, the collector's CPU
// per 1000 spans (everything it does for them: receiving, sampling
// decisions after decision_wait, histograms and export) and its memory.
// Run with -benchtime=200x (200 000 spans). The senders share the machine's
// cores with the collector and the stores.
func BenchmarkCollectorThroughput(b *testing.B) {
	if !theStack.HasCollector() {
		b.Fatal("the stack runs no collector")
	}
	pid := theStack.Processes[slices.IndexFunc(theStack.Processes, func(p stack.Process) bool { return p.Name == "collector" })].PID
	run := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	batches := make([][]byte, b.N)
	for i := range batches {
		batches[i] = collectorBatch(run, i)
	}
	spansPerOp := collectorBatchTraces * collectorTraceSpans
	client := &http.Client{Timeout: 30 * time.Second}
	cpu0, _, _, err := procStats(pid)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range collectorSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				resp, err := client.Post(theStack.CollectorOTLPHTTPURL()+"/v1/traces", "application/x-protobuf", bytes.NewReader(batches[i]))
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d batches refused", n, b.N)
	}
	cpuIngest, _, _, _ := procStats(pid)
	// Then everything the collector does later for these spans: the tail
	// sampler decides after decision_wait, exports, histograms flush. Wait
	// until it is idle again (under 2% of a core over a second).
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	time.Sleep(10 * time.Second)
	last, _, _, _ := procStats(pid)
	for ctx.Err() == nil {
		time.Sleep(time.Second)
		c, _, _, _ := procStats(pid)
		if c-last < 20*time.Millisecond {
			break
		}
		last = c
	}
	cpuAll, rss, peak, err := procStats(pid)
	if err != nil {
		b.Fatal(err)
	}
	// The spans went through: the kept ones are in Jaeger.
	for {
		var svcs struct {
			Data []string `json:"data"`
		}
		resp, err := client.Get(theStack.JaegerURL() + "/api/services")
		if err != nil {
			b.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&svcs)
		resp.Body.Close()
		if err == nil && slices.Contains(svcs.Data, "bench-collector-gateway") {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("the benchmark's spans did not reach Jaeger: %v %v", svcs.Data, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	spans := float64(b.N * spansPerOp)
	b.ReportMetric(spans/accepted.Seconds(), "spans/s")
	b.ReportMetric(float64(cpuIngest-cpu0)/float64(time.Second)/accepted.Seconds(), "cores-while-ingesting")
	b.ReportMetric(float64((cpuAll-cpu0).Milliseconds())/(spans/1000), "cpu-ms/1000spans")
	// Sustained: what one core of collector does end to end, per second.
	b.ReportMetric(spans/(cpuAll-cpu0).Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
}
