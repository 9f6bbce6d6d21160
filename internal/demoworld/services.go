package demoworld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// The backend services: real net/http servers on 127.0.0.1, each with its
// own OpenTelemetry pipelines (traces to Jaeger, logs through the slog
// bridge to VictoriaLogs, RED metrics with exemplars to Prometheus).

const (
	otlpTracesPath  = "/v1/traces"
	otlpLogsPath    = "/insert/opentelemetry/v1/logs"
	otlpMetricsPath = "/api/v1/otlp/v1/metrics"

	metricInterval = 2 * time.Second
)

type service struct {
	name   string
	ln     net.Listener
	srv    *http.Server
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	lp     *sdklog.LoggerProvider
	log    *slog.Logger
	tracer trace.Tracer
	client *http.Client
}

// services is the running backend.
type services struct {
	list []*service
	// addrs maps logical "host:80" to the loopback listener address.
	addrs  map[string]string
	faults backendFaults

	mu          sync.Mutex
	flakySeen   map[string]bool
	serveErrors []error
}

// loopbackDialer resolves only the world's logical hosts, to their loopback
// listeners: nothing the world sends can leave the machine.
func loopbackDialer(addrs map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		real, ok := addrs[addr]
		if !ok {
			return nil, fmt.Errorf("demoworld: %s is not a host of the demo world", addr)
		}
		return d.DialContext(ctx, network, real)
	}
}

func startServices(ctx context.Context, w *World, t Targets, tags []attribute.KeyValue, errs *exportErrors) (_ *services, err error) {
	ss := &services{addrs: map[string]string{}, faults: w.faults, flakySeen: map[string]bool{}}
	defer func() {
		if err != nil {
			ss.shutdown(context.Background())
		}
	}()
	for _, name := range backendServices {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		s := &service{name: name, ln: ln}
		ss.list = append(ss.list, s)
		ss.addrs[serviceHost[name]+":80"] = ln.Addr().String()
		// A variant's app calls its own names for the app-facing hosts.
		ss.addrs[w.names.host(serviceHost[name])+":80"] = ln.Addr().String()
	}
	for _, s := range ss.list {
		if err := ss.instrument(ctx, s, t, tags, errs); err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		prop := schema.Propagator()
		var outer func(http.Handler) http.Handler
		switch s.name {
		case svcGateway:
			for _, rt := range gatewayRoutes {
				mux.HandleFunc(rt.pattern, ss.gateway(s, rt))
			}
		case svcOrders:
			ss.ordersRoutes(s, mux)
		case svcInventory:
			ss.inventoryRoutes(s, mux)
		case svcPayments:
			ss.paymentsRoutes(s, mux)
		case svcLegacy:
			ss.legacyRoutes(s, mux)
			// The legacy host ignores incoming trace context and baggage.
			prop = propagation.NewCompositeTextMapPropagator()
			outer = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx := context.WithValue(r.Context(), requestIDKey{}, r.Header.Get("X-Request-Id"))
					next.ServeHTTP(w, r.WithContext(ctx))
				})
			}
		}
		var h http.Handler = otelhttp.NewHandler(mux, s.name,
			otelhttp.WithTracerProvider(s.tp), otelhttp.WithMeterProvider(s.mp), otelhttp.WithPropagators(prop))
		if outer != nil {
			h = outer(h)
		}
		s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		s.client = &http.Client{
			Timeout: 10 * time.Second,
			Transport: otelhttp.NewTransport(&http.Transport{DialContext: loopbackDialer(ss.addrs), MaxIdleConnsPerHost: 32},
				otelhttp.WithTracerProvider(s.tp), otelhttp.WithMeterProvider(s.mp), otelhttp.WithPropagators(schema.Propagator())),
		}
		go func(s *service) {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				ss.mu.Lock()
				ss.serveErrors = append(ss.serveErrors, fmt.Errorf("%s: %w", s.name, err))
				ss.mu.Unlock()
			}
		}(s)
	}
	return ss, nil
}

// instrument builds a service's three pipelines.
func (ss *services) instrument(ctx context.Context, s *service, t Targets, tags []attribute.KeyValue, errs *exportErrors) error {
	attrs := append([]attribute.KeyValue{
		attribute.String(schema.AttrServiceName, s.name),
		attribute.String(schema.AttrServiceVersion, serviceVersions[s.name]),
		attribute.String(schema.AttrStitchSchemaVersion, schema.SchemaVersion),
	}, tags...)
	res := resource.NewSchemaless(attrs...)

	tracesURL, logsURL, metricsURL := t.sendTo()
	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(tracesURL),
		otlptracehttp.WithTimeout(10*time.Second),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 300 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 15 * time.Second}))
	if err != nil {
		return err
	}
	topts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(serviceSampler(t)),
		sdktrace.WithSpanProcessor(sessionStamp{}),
		sdktrace.WithBatcher(redactingSpanExporter{next: texp, what: s.name + " traces", errs: errs}, sdktrace.WithBatchTimeout(500*time.Millisecond)),
	}
	if s.name == svcLegacy {
		topts = append(topts, sdktrace.WithIDGenerator(legacyIDGenerator{traces: ss.faults.legacyTraces}))
	}
	s.tp = sdktrace.NewTracerProvider(topts...)
	s.tracer = s.tp.Tracer("github.com/stitch-observability/stitch/internal/demoworld/" + s.name)

	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(metricsURL),
		otlpmetrichttp.WithTimeout(10*time.Second),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true, InitialInterval: 300 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 15 * time.Second}))
	if err != nil {
		return err
	}
	s.mp = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(recordingMetricExporter{Exporter: mexp, what: s.name + " metrics", errs: errs}, sdkmetric.WithInterval(metricInterval))),
		sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter),
	)

	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(logsURL),
		otlploghttp.WithTimeout(10*time.Second),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 300 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 15 * time.Second}))
	if err != nil {
		return err
	}
	batch := sdklog.NewBatchProcessor(recordingLogExporter{Exporter: lexp, what: s.name + " logs", errs: errs}, sdklog.WithExportInterval(500*time.Millisecond))
	s.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(backendLogs{next: batch}))
	s.log = otelslog.NewLogger("github.com/stitch-observability/stitch/internal/demoworld/"+s.name, otelslog.WithLoggerProvider(s.lp))
	return nil
}

// serviceSampler is the services' head sampler. Straight to the stores they
// follow the caller's sampled flag (a sampled-out session's requests leave
// nothing); through the collector they record every request and leave the
// decision to its tail sampling, which sees errors and latency.
func serviceSampler(t Targets) sdktrace.Sampler {
	if t.Collector != "" {
		return sdktrace.AlwaysSample()
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// shutdown stops the servers, then flushes every pipeline (the metric
// reader exports a last time).
func (ss *services) shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range ss.list {
		if s.srv != nil {
			errs = append(errs, s.srv.Shutdown(ctx))
		} else {
			s.ln.Close()
		}
	}
	for _, s := range ss.list {
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
		if s.tp != nil {
			errs = append(errs, s.tp.Shutdown(ctx))
		}
		if s.lp != nil {
			errs = append(errs, s.lp.Shutdown(ctx))
		}
		if s.mp != nil {
			errs = append(errs, s.mp.Shutdown(ctx))
		}
	}
	ss.mu.Lock()
	errs = append(errs, ss.serveErrors...)
	ss.mu.Unlock()
	return errors.Join(errs...)
}

func (ss *services) listeners() map[string]string {
	out := map[string]string{}
	for _, s := range ss.list {
		out[s.name] = s.ln.Addr().String()
	}
	return out
}

// handler helpers

func traceIDOf(ctx context.Context) string {
	return trace.SpanContextFromContext(ctx).TraceID().String()
}

func setRoute(r *http.Request) {
	if _, route, ok := strings.Cut(r.Pattern, " "); ok {
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("http.route", route))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func readSKU(r *http.Request) string {
	var body struct {
		SKU string `json:"sku"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	_ = json.Unmarshal(b, &body)
	return body.SKU
}

// gateway proxies one app-facing route to its downstream service.
func (ss *services) gateway(s *service, rt gatewayRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		sleepCtx(ctx, delay(svcGateway, rt.ep, traceIDOf(ctx)))
		var body io.Reader
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			body = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, rt.method, "http://"+serviceHost[rt.downstream]+rt.path(r), body)
		down := 0
		if err == nil {
			for _, h := range []string{"Content-Type", "Idempotency-Key", "X-Request-Id"} {
				if v := r.Header.Get(h); v != "" {
					req.Header.Set(h, v)
				}
			}
			var resp *http.Response
			if resp, err = s.client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				down = resp.StatusCode
			}
		}
		status := gatewayStatus(down)
		args := []any{"http.route", rt.pattern, "upstream", rt.downstream, "upstream.status_code", down, "http.response.status_code", status}
		switch {
		case status < 400:
			s.log.InfoContext(ctx, msgProxied, args...)
		case status == http.StatusNotFound:
			s.log.WarnContext(ctx, msgUpstreamNotFound, args...)
		case status == http.StatusServiceUnavailable:
			s.log.WarnContext(ctx, msgUpstreamBusy, args...)
		default:
			if err != nil {
				args = append(args, "error", err.Error())
			}
			s.log.ErrorContext(ctx, msgBadGateway, args...)
		}
		w.WriteHeader(status)
	}
}

// dbCall wraps simulated database work in an internal span.
func dbCall(ctx context.Context, s *service, name string, d time.Duration) {
	_, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	sleepCtx(ctx, d)
	span.End()
}

func (ss *services) ordersRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		dbCall(ctx, s, "orders.db.load", delay(svcOrders, epOrder, traceIDOf(ctx)))
		id, _ := strconv.Atoi(r.PathValue("id"))
		if id >= missingOrderFrom {
			s.log.WarnContext(ctx, msgOrderMissing, "order.id", id)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		s.log.InfoContext(ctx, msgOrderLoaded, "order.id", id)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /users/{id}/orders", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		dbCall(ctx, s, "orders.db.list", delay(svcOrders, epUserOrders, traceIDOf(ctx)))
		s.log.InfoContext(ctx, msgOrdersListed)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		sku := readSKU(r)
		sleepCtx(ctx, delay(svcOrders, epCheckout, traceIDOf(ctx)))
		ictx, cancel := context.WithTimeout(ctx, ordersInventoryTimeout)
		defer cancel()
		body, _ := json.Marshal(map[string]any{"sku": sku, "quantity": 1})
		req, err := http.NewRequestWithContext(ictx, http.MethodPost, "http://"+hostInventory+"/reservations", bytes.NewReader(body))
		status := 0
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = s.client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
		}
		if err != nil || status >= 500 {
			reason := "inventory answered " + strconv.Itoa(status)
			if err != nil {
				reason = err.Error()
			}
			s.log.ErrorContext(ctx, msgReservationFail, "sku", sku, "error", reason)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		dbCall(ctx, s, "orders.db.insert", 0)
		s.log.InfoContext(ctx, msgOrderCreated, "sku", sku)
		w.WriteHeader(http.StatusCreated)
	})
}

func (ss *services) inventoryRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		sleepCtx(ctx, delay(svcInventory, epCatalog, traceIDOf(ctx)))
		s.log.InfoContext(ctx, msgCatalogServed)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		d := delay(svcInventory, epSearch, traceIDOf(ctx))
		sleepCtx(ctx, d)
		s.log.WarnContext(ctx, msgSlowSearch, "duration_ms", d.Milliseconds())
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /reservations", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		sku := readSKU(r)
		if sku == ss.faults.poisonedSKU {
			s.log.WarnContext(ctx, msgLockWait, "sku", sku)
			sleepCtx(ctx, lockWaitLimit) // until the caller gives up
			s.log.ErrorContext(ctx, msgReservationAbort, "sku", sku, "error", "lock wait abandoned by caller")
			trace.SpanFromContext(ctx).SetStatus(codes.Error, "lock wait timeout")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		sleepCtx(ctx, delay(svcInventory, epCheckout, traceIDOf(ctx)))
		s.log.InfoContext(ctx, msgStockReserved, "sku", sku)
		w.WriteHeader(http.StatusOK)
	})
}

func (ss *services) paymentsRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("POST /charges", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
		key := r.Header.Get("Idempotency-Key")
		ss.mu.Lock()
		fail := ss.faults.flakyKeys[key] && !ss.flakySeen[key]
		ss.flakySeen[key] = true
		ss.mu.Unlock()
		_, span := s.tracer.Start(ctx, "payments.provider.charge", trace.WithSpanKind(trace.SpanKindInternal))
		sleepCtx(ctx, delay(svcPayments, epPayment, traceIDOf(ctx)))
		if fail {
			span.SetStatus(codes.Error, "provider unavailable")
			span.End()
			s.log.ErrorContext(ctx, msgProviderDown, "idempotency_key", key)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		span.End()
		s.log.InfoContext(ctx, msgChargeCaptured, "idempotency_key", key)
		w.WriteHeader(http.StatusOK)
	})
}

func (ss *services) legacyRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /catalog/v1/promotions", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		setRoute(r)
		sleepCtx(ctx, delay(svcLegacy, epPromotions, traceIDOf(ctx)))
		s.log.InfoContext(ctx, msgPromotions)
		w.WriteHeader(http.StatusOK)
	})
}
