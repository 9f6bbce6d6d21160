package demoworld

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// The simulated fleet: each device runs its script in real time, records
// spans and log records with its own OpenTelemetry providers (stamped with
// its own, possibly wrong, clock) and uploads them through the shared
// uplink, as the Stitch iOS exporter will.

const exporterScope = "com.stitch.ios.exporter"

// fleet is what all devices share.
type fleet struct {
	client *http.Client
	uplink *uplink
	tags   []attribute.KeyValue
	misses atomic.Int64

	mu          sync.Mutex
	warnings    []string
	adjustments []string
}

func (f *fleet) warn(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.warnings = append(f.warnings, fmt.Sprintf(format, args...))
}

// adjust records a timing-dependent outcome that differed from the plan (a
// loaded machine made a request cross the latency threshold). The ground
// truth is updated to what happened, so the world stays exact; unlike a
// warning it is not a departure from the plan's faults.
func (f *fleet) adjust(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adjustments = append(f.adjustments, fmt.Sprintf(format, args...))
}

// deviceRun is one device executing its script.
type deviceRun struct {
	f        *fleet
	d        *Device
	sessions map[string]*SessionTruth
	tp       *sdktrace.TracerProvider
	tracer   trace.Tracer
	lp       *sdklog.LoggerProvider
	logger   otellog.Logger
	spans    *deviceSpanBuffer
	logs     *deviceLogBuffer
	queue    []queuedRequest

	uploadedSpans, uploadedLogs int
	requests, failures          int
}

type queuedRequest struct {
	r       *Request
	a       *Action
	parent  context.Context // carries the action span's context
	created time.Time
}

func newDeviceRun(f *fleet, d *Device, sessions map[string]*SessionTruth) *deviceRun {
	res := resource.NewSchemaless(append(append([]attribute.KeyValue{}, d.Resource...), f.tags...)...)
	dr := &deviceRun{f: f, d: d, sessions: sessions, spans: &deviceSpanBuffer{}, logs: &deviceLogBuffer{}}
	dr.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sessionSampler{rate: AppSamplingRate}),
		sdktrace.WithIDGenerator(plannedIDGenerator{misses: &f.misses}),
		sdktrace.WithSpanProcessor(dr.spans),
	)
	dr.tracer = dr.tp.Tracer(exporterScope, trace.WithInstrumentationVersion("0.1.0"))
	dr.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(dr.logs))
	dr.logger = dr.lp.Logger(exporterScope, otellog.WithInstrumentationVersion("0.1.0"))
	return dr
}

// deviceTime is what the device's clock says at true time t.
func (dr *deviceRun) deviceTime(t time.Time) time.Time { return t.Add(dr.d.ClockOffset) }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run executes the script. Telemetry is uploaded when the app goes to the
// background and at the end, unless the device uploads late.
func (dr *deviceRun) run(ctx context.Context) error {
	for _, st := range dr.d.Steps {
		if err := sleep(ctx, st.Pause); err != nil {
			return err
		}
		now := time.Now()
		for _, l := range st.Logs {
			dr.emit(ctx, l, now)
		}
		if s := dr.sessions[st.SessionID]; s != nil {
			t := now
			if s.Start == nil {
				s.Start = &t
			}
			if !s.Ended {
				s.End = &t
			}
		}
		switch st.Kind {
		case StepAction, StepBackgroundFetch:
			if err := dr.action(ctx, st.Action); err != nil {
				return err
			}
		case StepOnline:
			if err := dr.flushQueue(ctx); err != nil {
				return err
			}
		case StepBackground, StepTerminate:
			if !dr.d.Truth.LateUpload {
				if err := dr.upload(ctx); err != nil {
					return err
				}
			}
		}
	}
	if len(dr.queue) > 0 {
		if err := dr.flushQueue(ctx); err != nil {
			return err
		}
	}
	if !dr.d.Truth.LateUpload {
		return dr.upload(ctx)
	}
	return nil
}

// emit writes one device log record at true time now.
func (dr *deviceRun) emit(ctx context.Context, l *LogRecord, now time.Time) {
	var r otellog.Record
	ts := dr.deviceTime(now)
	r.SetTimestamp(ts)
	r.SetObservedTimestamp(ts)
	r.SetSeverity(l.Severity)
	r.SetSeverityText(l.Truth.Severity)
	r.SetBody(attribute.StringValue(l.Body))
	if l.Event != "" {
		r.SetEventName(l.Event)
	}
	r.AddAttributes(l.Attrs...)
	dr.logger.Emit(ctx, r)
	t := now
	l.Truth.Time = &t
	if l.Event == schema.EventSessionEnd {
		if s := dr.sessions[l.Truth.SessionID]; s != nil {
			s.End = &t
		}
	}
	if l.Event == schema.EventSessionStart {
		if s := dr.sessions[l.Truth.SessionID]; s != nil {
			s.Start, s.End = &t, &t
		}
	}
}

// resultKeys are the client span attributes only the response decides.
var resultKeys = []attribute.Key{
	schema.AttrHTTPResponseStatusCode, schema.AttrErrorType, schema.AttrStitchRequestQueueDelayMs,
	schema.AttrStitchSamplingDecision, schema.AttrStitchSamplingReason, schema.AttrStitchSamplingRate,
}

func without(kvs []attribute.KeyValue, keys ...attribute.Key) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		drop := false
		for _, k := range keys {
			if kv.Key == k {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// action runs one user action: its root span and its requests (or queues
// them when offline).
func (dr *deviceRun) action(ctx context.Context, a *Action) error {
	at := a.Truth
	start := time.Now()
	sctx := withPlannedIDs(ctx, at.TraceID, at.SpanID)
	actx, span := dr.tracer.Start(sctx, at.Name,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(dr.deviceTime(start)),
		trace.WithAttributes(without(a.Attrs, resultKeys...)...))
	failedType := ""
	for _, r := range a.Requests {
		if at.Queued {
			dr.queue = append(dr.queue, queuedRequest{r: r, a: a, parent: actx, created: time.Now()})
			continue
		}
		errType, err := dr.request(ctx, actx, r, 0)
		if err != nil {
			return err
		}
		if errType != "" {
			failedType = errType
		}
	}
	end := time.Now()
	res := sample(at.SessionID, failedType != "", end.Sub(start).Milliseconds())
	span.SetAttributes(samplingAttrs(res)...)
	if failedType != "" {
		span.SetStatus(codes.Error, "request failed: "+failedType)
	}
	span.End(trace.WithTimestamp(dr.deviceTime(end)))
	at.Start, at.End = &start, &end
	if at.Error != (failedType != "") {
		dr.f.warn("action %s (%s): planned error=%v, got error=%v", at.ID, at.Name, at.Error, failedType != "")
		at.Error = failedType != ""
	}
	if at.Exported != res.Keep() || at.SamplingReason != string(res.Reason) {
		dr.f.adjust("action %s (%s): planned sampling %s, got %s/%s", at.ID, at.Name, at.SamplingReason, res.Decision, res.Reason)
		at.Exported, at.SamplingReason = res.Keep(), string(res.Reason)
	}
	if failedType != "" && a.ErrorLog != nil {
		// The app shows an error; the record belongs to the action's trace.
		dr.emit(actx, a.ErrorLog, end)
	}
	return nil
}

// flushQueue sends the requests queued while offline, each in the trace
// and session it was created in.
func (dr *deviceRun) flushQueue(ctx context.Context) error {
	q := dr.queue
	dr.queue = nil
	for _, qr := range q {
		delay := time.Since(qr.created)
		if _, err := dr.request(ctx, qr.parent, qr.r, delay); err != nil {
			return err
		}
		qr.r.Truth.QueueDelayMs = delay.Milliseconds()
	}
	return nil
}

// request sends a request with its planned retries; it returns the final
// error.type ("" on success).
func (dr *deviceRun) request(ctx, parent context.Context, r *Request, queueDelay time.Duration) (string, error) {
	errType := ""
	for i, at := range r.Attempts {
		if i > 0 {
			if errType != "503" {
				dr.f.warn("request %s: planned resend %d not sent (previous attempt: %q)", r.Truth.ID, i, errType)
				break
			}
			if err := sleep(ctx, at.Backoff); err != nil {
				return "", err
			}
		}
		var err error
		if errType, err = dr.attempt(ctx, parent, r, at, queueDelay); err != nil {
			return "", err
		}
	}
	dr.requests++
	if errType != "" {
		dr.failures++
	}
	return errType, nil
}

// attempt sends one HTTP attempt under its own client span, with
// traceparent and baggage.
func (dr *deviceRun) attempt(ctx, parent context.Context, r *Request, at *Attempt, queueDelay time.Duration) (string, error) {
	tr := at.Truth
	rt := r.Truth
	start := time.Now()
	attrs := without(at.Attrs, resultKeys...)
	if rt.Queued {
		attrs = append(attrs, attribute.Int64(schema.AttrStitchRequestQueueDelayMs, queueDelay.Milliseconds()))
	}
	sctx := withPlannedIDs(parent, "", tr.ClientSpanID)
	_, span := dr.tracer.Start(sctx, r.SpanName,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(dr.deviceTime(start)),
		trace.WithAttributes(attrs...))
	traceparent, err := schema.FormatTraceparent(span.SpanContext())
	if err != nil {
		return "", fmt.Errorf("request %s: %w", rt.ID, err)
	}
	bag, err := schema.EncodeBaggage(rt.SessionID, baggage.Baggage{})
	if err != nil {
		return "", fmt.Errorf("request %s: %w", rt.ID, err)
	}
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+r.Host+r.Target, body)
	if err != nil {
		return "", err
	}
	req.Header.Set(schema.HeaderTraceparent, traceparent)
	req.Header.Set(schema.HeaderBaggage, bag)
	req.Header.Set("X-Request-Id", rt.ID)
	req.Header.Set("User-Agent", "ShopApp/"+dr.d.Truth.AppVersion+" "+dr.d.Truth.OSName+"/"+dr.d.Truth.OSVersion)
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.ep == epPayment {
		req.Header.Set("Idempotency-Key", rt.ID)
	}
	status := 0
	errType := ""
	resp, err := dr.f.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
		errType = errorTypeFor(status)
	} else {
		if ctx.Err() != nil {
			span.End()
			return "", ctx.Err()
		}
		errType = "_OTHER"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			errType = "timeout"
		}
	}
	end := time.Now()
	dur := end.Sub(start)
	res := sample(rt.SessionID, errType != "", dur.Milliseconds())
	if status > 0 {
		span.SetAttributes(attribute.Int(schema.AttrHTTPResponseStatusCode, status))
	}
	if errType != "" {
		span.SetAttributes(attribute.String(schema.AttrErrorType, errType))
		span.SetStatus(codes.Error, errType)
	}
	span.SetAttributes(samplingAttrs(res)...)
	span.End(trace.WithTimestamp(dr.deviceTime(end)))

	tr.Start, tr.End, tr.DurationMs = &start, &end, dur.Milliseconds()
	if status != tr.Status {
		dr.f.warn("request %s attempt %d (%s): planned status %d, got %d (%v)", rt.ID, tr.ResendCount, rt.Endpoint, tr.Status, status, err)
		tr.Status, tr.ErrorType = status, errType
		rt.Status, rt.Outcome = status, "ok"
		if errType != "" {
			rt.Outcome = "error"
		}
	}
	if tr.Exported != res.Keep() || tr.SamplingReason != string(res.Reason) {
		dr.f.adjust("request %s attempt %d: planned sampling %s, got %s/%s (%s)", rt.ID, tr.ResendCount, tr.SamplingReason, res.Decision, res.Reason, dur)
		tr.Exported, tr.SamplingReason = res.Keep(), string(res.Reason)
	}
	return errType, nil
}

// upload sends everything held so far.
func (dr *deviceRun) upload(ctx context.Context) error {
	spans, logs := dr.spans.take(), dr.logs.take()
	if len(spans) == 0 && len(logs) == 0 {
		return nil
	}
	if err := dr.f.uplink.send(ctx, spans, logs); err != nil {
		return fmt.Errorf("%s: %w", dr.d.Name, err)
	}
	dr.uploadedSpans += len(spans)
	dr.uploadedLogs += len(logs)
	return nil
}

func (dr *deviceRun) close(ctx context.Context) {
	_ = dr.tp.Shutdown(ctx)
	_ = dr.lp.Shutdown(ctx)
}
