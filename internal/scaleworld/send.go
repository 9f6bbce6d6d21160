package scaleworld

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/internal/demoworld"
)

// Sending: the planned world goes straight to the stores as OTLP/HTTP
// protobuf, in large requests, the three signals at once.

// Store paths.
const (
	tracesPath  = "/v1/traces"
	logsPath    = "/insert/opentelemetry/v1/logs"
	metricsPath = "/api/v1/otlp/v1/metrics"
)

// Batch sizes: about this many spans or log records per request.
const (
	spansPerRequest = 6000
	logsPerRequest  = 6000
	// seriesPerRequest bounds the histogram series of one metrics request.
	seriesPerRequest = 24
	// sendersPerSignal is how many requests of one signal are in flight.
	sendersPerSignal = 2
)

// SendOptions tune Send.
type SendOptions struct {
	// Progress receives a line per finished signal (nil: nothing).
	Progress io.Writer
	// Client is the HTTP client (default: one with a 2-minute timeout).
	Client *http.Client
}

// SendStats says what Send sent.
type SendStats struct {
	Requests    int           `json:"requests"`
	Bytes       int64         `json:"bytes"`
	Spans       int           `json:"spans"`
	LogRecords  int           `json:"log_records"`
	DataPoints  int           `json:"data_points"`
	TracesTook  time.Duration `json:"traces_took"`
	LogsTook    time.Duration `json:"logs_took"`
	MetricsTook time.Duration `json:"metrics_took"`
	Took        time.Duration `json:"took"`
}

// Send writes the world to the stores: traces to targets.JaegerOTLPHTTP,
// logs to targets.VictoriaLogs, request histograms to targets.Prometheus
// (targets.Collector is ignored: the world goes straight to the stores).
func Send(ctx context.Context, w *World, targets demoworld.Targets) (SendStats, error) {
	return SendWith(ctx, w, targets, SendOptions{})
}

// SendWith is Send with options.
func SendWith(ctx context.Context, w *World, targets demoworld.Targets, o SendOptions) (SendStats, error) {
	targets, err := checkTargets(targets, false)
	if err != nil {
		return SendStats{}, err
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	s := &sender{client: o.Client}
	var (
		stats SendStats
		mu    sync.Mutex
	)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t0 := time.Now()
		batches := batchSessions(w.Sessions, spanCount, spansPerRequest)
		err := s.each(gctx, len(batches), func(ctx context.Context, i int) error {
			td := w.buildTraces(batches[i])
			b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			if err != nil {
				return err
			}
			s.spans.Add(int64(td.SpanCount()))
			return s.post(ctx, targets.JaegerOTLPHTTP+tracesPath, b)
		})
		mu.Lock()
		stats.TracesTook = time.Since(t0)
		mu.Unlock()
		if err == nil {
			fmt.Fprintf(o.Progress, "scaleworld: traces sent: %d spans in %d requests, %s\n", s.spans.Load(), len(batches), time.Since(t0).Round(time.Millisecond))
		}
		return err
	})
	g.Go(func() error {
		t0 := time.Now()
		batches := batchSessions(w.Sessions, logCount, logsPerRequest)
		err := s.each(gctx, len(batches), func(ctx context.Context, i int) error {
			ld := w.buildLogs(batches[i])
			b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
			if err != nil {
				return err
			}
			s.logs.Add(int64(ld.LogRecordCount()))
			return s.post(ctx, targets.VictoriaLogs+logsPath, b)
		})
		mu.Lock()
		stats.LogsTook = time.Since(t0)
		mu.Unlock()
		if err == nil {
			fmt.Fprintf(o.Progress, "scaleworld: logs sent: %d records in %d requests, %s\n", s.logs.Load(), len(batches), time.Since(t0).Round(time.Millisecond))
		}
		return err
	})
	g.Go(func() error {
		t0 := time.Now()
		series := w.histograms()
		var chunks [][]*histSeries
		for i := 0; i < len(series); i += seriesPerRequest {
			chunks = append(chunks, series[i:min(i+seriesPerRequest, len(series))])
		}
		// One series' points go in one request, in time order: metrics
		// requests are sent one after another.
		var err error
		for _, c := range chunks {
			md := w.buildMetrics(c)
			var b []byte
			if b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md); err != nil {
				break
			}
			s.points.Add(int64(md.DataPointCount()))
			if err = s.post(gctx, targets.Prometheus+metricsPath, b); err != nil {
				break
			}
		}
		mu.Lock()
		stats.MetricsTook = time.Since(t0)
		mu.Unlock()
		if err == nil {
			fmt.Fprintf(o.Progress, "scaleworld: metrics sent: %d histogram series, %d data points in %d requests, %s\n", len(series), s.points.Load(), len(chunks), time.Since(t0).Round(time.Millisecond))
		}
		return err
	})
	err = g.Wait()
	stats.Requests = int(s.requests.Load())
	stats.Bytes = s.bytes.Load()
	stats.Spans = int(s.spans.Load())
	stats.LogRecords = int(s.logs.Load())
	stats.DataPoints = int(s.points.Load())
	stats.Took = time.Since(start)
	return stats, err
}

// batchSessions cuts sessions into consecutive batches of about target
// items each (weight gives a session's items).
func batchSessions(sessions []*Session, weight func(*Session) int, target int) [][]*Session {
	var out [][]*Session
	from, n := 0, 0
	for i, s := range sessions {
		n += weight(s)
		if n >= target {
			out = append(out, sessions[from:i+1])
			from, n = i+1, 0
		}
	}
	if from < len(sessions) {
		out = append(out, sessions[from:])
	}
	return out
}

type sender struct {
	client                               *http.Client
	requests, bytes, spans, logs, points atomic.Int64
}

// each runs fn for 0..n-1 with sendersPerSignal at a time.
func (s *sender) each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sendersPerSignal)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

// post sends one OTLP protobuf request, retrying a few times when the
// store is busy or unreachable for a moment.
func (s *sender) post(ctx context.Context, u string, body []byte) error {
	const attempts = 6
	backoff := 250 * time.Millisecond
	var last error
	for a := range attempts {
		if a > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(ctx.Err(), last)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		retry, err := s.postOnce(ctx, u, body)
		if err == nil {
			s.requests.Add(1)
			s.bytes.Add(int64(len(body)))
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return last
}

func (s *sender) postOnce(ctx context.Context, u string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := s.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
	return retry, fmt.Errorf("POST %s: %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
}

// checkTargets requires http URLs on loopback without a path, and drops
// a trailing slash.
func checkTargets(t demoworld.Targets, needQuery bool) (demoworld.Targets, error) {
	list := []struct {
		name string
		u    *string
	}{{"jaeger-otlp", &t.JaegerOTLPHTTP}, {"victorialogs", &t.VictoriaLogs}, {"prometheus", &t.Prometheus}}
	if needQuery {
		list = append(list, struct {
			name string
			u    *string
		}{"jaeger-query", &t.JaegerQuery})
	}
	for _, x := range list {
		if *x.u == "" {
			return t, fmt.Errorf("scaleworld: target %s is not set", x.name)
		}
		p, err := url.Parse(*x.u)
		if err != nil {
			return t, fmt.Errorf("scaleworld: target %s: %w", x.name, err)
		}
		host := p.Hostname()
		if (p.Scheme != "http" && p.Scheme != "https") || (host != "127.0.0.1" && host != "localhost" && host != "::1") ||
			strings.Trim(p.Path, "/") != "" || p.RawQuery != "" || p.User != nil {
			return t, fmt.Errorf("scaleworld: target %s = %q: want http(s)://<loopback>:<port> without a path", x.name, *x.u)
		}
		*x.u = strings.TrimRight(*x.u, "/")
	}
	return t, nil
}
