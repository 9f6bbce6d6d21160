package demoworld

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// OpenTelemetry SDK plumbing shared by the fleet and the services.

// ---------------------------------------------------------------- devices

type plannedIDsKey struct{}

type plannedIDs struct {
	traceID trace.TraceID
	spanID  trace.SpanID
}

// withPlannedIDs makes the next span started with ctx take these IDs
// (traceHex may be "" for a child span).
func withPlannedIDs(ctx context.Context, traceHex, spanHex string) context.Context {
	var p plannedIDs
	if traceHex != "" {
		p.traceID, _ = trace.TraceIDFromHex(traceHex)
	}
	p.spanID, _ = trace.SpanIDFromHex(spanHex)
	return context.WithValue(ctx, plannedIDsKey{}, p)
}

// plannedIDGenerator hands the SDK the IDs the planner chose, so device
// spans have exactly the ground truth's trace and span IDs.
type plannedIDGenerator struct{ misses *atomic.Int64 }

func (g plannedIDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p, ok := ctx.Value(plannedIDsKey{}).(plannedIDs); ok && p.traceID.IsValid() && p.spanID.IsValid() {
		return p.traceID, p.spanID
	}
	g.misses.Add(1)
	var t trace.TraceID
	for !t.IsValid() {
		// An ID the plan did not choose: random, not reproducible anyway.
		_, _ = rand.Read(t[:])
	}
	return t, g.NewSpanID(context.Background(), t)
}

func (g plannedIDGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if p, ok := ctx.Value(plannedIDsKey{}).(plannedIDs); ok && p.spanID.IsValid() {
		return p.spanID
	}
	g.misses.Add(1)
	var s trace.SpanID
	for !s.IsValid() {
		_, _ = rand.Read(s[:])
	}
	return s
}

// sessionSampler is the device's head decision: the span is always
// recorded (errors and slow spans are kept whatever the session), and its
// trace flags say sampled exactly when the schema's session rule keeps the
// session, so the traceparent tells the backends.
type sessionSampler struct{ rate float64 }

func (s sessionSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	ts := trace.SpanContextFromContext(p.ParentContext).TraceState()
	for _, kv := range p.Attributes {
		if kv.Key == schema.AttrSessionID {
			if ok, err := schema.SessionSampled(kv.Value.AsString(), s.rate); err == nil && ok {
				return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: ts}
			}
			return sdktrace.SamplingResult{Decision: sdktrace.RecordOnly, Tracestate: ts}
		}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: ts}
}

func (s sessionSampler) Description() string { return "StitchSessionSampler" }

func decisionOf(kvs []attribute.KeyValue) string {
	for _, kv := range kvs {
		if kv.Key == schema.AttrStitchSamplingDecision {
			return kv.Value.AsString()
		}
	}
	return ""
}

// deviceSpanBuffer is the device's span processor: it keeps the spans the
// sampling rule keeps (stitch.sampling.decision, set before End) and holds
// them until the device uploads, as the iOS exporter persists them.
type deviceSpanBuffer struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (b *deviceSpanBuffer) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (b *deviceSpanBuffer) OnEnd(s sdktrace.ReadOnlySpan) {
	if decisionOf(s.Attributes()) != string(schema.DecisionKeep) {
		return
	}
	b.mu.Lock()
	b.spans = append(b.spans, s)
	b.mu.Unlock()
}
func (b *deviceSpanBuffer) Shutdown(context.Context) error   { return nil }
func (b *deviceSpanBuffer) ForceFlush(context.Context) error { return nil }

func (b *deviceSpanBuffer) take() []sdktrace.ReadOnlySpan {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.spans
	b.spans = nil
	return out
}

// deviceLogBuffer does the same for log records.
type deviceLogBuffer struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (b *deviceLogBuffer) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (b *deviceLogBuffer) OnEmit(_ context.Context, r *sdklog.Record) error {
	keep := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == schema.AttrStitchSamplingDecision {
			keep = kv.Value.AsString() == string(schema.DecisionKeep)
			return false
		}
		return true
	})
	if keep {
		b.mu.Lock()
		b.records = append(b.records, r.Clone())
		b.mu.Unlock()
	}
	return nil
}
func (b *deviceLogBuffer) Shutdown(context.Context) error   { return nil }
func (b *deviceLogBuffer) ForceFlush(context.Context) error { return nil }

func (b *deviceLogBuffer) take() []sdklog.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.records
	b.records = nil
	return out
}

// uplink is the fleet's connection to the stores: one OTLP span exporter
// and one OTLP log exporter shared by every device (records keep their own
// device's resource).
type uplink struct {
	mu    sync.Mutex
	spans sdktrace.SpanExporter
	logs  sdklog.Exporter
}

const uplinkBatch = 512

func (u *uplink) send(ctx context.Context, spans []sdktrace.ReadOnlySpan, logs []sdklog.Record) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := 0; i < len(spans); i += uplinkBatch {
		if err := u.spans.ExportSpans(ctx, spans[i:min(i+uplinkBatch, len(spans))]); err != nil {
			return fmt.Errorf("exporting device spans: %w", err)
		}
	}
	for i := 0; i < len(logs); i += uplinkBatch {
		if err := u.logs.Export(ctx, logs[i:min(i+uplinkBatch, len(logs))]); err != nil {
			return fmt.Errorf("exporting device logs: %w", err)
		}
	}
	return nil
}

func (u *uplink) shutdown(ctx context.Context) error {
	return firstErr(u.spans.Shutdown(ctx), u.logs.Shutdown(ctx))
}

// ---------------------------------------------------------------- backends

// sessionStamp copies session.id from the request's baggage onto every span
// a service starts for it, after validating it (rules.propagation).
type sessionStamp struct{}

func (sessionStamp) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if kv, ok := schema.SessionAttribute(parent); ok {
		s.SetAttributes(kv)
	}
}
func (sessionStamp) OnEnd(sdktrace.ReadOnlySpan)      {}
func (sessionStamp) Shutdown(context.Context) error   { return nil }
func (sessionStamp) ForceFlush(context.Context) error { return nil }

// backendLogs stamps session.id from baggage onto log records and drops the
// records of requests whose trace is not sampled: a service that sees the
// unsampled flag records nothing for the request.
type backendLogs struct{ next sdklog.Processor }

func (p backendLogs) Enabled(ctx context.Context, param sdklog.EnabledParameters) bool {
	return p.next.Enabled(ctx, param)
}

func (p backendLogs) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if r.TraceID().IsValid() && !r.TraceFlags().IsSampled() {
		return nil
	}
	if kv, ok := schema.SessionAttribute(ctx); ok {
		r.AddAttributes(kv)
	}
	return p.next.OnEmit(ctx, r)
}
func (p backendLogs) Shutdown(ctx context.Context) error   { return p.next.Shutdown(ctx) }
func (p backendLogs) ForceFlush(ctx context.Context) error { return p.next.ForceFlush(ctx) }

// exportErrors collects export failures from the services' pipelines, which
// otherwise only reach the global OpenTelemetry error handler.
type exportErrors struct {
	mu   sync.Mutex
	errs []string
}

func (e *exportErrors) add(what string, err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) < 20 {
		e.errs = append(e.errs, what+": "+err.Error())
	}
}

func (e *exportErrors) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.errs...)
}

// redactingSpanExporter drops attributes the schema forbids (url.path,
// client.address, network.peer.address…) that HTTP instrumentation adds to
// server spans, and records export errors.
type redactingSpanExporter struct {
	next sdktrace.SpanExporter
	what string
	errs *exportErrors
}

type redactedSpan struct {
	sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

func (s redactedSpan) Attributes() []attribute.KeyValue { return s.attrs }

func (e redactingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	spec := schema.Default()
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		var keep []attribute.KeyValue
		for _, kv := range s.Attributes() {
			if !spec.IsForbidden(string(kv.Key)) {
				keep = append(keep, kv)
			}
		}
		out[i] = redactedSpan{s, keep}
	}
	err := e.next.ExportSpans(ctx, out)
	e.errs.add(e.what, err)
	return err
}
func (e redactingSpanExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

type recordingLogExporter struct {
	sdklog.Exporter
	what string
	errs *exportErrors
}

func (e recordingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := e.Exporter.Export(ctx, records)
	e.errs.add(e.what, err)
	return err
}

type recordingMetricExporter struct {
	sdkmetric.Exporter
	what string
	errs *exportErrors
}

func (e recordingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	// Shutdown cancels a periodic export still in flight and then exports
	// once more; the metrics are cumulative, so that last export carries
	// everything the cancelled one held: nothing is lost.
	if !errors.Is(err, context.Canceled) && !errors.Is(ctx.Err(), context.Canceled) {
		e.errs.add(e.what, err)
	}
	return err
}

type requestIDKey struct{}

// legacyIDGenerator gives the legacy host's root spans the trace IDs the
// planner chose for each request (by X-Request-Id), so the ground truth
// knows the trace the stripping host starts. Span IDs are random.
type legacyIDGenerator struct {
	traces map[string]string
}

func (g legacyIDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	var t trace.TraceID
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		t, _ = trace.TraceIDFromHex(g.traces[id])
	}
	for !t.IsValid() {
		// An ID the plan did not choose: random, not reproducible anyway.
		_, _ = rand.Read(t[:])
	}
	return t, g.NewSpanID(ctx, t)
}

func (legacyIDGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var s trace.SpanID
	for !s.IsValid() {
		_, _ = rand.Read(s[:])
	}
	return s
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
