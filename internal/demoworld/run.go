package demoworld

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/stitch-observability/stitch/internal/stack"
)

// Run tags: resource attributes that mark one run's telemetry so that the
// proof can count per run. The plugin must never depend on them.
const (
	TagRunID       = "service.instance.id"
	TagEnvironment = "deployment.environment.name"
	// Environment is the value of TagEnvironment.
	Environment = "stitch-demoworld"
)

// DefaultConcurrency is how many devices run at once.
const DefaultConcurrency = 8

// Config sizes one run.
type Config struct {
	Seed int64
	// Sessions is the number of app sessions (0: DefaultSessions).
	Sessions int
	// OutDir receives groundtruth-<run ID>.json ("" writes no file).
	OutDir string
	// Concurrency is how many devices run at once (0: DefaultConcurrency).
	Concurrency int
	// RunID overrides the generated run ID (it must be unique per run).
	RunID string
	// Variant makes the world another app of the same shape (see
	// PlanOptions.Variant); "" is the demo world.
	Variant string
}

// Targets are the stores' base URLs. Every one must be on the loopback
// interface: the world sends nothing elsewhere.
type Targets struct {
	// JaegerOTLPHTTP receives OTLP traces at /v1/traces.
	JaegerOTLPHTTP string `json:"jaeger_otlp_http"`
	// VictoriaLogs receives OTLP logs at /insert/opentelemetry/v1/logs and
	// answers LogsQL at /select/logsql/query.
	VictoriaLogs string `json:"victorialogs"`
	// Prometheus receives OTLP metrics at /api/v1/otlp/v1/metrics.
	Prometheus string `json:"prometheus"`
	// JaegerQuery is Jaeger's query API (used by ProveArrival).
	JaegerQuery string `json:"jaeger_query"`
	// Collector, when set, is the reference collector's OTLP/HTTP base URL
	// (/v1/traces, /v1/logs, /v1/metrics): every signal is sent there
	// instead of straight to the stores, which are then only read.
	Collector string `json:"collector,omitempty"`
}

// sendTo returns the URLs the world's telemetry goes to.
func (t Targets) sendTo() (traces, logs, metrics string) {
	if t.Collector != "" {
		return t.Collector + "/v1/traces", t.Collector + "/v1/logs", t.Collector + "/v1/metrics"
	}
	return t.JaegerOTLPHTTP + otlpTracesPath, t.VictoriaLogs + otlpLogsPath, t.Prometheus + otlpMetricsPath
}

// normalized checks that each URL is http(s) on a loopback address, without
// path, query or credentials, and drops a trailing slash.
func (t Targets) normalized(needQuery bool) (Targets, error) {
	check := func(name string, raw *string, required bool) error {
		if *raw == "" {
			if required {
				return fmt.Errorf("demoworld: target %s is not set", name)
			}
			return nil
		}
		u, err := url.Parse(strings.TrimSuffix(*raw, "/"))
		if err != nil {
			return fmt.Errorf("demoworld: target %s: %w", name, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "" {
			return fmt.Errorf("demoworld: target %s must be http(s)://host:port with no path, got %q", name, *raw)
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("demoworld: target %s must be on the loopback interface, got %q", name, host)
		}
		*raw = u.String()
		return nil
	}
	err := errors.Join(
		check("JaegerOTLPHTTP", &t.JaegerOTLPHTTP, true),
		check("VictoriaLogs", &t.VictoriaLogs, true),
		check("Prometheus", &t.Prometheus, true),
		check("JaegerQuery", &t.JaegerQuery, needQuery),
		check("Collector", &t.Collector, false),
	)
	return t, err
}

// progress prints timestamped progress lines.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// NewRunID returns a run ID for a seed: unique per execution (it holds the
// start time), unlike everything the seed decides.
func NewRunID(seed int64) string {
	now := time.Now().UTC()
	return fmt.Sprintf("world-%d-%s%03d", seed, now.Format("20060102T150405"), now.Nanosecond()/1e6)
}

// Run plans the world for cfg, starts its backend services on 127.0.0.1,
// runs the fleet against them, flushes every pipeline to the targets and
// returns the ground truth (also written to cfg.OutDir). Progress goes to
// out. When telemetry could not be exported the ground truth is returned
// together with the error.
func Run(ctx context.Context, cfg Config, targets Targets, out io.Writer) (*GroundTruth, error) {
	if out == nil {
		out = io.Discard
	}
	targets, err := targets.normalized(false)
	if err != nil {
		return nil, err
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = DefaultSessions
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Concurrency < 1 || cfg.Concurrency > 64 {
		return nil, fmt.Errorf("demoworld: concurrency must be between 1 and 64, got %d", cfg.Concurrency)
	}
	w, err := PlanWith(cfg.Seed, cfg.Sessions, PlanOptions{Collector: targets.Collector != "", Variant: cfg.Variant})
	if err != nil {
		return nil, err
	}
	runID := cfg.RunID
	if runID == "" {
		runID = NewRunID(cfg.Seed)
	}
	gt := w.Truth
	p := &progress{w: out, start: time.Now()}
	attempts := 0
	for _, r := range gt.Requests {
		attempts += len(r.Attempts)
	}
	p.printf("world %s: seed %d, %d sessions on %d devices, %d actions, %d requests (%d attempts)",
		runID, cfg.Seed, len(gt.Sessions), len(gt.Devices), len(gt.Actions), len(gt.Requests), attempts)
	f := gt.Faults
	p.printf("faults: slow %s (%d requests); cascade in %d sessions; %d retried requests; %s strips traceparent (%d requests); %d skewed clocks; %d late uploaders; %d sampled-out sessions; %d queued requests",
		f.SlowEndpoint.Endpoint, len(f.SlowEndpoint.Requests), len(f.Cascade.Sessions), len(f.Retries.Requests),
		f.StrippingHost.ServerAddress, len(f.StrippingHost.Requests), len(f.ClockSkew), len(f.LateUpload),
		len(f.SampledOut.Sessions), len(f.OfflineQueue))

	tags := []attribute.KeyValue{attribute.String(TagRunID, runID), attribute.String(TagEnvironment, Environment)}
	errs := &exportErrors{}
	started := time.Now()
	ss, err := startServices(ctx, w, targets, tags, errs)
	if err != nil {
		return nil, fmt.Errorf("demoworld: starting services: %w", err)
	}
	servicesUp := true
	defer func() {
		if servicesUp {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = ss.shutdown(sctx)
		}
	}()
	var listeners []string
	for _, s := range ss.list {
		listeners = append(listeners, s.name+" "+s.ln.Addr().String())
	}
	p.printf("services up: %s", strings.Join(listeners, ", "))

	if targets.Collector != "" {
		p.printf("sending through the collector at %s (tail sampling, redaction, request histograms, persistent queues)", targets.Collector)
	} else {
		p.printf("sending straight to the stores (no collector: the backends follow traceparent's sampled flag)")
	}
	tracesURL, logsURL, _ := targets.sendTo()
	spanExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(tracesURL), otlptracehttp.WithTimeout(15*time.Second),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 300 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 15 * time.Second}))
	if err != nil {
		return nil, err
	}
	logExp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(logsURL), otlploghttp.WithTimeout(15*time.Second),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 300 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 15 * time.Second}))
	if err != nil {
		return nil, err
	}
	fl := &fleet{
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{DialContext: loopbackDialer(ss.addrs), MaxIdleConnsPerHost: 64},
		},
		uplink: &uplink{spans: spanExp, logs: logExp},
		tags:   tags,
	}
	sessions := map[string]*SessionTruth{}
	for _, s := range gt.Sessions {
		sessions[s.ID] = s
	}

	// The fleet: cfg.Concurrency devices at a time.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := make([]*deviceRun, len(w.Devices))
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErr error
	done := 0
	for i, d := range w.Devices {
		dr := newDeviceRun(fl, d, sessions)
		runs[i] = dr
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-rctx.Done():
				return
			}
			defer func() { <-sem }()
			t0 := time.Now()
			err := dr.run(rctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if runErr == nil {
					runErr = fmt.Errorf("%s: %w", d.Name, err)
				}
				cancel()
				return
			}
			done++
			note := ""
			if d.Truth.LateUpload {
				note = ", telemetry held for a late upload"
			}
			p.printf("[%d/%d] %s %s %s %s, app %s: %d sessions, %d requests (%d failed) in %.1fs%s",
				done, len(w.Devices), d.Name, d.Truth.Model, d.Truth.OSName, d.Truth.OSVersion, d.Truth.AppVersion,
				len(d.Truth.Sessions), dr.requests, dr.failures, time.Since(t0).Seconds(), note)
		}()
	}
	wg.Wait()
	fl.client.CloseIdleConnections()
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr != nil {
		for _, dr := range runs {
			dr.close(context.Background())
		}
		return nil, fmt.Errorf("demoworld: %w", runErr)
	}

	// Late uploads: devices that were offline (or backgrounded for long)
	// export everything they held, now.
	for _, dr := range runs {
		if dr.d.Truth.LateUpload {
			if err := dr.upload(ctx); err != nil {
				return nil, fmt.Errorf("demoworld: late upload: %w", err)
			}
			p.printf("late upload: %s sent %d spans and %d log records it held", dr.d.Name, dr.uploadedSpans, dr.uploadedLogs)
		}
	}
	deviceSpans, deviceLogs := 0, 0
	for _, dr := range runs {
		deviceSpans += dr.uploadedSpans
		deviceLogs += dr.uploadedLogs
		dr.close(ctx)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	servicesUp = false
	shutdownErr := ss.shutdown(sctx)
	shutdownErr = errors.Join(shutdownErr, fl.uplink.shutdown(sctx))
	finished := time.Now()
	p.printf("flushed: %d device spans and %d device log records uploaded; services stopped and their pipelines flushed", deviceSpans, deviceLogs)

	warnings := fl.warnings
	if n := fl.misses.Load(); n > 0 {
		warnings = append(warnings, fmt.Sprintf("%d device spans got IDs the plan did not choose", n))
	}
	exportErrs := errs.list()
	for _, e := range exportErrs {
		warnings = append(warnings, "export: "+e)
	}
	if warnings == nil {
		warnings = []string{}
	}
	gt.Run = &RunTruth{
		ID:        runID,
		Tags:      map[string]string{TagRunID: runID, TagEnvironment: Environment},
		Started:   started,
		Finished:  finished,
		Targets:   targets,
		Listeners: ss.listeners(),
		Warnings:  warnings,
		// Adjustments are recorded, not counted as departures.
		Adjustments: fl.adjustments,
	}
	gt.computeExpectations()
	for _, wmsg := range warnings {
		p.printf("warning: %s", wmsg)
	}
	for _, a := range fl.adjustments {
		p.printf("adjusted (machine load): %s", a)
	}
	if cfg.OutDir != "" {
		path := filepath.Join(cfg.OutDir, "groundtruth-"+runID+".json")
		gt.Run.File = path
		if err := gt.WriteFile(path); err != nil {
			return gt, fmt.Errorf("demoworld: writing the ground truth: %w", err)
		}
		p.printf("ground truth: %s", path)
	}
	p.printf("run %s finished in %.1fs", runID, finished.Sub(started).Seconds())
	if len(exportErrs) > 0 {
		shutdownErr = errors.Join(shutdownErr, errors.New(strings.Join(exportErrs, "; ")))
	}
	if shutdownErr != nil {
		return gt, fmt.Errorf("demoworld: telemetry export failed: %w", shutdownErr)
	}
	return gt, nil
}

// StackTargets are a local stack's URLs. Through the collector (when the
// stack runs one and direct is false) the world sends every signal to it;
// otherwise straight to the stores.
func StackTargets(s *stack.Stack, direct bool) Targets {
	t := Targets{
		JaegerOTLPHTTP: s.JaegerOTLPHTTPURL(),
		JaegerQuery:    s.JaegerURL(),
		VictoriaLogs:   s.VictoriaLogsURL(),
		Prometheus:     s.PrometheusURL(),
	}
	if !direct && s.HasCollector() {
		t.Collector = s.CollectorOTLPHTTPURL()
	}
	return t
}
