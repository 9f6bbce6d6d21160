package demoworld

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// GroundTruthFormat names the ground-truth file format; a loader refuses
// other formats.
const GroundTruthFormat = "stitch.demoworld.groundtruth/v1"

// GroundTruth is everything one demo world holds and what the stores must
// therefore contain. The planned part is a pure function of the seed and the
// size (Plan(...).GroundTruth() is reproducible byte for byte); Run adds what
// only an execution knows: wall-clock times (fields named start/end/time,
// true time, never the device's skewed clock), measured queue delays, and
// the run's ID and tags in Run.
//
// Times ending in _ms that start with virtual_ are on the device's virtual
// clock that drove the session rules; they are not wall-clock times.
type GroundTruth struct {
	Format            string `json:"format"`
	Seed              int64  `json:"seed"`
	SessionsRequested int    `json:"sessions_requested"`
	// Collector: the world was sent through the reference collector,
	// which samples whole traces by the schema's rule (see PlanOptions).
	Collector         bool               `json:"collector,omitempty"`
	SchemaVersion     string             `json:"schema_version"`
	App               AppTruth           `json:"app"`
	Services          []ServiceTruth     `json:"services"`
	Devices           []*DeviceTruth     `json:"devices"`
	Sessions          []*SessionTruth    `json:"sessions"`
	Actions           []*ActionTruth     `json:"actions"`
	Requests          []*RequestTruth    `json:"requests"`
	BackendLogs       []*BackendLogTruth `json:"backend_logs"`
	DeviceLogs        []*DeviceLogTruth  `json:"device_logs"`
	Faults            FaultsTruth        `json:"faults"`
	PropagationBreaks []BreakTruth       `json:"propagation_breaks"`
	Expect            Expectations       `json:"expect"`
	Run               *RunTruth          `json:"run,omitempty"`
}

// AppTruth describes the simulated iOS app.
type AppTruth struct {
	ServiceName string `json:"service_name"`
	// Variant names the world's variant ("" for the demo world): its app
	// service, versions and app-facing hosts differ (PlanOptions.Variant).
	Variant            string  `json:"variant,omitempty"`
	SamplingRate       float64 `json:"sampling_rate"`
	LatencyThresholdMs int64   `json:"latency_threshold_ms"`
	// PseudonymKeyNote says where app.installation.id and user.id come from.
	PseudonymKeyNote string `json:"pseudonym_key_note"`
}

// ServiceTruth is one backend service.
type ServiceTruth struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Host is the logical host name it serves (server.address for the app).
	Host string `json:"host"`
	// AppFacing is true for hosts the app calls directly.
	AppFacing bool `json:"app_facing"`
	// StripsTraceparent: the service ignores incoming trace context.
	StripsTraceparent bool `json:"strips_traceparent"`
}

// DeviceTruth is one simulated device (one app installation).
type DeviceTruth struct {
	Name           string `json:"name"`
	Model          string `json:"model"`
	OSName         string `json:"os_name"`
	OSVersion      string `json:"os_version"`
	AppVersion     string `json:"app_version"`
	InstallationID string `json:"installation_id"`
	UserID         string `json:"user_id,omitempty"`
	UserTier       string `json:"user_tier,omitempty"`
	Network        string `json:"network"`
	NetworkSubtype string `json:"network_subtype,omitempty"`
	// ClockTrueOffsetMs is the device clock minus true time: every device
	// timestamp is true time plus this.
	ClockTrueOffsetMs int64 `json:"clock_true_offset_ms"`
	// ClockOffsetAttrMs is what the device itself exports as
	// stitch.clock.offset_ms (its estimate of server time minus device time,
	// so about -ClockTrueOffsetMs, off by a few milliseconds).
	ClockOffsetAttrMs int64 `json:"clock_offset_attr_ms"`
	// LateUpload: the device held all its telemetry and exported it only
	// at the end of the run.
	LateUpload bool     `json:"late_upload"`
	Sessions   []string `json:"sessions"`
}

// SessionTruth is one app session.
type SessionTruth struct {
	ID          string  `json:"id"`
	PreviousID  string  `json:"previous_id,omitempty"`
	Device      string  `json:"device"`
	AppVersion  string  `json:"app_version"`
	OSName      string  `json:"os_name"`
	OSVersion   string  `json:"os_version"`
	DeviceModel string  `json:"device_model"`
	Network     string  `json:"network"`
	StartReason string  `json:"start_reason"`
	Sampled     bool    `json:"sampled"`
	SampleRate  float64 `json:"sampling_rate"`
	// Ended is true when a later session replaced this one (session.end
	// was written); EndReason is then the new session's start reason.
	Ended          bool     `json:"ended"`
	EndReason      string   `json:"end_reason,omitempty"`
	VirtualStartMs int64    `json:"virtual_start_ms"`
	VirtualEndMs   int64    `json:"virtual_end_ms"`
	Actions        int      `json:"actions"`
	Requests       int      `json:"requests"`
	Faults         []string `json:"faults,omitempty"`
	// Start is when session.start was written; End when session.end was
	// written, or the session's last activity when it never ended.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// ActionTruth is one user action (a tap, a screen load, a background
// fetch): the root span of a device trace.
type ActionTruth struct {
	ID        string `json:"id"` // stitch.action.id
	Name      string `json:"name"`
	Screen    string `json:"screen,omitempty"`
	SessionID string `json:"session_id"`
	Device    string `json:"device"`
	TraceID   string `json:"trace_id"`
	SpanID    string `json:"span_id"`
	// Queued: the device was offline; its requests waited in the queue.
	Queued         bool       `json:"queued,omitempty"`
	Error          bool       `json:"error"`
	Exported       bool       `json:"exported"`
	SamplingReason string     `json:"sampling_reason"`
	Start          *time.Time `json:"start,omitempty"`
	End            *time.Time `json:"end,omitempty"`
}

// RequestTruth is one app request (all its attempts).
type RequestTruth struct {
	ID            string `json:"id"` // also sent as X-Request-Id
	SessionID     string `json:"session_id"`
	ActionID      string `json:"action_id"`
	Device        string `json:"device"`
	Method        string `json:"method"`
	URLTemplate   string `json:"url_template"`
	ServerAddress string `json:"server_address"`
	// Endpoint is "METHOD server.address url.template".
	Endpoint string `json:"endpoint"`
	TraceID  string `json:"trace_id"`
	// Status is the final attempt's status; Outcome "ok" or "error".
	Status  int    `json:"status"`
	Outcome string `json:"outcome"`
	Queued  bool   `json:"queued,omitempty"`
	// QueueDelayMs is the measured time in the offline queue.
	QueueDelayMs int64           `json:"queue_delay_ms,omitempty"`
	Faults       []string        `json:"faults,omitempty"`
	Attempts     []*AttemptTruth `json:"attempts"`
}

// Propagation values of an attempt.
const (
	// PropagationPropagated: the backends continued the app's trace.
	PropagationPropagated = "propagated"
	// PropagationStripped: the host ignored traceparent; its spans are in
	// a trace of its own with no session.id.
	PropagationStripped = "stripped"
	// PropagationSampledOut: the session is sampled out, the traceparent
	// said so, and the backends recorded no spans or logs.
	PropagationSampledOut = "sampled_out"
)

// Tail-sampling decisions of the collector (AttemptTruth.TailSampling).
const (
	// TailKept: the trace has an error or a slow span; kept whole.
	TailKept = "kept"
	// TailDropped: nothing but the session rule applies, and it drops.
	TailDropped = "dropped"
)

// AttemptTruth is one HTTP attempt: one client span.
type AttemptTruth struct {
	ClientSpanID string `json:"client_span_id"`
	ResendCount  int    `json:"resend_count"`
	Status       int    `json:"status"`
	ErrorType    string `json:"error_type,omitempty"`
	// Exported: the device exported the client span (sampling rule).
	Exported       bool   `json:"exported"`
	SamplingReason string `json:"sampling_reason"`
	Propagation    string `json:"propagation"`
	// BackendTraceID is the trace holding the backend spans this attempt
	// caused: the app's trace when propagated, the legacy host's own root
	// trace when stripped, "" when sampled out.
	BackendTraceID string         `json:"backend_trace_id,omitempty"`
	NoBackendTrace string         `json:"no_backend_trace,omitempty"`
	BackendSpans   map[string]int `json:"backend_spans,omitempty"`
	BackendLogs    int            `json:"backend_logs"`
	// TailSampling is the collector's decision on the backend spans of an
	// attempt of a sampled-out session (TailKept, TailDropped); "" when the
	// session is sampled or the world does not go through the collector.
	TailSampling string `json:"tail_sampling,omitempty"`
	// DroppedSpans and DroppedLogs are what the backends recorded and the
	// collector's sampling drops (not counted in BackendSpans/BackendLogs).
	DroppedSpans map[string]int `json:"dropped_spans,omitempty"`
	DroppedLogs  int            `json:"dropped_logs,omitempty"`
	// Served lists the requests the services answered for this attempt:
	// each is one observation in the RED histogram series of its service,
	// route and status, even when nothing is traced.
	Served []Served `json:"served"`
	// PlannedServerMs is the simulated work along the backend path.
	PlannedServerMs int64      `json:"planned_server_ms"`
	Start           *time.Time `json:"start,omitempty"`
	End             *time.Time `json:"end,omitempty"`
	DurationMs      int64      `json:"duration_ms,omitempty"`
}

// BackendLogTruth is one backend log record.
type BackendLogTruth struct {
	Service   string `json:"service"`
	Severity  string `json:"severity"`
	Body      string `json:"body"`
	TraceID   string `json:"trace_id"`
	SessionID string `json:"session_id,omitempty"`
	RequestID string `json:"request_id"`
	Attempt   int    `json:"attempt"`
}

// DeviceLogTruth is one device log record (an event or a message).
type DeviceLogTruth struct {
	Device    string `json:"device"`
	SessionID string `json:"session_id"`
	// Event is the event name (session.start, session.end,
	// device.app.lifecycle) or "" for a plain message.
	Event          string     `json:"event,omitempty"`
	Body           string     `json:"body"`
	Severity       string     `json:"severity"`
	AppState       string     `json:"app_state,omitempty"`
	TraceID        string     `json:"trace_id,omitempty"`
	Exported       bool       `json:"exported"`
	SamplingReason string     `json:"sampling_reason"`
	Time           *time.Time `json:"time,omitempty"`
}

// FaultsTruth lists the seeded faults and where they are.
type FaultsTruth struct {
	SlowEndpoint  SlowEndpointFault  `json:"slow_endpoint"`
	Cascade       CascadeFault       `json:"cascade"`
	Retries       RetryFault         `json:"retries"`
	StrippingHost StrippingHostFault `json:"stripping_host"`
	ClockSkew     []ClockSkewFault   `json:"clock_skew"`
	LateUpload    []string           `json:"late_upload_devices"`
	SampledOut    SampledOutFault    `json:"sampled_out"`
	OfflineQueue  []string           `json:"offline_queue_requests"`
	NotFound      []string           `json:"not_found_requests"`
	Rotations     map[string]int     `json:"rotations_by_reason"`
	Restarts      []string           `json:"restarted_sessions"`
	ExpiredFetch  []string           `json:"background_fetch_in_expired_session_requests"`
}

// SlowEndpointFault: every request to the endpoint is slow.
type SlowEndpointFault struct {
	Endpoint       string   `json:"endpoint"`
	BackendService string   `json:"backend_service"`
	BackendRoute   string   `json:"backend_route"`
	MinDelayMs     int64    `json:"min_delay_ms"`
	MaxDelayMs     int64    `json:"max_delay_ms"`
	Requests       []string `json:"requests"`
}

// CascadeFault: inventory times out, orders answers 500, the gateway 502
// and the app shows an error.
type CascadeFault struct {
	SKU      string   `json:"sku"`
	Chain    []string `json:"chain"`
	Sessions []string `json:"sessions"`
	Requests []string `json:"requests"`
}

// RetryFault: the payment provider fails the first attempt of these
// requests with 503 and the app retries once.
type RetryFault struct {
	Service  string   `json:"service"`
	Status   int      `json:"status"`
	Requests []string `json:"requests"`
}

// StrippingHostFault: the legacy host ignores traceparent and baggage.
type StrippingHostFault struct {
	ServerAddress string   `json:"server_address"`
	Service       string   `json:"service"`
	Requests      []string `json:"requests"`
}

// ClockSkewFault is a device whose clock is off by seconds to minutes.
type ClockSkewFault struct {
	Device            string `json:"device"`
	ClockTrueOffsetMs int64  `json:"clock_true_offset_ms"`
}

// SampledOutFault: sessions the schema's rule samples out.
type SampledOutFault struct {
	Rate     float64  `json:"rate"`
	Sessions []string `json:"sessions"`
	// KeptSpans are the device spans still exported (errors, slow).
	KeptSpans []string `json:"kept_spans"`
}

// BreakTruth is an expected break between the app's trace and the backend.
type BreakTruth struct {
	RequestID      string `json:"request_id"`
	Attempt        int    `json:"attempt"`
	ClientTraceID  string `json:"client_trace_id"`
	BackendTraceID string `json:"backend_trace_id,omitempty"`
	Reason         string `json:"reason"`
}

// Expectations are the counts each store must hold for the run.
type Expectations struct {
	// JaegerSpans: spans per service.name.
	JaegerSpans map[string]int `json:"jaeger_spans"`
	// VictoriaLogsRecords: log records per service.name.
	VictoriaLogsRecords map[string]int `json:"victorialogs_records"`
	// PrometheusRequests: http.server.request.duration observations per
	// service (job), sampled out or not.
	PrometheusRequests map[string]int `json:"prometheus_requests"`
	// PrometheusSeries: observations per "service route status" series.
	PrometheusSeries map[string]int `json:"prometheus_series"`
	// ExemplarServices: services that served at least one sampled request,
	// so exemplars with trace IDs must exist for them.
	ExemplarServices []string `json:"exemplar_services"`
	// RequestHistograms (through the collector only): observations of the
	// collector's request histogram, made before sampling, per
	// "app SPAN_KIND_CLIENT METHOD url.template" (the client spans the
	// devices exported) and per "service SPAN_KIND_SERVER" (every request
	// a backend served).
	RequestHistograms map[string]int `json:"request_histograms,omitempty"`
}

// RunTruth describes one execution.
type RunTruth struct {
	ID string `json:"id"`
	// Tags are the resource attributes that mark this run's telemetry.
	Tags     map[string]string `json:"tags"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Targets  Targets           `json:"targets"`
	// Listeners are the services' loopback addresses.
	Listeners map[string]string `json:"listeners"`
	File      string            `json:"file,omitempty"`
	// Warnings list every place where the execution did not follow the
	// plan; the records above then say what really happened.
	Warnings []string `json:"warnings"`
	// Adjustments list timing-dependent outcomes (sampling by measured
	// latency) that differed from the plan on a loaded machine; the records
	// above say what happened.
	Adjustments []string `json:"adjustments,omitempty"`
}

// Key names the RED series: "service route status".
func (s Served) Key() string { return s.Service + " " + s.Route + " " + strconv.Itoa(s.Status) }

// Session returns the session with the given ID, or nil.
func (gt *GroundTruth) Session(id string) *SessionTruth {
	for _, s := range gt.Sessions {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Request returns the request with the given ID, or nil.
func (gt *GroundTruth) Request(id string) *RequestTruth {
	for _, r := range gt.Requests {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// BackendTraceIDs returns every trace ID holding backend spans, sorted.
func (gt *GroundTruth) BackendTraceIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range gt.Requests {
		for _, a := range r.Attempts {
			if a.BackendTraceID != "" && !seen[a.BackendTraceID] {
				seen[a.BackendTraceID] = true
				out = append(out, a.BackendTraceID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ExemplarTraceIDs returns every trace ID a metric exemplar of the run may
// name, sorted: the backend traces, and through the collector also the
// traces its tail sampling dropped, since exemplars are taken when a request
// is served, before sampling.
func (gt *GroundTruth) ExemplarTraceIDs() []string {
	out := gt.BackendTraceIDs()
	if gt.Collector {
		for _, r := range gt.Requests {
			out = append(out, r.TraceID)
		}
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// computeExpectations derives Expect from the records.
func (gt *GroundTruth) computeExpectations() {
	e := Expectations{JaegerSpans: map[string]int{}, VictoriaLogsRecords: map[string]int{}, PrometheusRequests: map[string]int{}, PrometheusSeries: map[string]int{}, ExemplarServices: []string{}}
	if gt.Collector {
		e.RequestHistograms = map[string]int{}
	}
	app := gt.App.ServiceName
	for _, a := range gt.Actions {
		if a.Exported {
			e.JaegerSpans[app]++
		}
	}
	sampled := map[string]bool{}
	for _, r := range gt.Requests {
		for _, at := range r.Attempts {
			if at.Exported {
				e.JaegerSpans[app]++
			}
			for svc, n := range at.BackendSpans {
				e.JaegerSpans[svc] += n
				sampled[svc] = true
			}
			for _, sv := range at.Served {
				e.PrometheusRequests[sv.Service]++
				e.PrometheusSeries[sv.Key()]++
				if gt.Collector {
					e.RequestHistograms[sv.Service+" SPAN_KIND_SERVER"]++
				}
			}
			if gt.Collector && at.Exported {
				e.RequestHistograms[app+" SPAN_KIND_CLIENT "+r.Method+" "+r.URLTemplate]++
			}
		}
	}
	for _, l := range gt.BackendLogs {
		e.VictoriaLogsRecords[l.Service]++
	}
	for _, l := range gt.DeviceLogs {
		if l.Exported {
			e.VictoriaLogsRecords[app]++
		}
	}
	for _, svc := range backendServices {
		if sampled[svc] {
			e.ExemplarServices = append(e.ExemplarServices, svc)
		}
	}
	gt.Expect = e
}

// Encode writes the ground truth as indented JSON.
func (gt *GroundTruth) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(gt)
}

// JSON returns the ground truth as indented JSON.
func (gt *GroundTruth) JSON() ([]byte, error) {
	var b bytes.Buffer
	if err := gt.Encode(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes the ground truth to path (atomically: a temporary file
// renamed into place).
func (gt *GroundTruth) WriteFile(path string) error {
	b, err := gt.JSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DecodeGroundTruth reads a ground truth written by Encode.
func DecodeGroundTruth(r io.Reader) (*GroundTruth, error) {
	var gt GroundTruth
	if err := json.NewDecoder(r).Decode(&gt); err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if gt.Format != GroundTruthFormat {
		return nil, fmt.Errorf("ground truth: format %q, want %q", gt.Format, GroundTruthFormat)
	}
	return &gt, nil
}

// LoadGroundTruth reads a ground-truth file.
func LoadGroundTruth(path string) (*GroundTruth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gt, err := DecodeGroundTruth(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gt, nil
}

// clone returns a deep copy.
func (gt *GroundTruth) clone() *GroundTruth {
	b, err := json.Marshal(gt)
	if err != nil {
		panic(err) // only plain data: cannot fail
	}
	var out GroundTruth
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}
