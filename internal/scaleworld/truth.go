package scaleworld

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// TruthFormat names the ground-truth file's format.
const TruthFormat = "stitch-scaleworld/v1"

// PercentileMethod is how the truth's percentiles are computed.
const PercentileMethod = "nearest-rank: the ceil(p*n)-th smallest value (ms, microsecond resolution)"

// Truth is the ground truth of one loaded scale world: what the stores must
// hold for it.
type Truth struct {
	Format        string    `json:"format"`
	App           string    `json:"app"`
	RunID         string    `json:"run_id"`
	Seed          int64     `json:"seed"`
	SchemaVersion string    `json:"schema_version"`
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
	// Services are the backend services ("<app>-<role>").
	Services  []string   `json:"services"`
	Endpoints []Endpoint `json:"endpoints"`
	// Metric is the request histogram's Prometheus name (add _bucket,
	// _count, _sum); job is the service, instance the run ID.
	Metric     string         `json:"metric"`
	Aggregates Aggregates     `json:"aggregates"`
	Expect     Expect         `json:"expect"`
	Sessions   []SessionTruth `json:"sessions"`
}

// SessionTruth is one session.
type SessionTruth struct {
	ID          string         `json:"id"`
	Service     string         `json:"service"`
	Version     string         `json:"version"`
	OSName      string         `json:"os_name"`
	OSVersion   string         `json:"os_version"`
	DeviceModel string         `json:"device_model"`
	NetworkType string         `json:"network_type"`
	StartReason string         `json:"start_reason"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	HasEnd      bool           `json:"has_end"`
	HasError    bool           `json:"has_error"`
	Requests    []RequestTruth `json:"requests"`
}

// RequestTruth is one request (one trace).
type RequestTruth struct {
	TraceID      string `json:"trace_id"`
	ClientSpanID string `json:"client_span_id"`
	ServerSpanID string `json:"server_span_id,omitempty"`
	// Endpoint is "METHOD url.template".
	Endpoint    string    `json:"endpoint"`
	Method      string    `json:"method"`
	URLTemplate string    `json:"url_template"`
	Service     string    `json:"service"`
	Start       time.Time `json:"start"`
	// StatusCode is the client span's http.response.status_code (0: no
	// response); ServerStatusCode the server span's.
	StatusCode       int     `json:"status_code"`
	ServerStatusCode int     `json:"server_status_code,omitempty"`
	Error            bool    `json:"error"`
	ErrorType        string  `json:"error_type,omitempty"`
	Failure          string  `json:"failure,omitempty"`
	ClientMs         float64 `json:"client_ms"`
	// ServerMs is the server span's duration; absent without a server span.
	ServerMs *float64 `json:"server_ms,omitempty"`
	Children int      `json:"children"`
}

// Percentiles of durations in ms.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// EndpointStats aggregates one endpoint.
type EndpointStats struct {
	Endpoint string `json:"endpoint"`
	Service  string `json:"service"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// Client: every client span; Server: every server span.
	Client Percentiles `json:"client_ms"`
	Server Percentiles `json:"server_ms"`
}

// Aggregates are totals over the world.
type Aggregates struct {
	TotalSessions     int             `json:"total_sessions"`
	SessionsWithError int             `json:"sessions_with_error"`
	SessionsWithEnd   int             `json:"sessions_with_end"`
	TotalRequests     int             `json:"total_requests"`
	FailedRequests    int             `json:"failed_requests"`
	PercentileMethod  string          `json:"percentile_method"`
	Endpoints         []EndpointStats `json:"endpoints"`
}

// Expect counts what each store holds for the run.
type Expect struct {
	Traces int `json:"traces"`
	// Spans per service.name.
	Spans map[string]int `json:"spans"`
	// Logs per service.name (the app's are device log records).
	Logs map[string]int `json:"logs"`
	// SessionStarts is the number of session.start records (= sessions).
	SessionStarts int `json:"session_starts"`
	// HistogramSeries is the number of request histogram series (label
	// sets without le); Observations the total of their counts at the
	// window's end (one per client span and one per server span).
	HistogramSeries int `json:"histogram_series"`
	Observations    int `json:"observations"`
}

// Truth computes the world's ground truth.
func (w *World) Truth() *Truth {
	t := &Truth{
		Format: TruthFormat, App: w.App, RunID: w.RunID, Seed: w.Seed, SchemaVersion: schema.SchemaVersion,
		WindowStart: w.WindowStart, WindowEnd: w.WindowEnd, Services: w.Services, Endpoints: w.Endpoints,
		Metric: RequestHistogram,
	}
	agg := &t.Aggregates
	agg.PercentileMethod = PercentileMethod
	client := make([][]float64, len(w.Endpoints))
	server := make([][]float64, len(w.Endpoints))
	stats := make([]EndpointStats, len(w.Endpoints))
	for i, e := range w.Endpoints {
		stats[i] = EndpointStats{Endpoint: e.Key, Service: e.Service}
	}
	t.Sessions = make([]SessionTruth, len(w.Sessions))
	for i, s := range w.Sessions {
		st := SessionTruth{
			ID: s.ID, Service: w.App, Version: s.Version, OSName: osName, OSVersion: s.OSVersion, DeviceModel: s.Model,
			NetworkType: s.Network, StartReason: s.StartReason, Start: s.Start, End: s.End, HasEnd: s.HasEnd, HasError: s.HasError(),
			Requests: make([]RequestTruth, len(s.Requests)),
		}
		for j, r := range s.Requests {
			e := w.Endpoints[r.Endpoint]
			rt := RequestTruth{
				TraceID: r.TraceID.String(), ClientSpanID: r.ClientSpanID.String(),
				Endpoint: e.Key, Method: e.Method, URLTemplate: e.URLTemplate, Service: e.Service, Start: r.Start,
				StatusCode: r.Status, Error: r.Failed(), ErrorType: r.ErrorType, Failure: r.Failure,
				ClientMs: durMs(r.Client), Children: len(r.Children),
			}
			stats[r.Endpoint].Requests++
			client[r.Endpoint] = append(client[r.Endpoint], rt.ClientMs)
			if r.HasServer {
				rt.ServerSpanID = r.ServerSpanID.String()
				rt.ServerStatusCode = r.ServerStatus
				ms := durMs(r.Server)
				rt.ServerMs = &ms
				server[r.Endpoint] = append(server[r.Endpoint], ms)
			}
			if rt.Error {
				agg.FailedRequests++
				stats[r.Endpoint].Errors++
			}
			st.Requests[j] = rt
		}
		agg.TotalRequests += len(s.Requests)
		if st.HasError {
			agg.SessionsWithError++
		}
		if s.HasEnd {
			agg.SessionsWithEnd++
		}
		t.Sessions[i] = st
	}
	agg.TotalSessions = len(w.Sessions)
	for i := range stats {
		stats[i].Client = percentiles(client[i])
		stats[i].Server = percentiles(server[i])
	}
	agg.Endpoints = stats
	t.Expect = w.expect()
	return t
}

func (w *World) expect() Expect {
	e := Expect{Spans: map[string]int{}, Logs: map[string]int{}, SessionStarts: len(w.Sessions)}
	for _, s := range w.Sessions {
		e.Logs[w.App] += len(deviceLogs(s))
		for _, r := range s.Requests {
			e.Traces++
			e.Spans[w.App]++
			if r.HasServer {
				svc := w.Endpoints[r.Endpoint].Service
				e.Spans[svc] += 1 + len(r.Children)
				e.Logs[svc] += len(backendLogs(r))
				e.Observations++
			}
			e.Observations++
		}
	}
	e.HistogramSeries = len(w.histograms())
	return e
}

func durMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentiles are nearest-rank percentiles (PercentileMethod).
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Percentiles{N: len(s), P50: NearestRank(s, 0.50), P95: NearestRank(s, 0.95), P99: NearestRank(s, 0.99)}
}

// NearestRank is the ceil(p*n)-th smallest value of sorted (p in (0, 1]).
func NearestRank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(p*float64(len(sorted)) - 1e-9))
	k = min(max(k, 1), len(sorted))
	return sorted[k-1]
}

// Endpoint returns the aggregate of one endpoint ("METHOD url.template").
func (a Aggregates) Endpoint(key string) (EndpointStats, bool) {
	for _, e := range a.Endpoints {
		if e.Endpoint == key {
			return e, true
		}
	}
	return EndpointStats{}, false
}

// SessionIDs lists the sessions' IDs.
func (t *Truth) SessionIDs() []string {
	out := make([]string, len(t.Sessions))
	for i, s := range t.Sessions {
		out[i] = s.ID
	}
	return out
}

// TruthFileName is the ground-truth file's name for a run.
func TruthFileName(app, runID string) string {
	return fmt.Sprintf("scaleworld-%s-%s.json", app, runID)
}

// WriteTruth writes t as JSON into dir (created if needed) and returns the
// file's path.
func WriteTruth(t *Truth, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, TruthFileName(t.App, t.RunID))
	f, err := os.Create(path) // #nosec G304 -- the caller's output folder
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", " ")
	if err := enc.Encode(t); err != nil {
		f.Close()
		return "", err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// LoadTruth reads a ground-truth file written by WriteTruth.
func LoadTruth(path string) (*Truth, error) {
	f, err := os.Open(path) // #nosec G304 -- a ground-truth file chosen by the caller
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var t Truth
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if t.Format != TruthFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, t.Format, TruthFormat)
	}
	return &t, nil
}
