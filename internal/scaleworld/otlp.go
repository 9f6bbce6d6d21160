package scaleworld

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// OTLP built with pdata from the plan: traces and logs per batch of
// sessions, request histograms per service. Building is pure: the same
// world gives the same OTLP.

// Attribute names outside the schema that the OTLP carries.
const (
	attrServiceInstanceID = "service.instance.id"
	attrHTTPRoute         = "http.route"
	attrSpanName          = "span.name"
	attrSpanKind          = "span.kind"
	attrStatusCode        = "status.code"
)

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// sampling is the schema's sampling outcome for a device item (rate 1:
// every session is kept; errors and slow requests say so).
func sampling(sessionID string, hasError bool, d time.Duration) schema.SampleResult {
	r, err := schema.Sample(schema.SampleInput{SessionID: sessionID, Rate: SamplingRate, HasError: hasError, DurationMs: d.Milliseconds(), ThresholdMs: LatencyThresholdMs})
	if err != nil {
		panic(fmt.Sprintf("scaleworld: sampling a planned session: %v", err)) // IDs are valid by construction
	}
	return r
}

func putSampling(m pcommon.Map, r schema.SampleResult) {
	m.PutStr(schema.AttrStitchSamplingDecision, string(r.Decision))
	m.PutStr(schema.AttrStitchSamplingReason, string(r.Reason))
	m.PutDouble(schema.AttrStitchSamplingRate, SamplingRate)
}

func (w *World) putDeviceResource(m pcommon.Map, d device) {
	m.PutStr(schema.AttrServiceName, w.App)
	m.PutStr(schema.AttrServiceVersion, d.version)
	m.PutStr(schema.AttrOSName, osName)
	m.PutStr(schema.AttrOSVersion, d.osVersion)
	m.PutStr(schema.AttrDeviceModelIdentifier, d.model)
	m.PutStr(schema.AttrStitchSchemaVersion, schema.SchemaVersion)
	m.PutStr(schema.AttrStitchConsent, consent)
	m.PutStr(attrServiceInstanceID, w.RunID)
}

func (w *World) putBackendResource(m pcommon.Map, svc string) {
	m.PutStr(schema.AttrServiceName, svc)
	m.PutStr(schema.AttrServiceVersion, serviceVersions[roleOf(w.App, svc)])
	m.PutStr(schema.AttrStitchSchemaVersion, schema.SchemaVersion)
	m.PutStr(attrServiceInstanceID, w.RunID)
}

func roleOf(app, svc string) string { return svc[len(app)+1:] }

// ---------------------------------------------------------------- traces

// spanCount is the number of spans of a session.
func spanCount(s *Session) int {
	n := 0
	for _, r := range s.Requests {
		n++
		if r.HasServer {
			n += 1 + len(r.Children)
		}
	}
	return n
}

// buildTraces is the OTLP of the sessions' traces: one resource per
// device kind and per backend service.
func (w *World) buildTraces(sessions []*Session) ptrace.Traces {
	td := ptrace.NewTraces()
	devScopes := map[int]ptrace.SpanSlice{}
	svcScopes := map[string]ptrace.SpanSlice{}
	devSpans := func(i int) ptrace.SpanSlice {
		if ss, ok := devScopes[i]; ok {
			return ss
		}
		rs := td.ResourceSpans().AppendEmpty()
		w.putDeviceResource(rs.Resource().Attributes(), w.devices[i])
		sc := rs.ScopeSpans().AppendEmpty()
		sc.Scope().SetName(scopeApp)
		devScopes[i] = sc.Spans()
		return sc.Spans()
	}
	svcSpans := func(svc string) ptrace.SpanSlice {
		if ss, ok := svcScopes[svc]; ok {
			return ss
		}
		rs := td.ResourceSpans().AppendEmpty()
		w.putBackendResource(rs.Resource().Attributes(), svc)
		sc := rs.ScopeSpans().AppendEmpty()
		sc.Scope().SetName(scopeBack)
		svcScopes[svc] = sc.Spans()
		return sc.Spans()
	}
	for _, s := range sessions {
		dev := devSpans(s.device)
		for _, r := range s.Requests {
			e := w.Endpoints[r.Endpoint]
			c := dev.AppendEmpty()
			c.SetTraceID(r.TraceID)
			c.SetSpanID(r.ClientSpanID)
			c.SetName(e.Key)
			c.SetKind(ptrace.SpanKindClient)
			c.SetStartTimestamp(ts(r.Start))
			c.SetEndTimestamp(ts(r.ClientEnd()))
			a := c.Attributes()
			a.PutStr(schema.AttrSessionID, s.ID)
			a.PutStr(schema.AttrURLTemplate, e.URLTemplate)
			a.PutStr(schema.AttrHTTPRequestMethod, e.Method)
			a.PutStr(schema.AttrServerAddress, e.ServerAddress)
			a.PutStr(schema.AttrNetworkConnectionType, s.Network)
			if r.Status > 0 {
				a.PutInt(schema.AttrHTTPResponseStatusCode, int64(r.Status))
			}
			if r.Failed() {
				a.PutStr(schema.AttrErrorType, r.ErrorType)
				c.Status().SetCode(ptrace.StatusCodeError)
			}
			putSampling(a, sampling(s.ID, r.Failed(), r.Client))
			if !r.HasServer {
				continue
			}
			spans := svcSpans(e.Service)
			sv := spans.AppendEmpty()
			sv.SetTraceID(r.TraceID)
			sv.SetSpanID(r.ServerSpanID)
			sv.SetParentSpanID(r.ClientSpanID)
			sv.SetName(e.Method + " " + e.URLTemplate)
			sv.SetKind(ptrace.SpanKindServer)
			sv.SetStartTimestamp(ts(r.ServerStart()))
			sv.SetEndTimestamp(ts(r.ServerEnd()))
			a = sv.Attributes()
			a.PutStr(schema.AttrSessionID, s.ID)
			a.PutStr(attrHTTPRoute, e.URLTemplate)
			a.PutStr(schema.AttrHTTPRequestMethod, e.Method)
			a.PutInt(schema.AttrHTTPResponseStatusCode, int64(r.ServerStatus))
			if r.ServerFailed() {
				a.PutStr(schema.AttrErrorType, fmt.Sprint(r.ServerStatus))
				sv.Status().SetCode(ptrace.StatusCodeError)
			}
			for _, ch := range r.Children {
				cs := spans.AppendEmpty()
				cs.SetTraceID(r.TraceID)
				cs.SetSpanID(ch.SpanID)
				cs.SetParentSpanID(r.ServerSpanID)
				cs.SetName(ch.Name)
				if ch.Internal {
					cs.SetKind(ptrace.SpanKindInternal)
				} else {
					cs.SetKind(ptrace.SpanKindClient)
				}
				start := r.ServerStart().Add(ch.Offset)
				cs.SetStartTimestamp(ts(start))
				cs.SetEndTimestamp(ts(start.Add(ch.Duration)))
				cs.Attributes().PutStr(schema.AttrSessionID, s.ID)
			}
		}
	}
	return td
}

// ---------------------------------------------------------------- logs

// logRec is one planned log record.
type logRec struct {
	at        time.Time
	event     string
	body      string
	sev       plog.SeverityNumber
	errorType string
	reason    string
	state     string
	trace     pcommon.TraceID
	span      pcommon.SpanID
	duration  time.Duration
}

// deviceLogs are a session's device log records in time order:
// session.start first, lifecycle changes, an error record per failed
// request, session.end last (when the session has one).
func deviceLogs(s *Session) []logRec {
	out := make([]logRec, 0, 2+len(s.Lifecycle)+len(s.Requests))
	out = append(out, logRec{at: s.Start, event: schema.EventSessionStart, body: schema.EventSessionStart, sev: plog.SeverityNumberInfo, reason: s.StartReason})
	for _, l := range s.Lifecycle {
		out = append(out, logRec{at: l.At, event: schema.EventDeviceAppLifecycle, body: schema.EventDeviceAppLifecycle, sev: plog.SeverityNumberInfo, state: l.State})
	}
	for _, r := range s.Requests {
		if r.Failed() {
			body := "request failed: " + describeFailure(r)
			out = append(out, logRec{at: r.ClientEnd(), body: body, sev: plog.SeverityNumberError, errorType: r.ErrorType, trace: r.TraceID, span: r.ClientSpanID, duration: r.Client})
		}
	}
	if s.HasEnd {
		out = append(out, logRec{at: s.End, event: schema.EventSessionEnd, body: schema.EventSessionEnd, sev: plog.SeverityNumberInfo})
	}
	slices.SortStableFunc(out[1:], func(a, b logRec) int { return a.at.Compare(b.at) })
	return out
}

func describeFailure(r *Request) string {
	switch r.Failure {
	case FailureServer:
		return fmt.Sprintf("HTTP %d", r.Status)
	case FailureTimeout:
		return "timed out"
	default:
		return "connection lost"
	}
}

// backendLogs are the server's log records for a request.
func backendLogs(r *Request) []logRec {
	if !r.HasServer {
		return nil
	}
	out := make([]logRec, 0, 2)
	end := r.ServerEnd()
	switch {
	case r.ServerFailed():
		out = append(out, logRec{at: end.Add(-time.Microsecond), body: fmt.Sprintf("request failed with %d: dependency unavailable", r.ServerStatus), sev: plog.SeverityNumberError, errorType: fmt.Sprint(r.ServerStatus), trace: r.TraceID, span: r.ServerSpanID})
	case r.Failure == FailureTimeout:
		out = append(out, logRec{at: end.Add(-time.Microsecond), body: "slow request: client may have given up", sev: plog.SeverityNumberWarn, trace: r.TraceID, span: r.ServerSpanID})
	}
	out = append(out, logRec{at: end, body: fmt.Sprintf("request completed with %d", r.ServerStatus), sev: plog.SeverityNumberInfo, trace: r.TraceID, span: r.ServerSpanID})
	return out
}

func logCount(s *Session) int {
	n := len(deviceLogs(s))
	for _, r := range s.Requests {
		n += len(backendLogs(r))
	}
	return n
}

func severityText(n plog.SeverityNumber) string {
	switch n {
	case plog.SeverityNumberError:
		return "ERROR"
	case plog.SeverityNumberWarn:
		return "WARN"
	default:
		return "INFO"
	}
}

func (w *World) buildLogs(sessions []*Session) plog.Logs {
	ld := plog.NewLogs()
	devScopes := map[int]plog.LogRecordSlice{}
	svcScopes := map[string]plog.LogRecordSlice{}
	devLogs := func(i int) plog.LogRecordSlice {
		if ls, ok := devScopes[i]; ok {
			return ls
		}
		rl := ld.ResourceLogs().AppendEmpty()
		w.putDeviceResource(rl.Resource().Attributes(), w.devices[i])
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scopeApp)
		devScopes[i] = sl.LogRecords()
		return sl.LogRecords()
	}
	svcLogs := func(svc string) plog.LogRecordSlice {
		if ls, ok := svcScopes[svc]; ok {
			return ls
		}
		rl := ld.ResourceLogs().AppendEmpty()
		w.putBackendResource(rl.Resource().Attributes(), svc)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scopeBack)
		svcScopes[svc] = sl.LogRecords()
		return sl.LogRecords()
	}
	fill := func(lr plog.LogRecord, l logRec, sessionID string) pcommon.Map {
		lr.SetTimestamp(ts(l.at))
		lr.SetObservedTimestamp(ts(l.at))
		lr.SetSeverityNumber(l.sev)
		lr.SetSeverityText(severityText(l.sev))
		lr.Body().SetStr(l.body)
		if l.event != "" {
			lr.SetEventName(l.event)
		}
		if !l.trace.IsEmpty() {
			lr.SetTraceID(l.trace)
			lr.SetSpanID(l.span)
		}
		a := lr.Attributes()
		a.PutStr(schema.AttrSessionID, sessionID)
		if l.errorType != "" {
			a.PutStr(schema.AttrErrorType, l.errorType)
		}
		return a
	}
	for _, s := range sessions {
		dev := devLogs(s.device)
		for _, l := range deviceLogs(s) {
			a := fill(dev.AppendEmpty(), l, s.ID)
			if l.reason != "" {
				a.PutStr(schema.AttrStitchSessionStartReason, l.reason)
			}
			if l.state != "" {
				a.PutStr(schema.AttrIOSAppState, l.state)
			}
			a.PutStr(schema.AttrNetworkConnectionType, s.Network)
			a.PutStr(schema.AttrStitchConsent, consent)
			putSampling(a, sampling(s.ID, l.sev >= plog.SeverityNumberError, l.duration))
		}
		for _, r := range s.Requests {
			if !r.HasServer {
				continue
			}
			svc := svcLogs(w.Endpoints[r.Endpoint].Service)
			for _, l := range backendLogs(r) {
				fill(svc.AppendEmpty(), l, s.ID)
			}
		}
	}
	return ld
}

// ---------------------------------------------------------------- metrics

// histSeries is one request histogram series (a label set without le),
// as the span-metrics connector would make it.
type histSeries struct {
	service  string
	kind     ptrace.SpanKind
	spanName string
	method   string
	// template is url.template (client) or http.route (server).
	template string
	status   int
	isError  bool
	obs      []observation
}

type observation struct {
	at    time.Time
	ms    float64
	trace pcommon.TraceID
	span  pcommon.SpanID
}

type seriesKey struct {
	service  string
	kind     ptrace.SpanKind
	endpoint int
	status   int
	isError  bool
}

// histograms are the request histogram series: one per (app, endpoint,
// status, error) for client spans and (service, route, status, error) for
// server spans, observations in time order (span end).
func (w *World) histograms() []*histSeries {
	m := map[seriesKey]*histSeries{}
	add := func(k seriesKey, o observation) {
		hs := m[k]
		if hs == nil {
			e := w.Endpoints[k.endpoint]
			hs = &histSeries{service: k.service, kind: k.kind, spanName: e.Key, method: e.Method, template: e.URLTemplate, status: k.status, isError: k.isError}
			m[k] = hs
		}
		hs.obs = append(hs.obs, o)
	}
	for _, s := range w.Sessions {
		for _, r := range s.Requests {
			add(seriesKey{w.App, ptrace.SpanKindClient, r.Endpoint, r.Status, r.Failed()},
				observation{r.ClientEnd(), durMs(r.Client), r.TraceID, r.ClientSpanID})
			if r.HasServer {
				add(seriesKey{w.Endpoints[r.Endpoint].Service, ptrace.SpanKindServer, r.Endpoint, r.ServerStatus, r.ServerFailed()},
					observation{r.ServerEnd(), durMs(r.Server), r.TraceID, r.ServerSpanID})
			}
		}
	}
	out := make([]*histSeries, 0, len(m))
	for _, hs := range m {
		slices.SortFunc(hs.obs, func(a, b observation) int { return a.at.Compare(b.at) })
		out = append(out, hs)
	}
	slices.SortFunc(out, func(a, b *histSeries) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.kind, b.kind), cmp.Compare(a.spanName, b.spanName),
			cmp.Compare(a.status, b.status), compareBool(a.isError, b.isError))
	})
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// MetricStep is the interval between a histogram's data points.
const MetricStep = time.Minute

// pointTimes are the data points' times: the window's start (zero counts),
// then every MetricStep, the last at the window's end.
func (w *World) pointTimes() []time.Time {
	var out []time.Time
	for t := w.WindowStart; t.Before(w.WindowEnd); t = t.Add(MetricStep) {
		out = append(out, t)
	}
	return append(out, w.WindowEnd)
}

// maxExemplarsPerPoint bounds the exemplars of one data point.
const maxExemplarsPerPoint = 2

func spanKindLabel(k ptrace.SpanKind) string {
	if k == ptrace.SpanKindServer {
		return "SPAN_KIND_SERVER"
	}
	return "SPAN_KIND_CLIENT"
}

// buildMetrics is the OTLP of request histograms: cumulative, one data
// point per minute from the window's start (where every count is zero:
// the start time that makes increase() right), exemplars from the
// requests observed in each minute.
func (w *World) buildMetrics(series []*histSeries) pmetric.Metrics {
	md := pmetric.NewMetrics()
	times := w.pointTimes()
	byService := map[string]pmetric.HistogramDataPointSlice{}
	for _, hs := range series {
		dps, ok := byService[hs.service]
		if !ok {
			rm := md.ResourceMetrics().AppendEmpty()
			ra := rm.Resource().Attributes()
			ra.PutStr(schema.AttrServiceName, hs.service)
			ra.PutStr(attrServiceInstanceID, w.RunID)
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName("spanmetricsconnector")
			m := sm.Metrics().AppendEmpty()
			m.SetName("stitch.requests.duration")
			m.SetUnit("ms")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = h.DataPoints()
			byService[hs.service] = dps
		}
		counts := make([]uint64, len(HistogramBounds)+1)
		var sum float64
		var total uint64
		next := 0
		for i, t := range times {
			dp := dps.AppendEmpty()
			dp.SetStartTimestamp(ts(w.WindowStart))
			dp.SetTimestamp(ts(t))
			a := dp.Attributes()
			a.PutStr(attrSpanName, hs.spanName)
			a.PutStr(attrSpanKind, spanKindLabel(hs.kind))
			if hs.isError {
				a.PutStr(attrStatusCode, "STATUS_CODE_ERROR")
			} else {
				a.PutStr(attrStatusCode, "STATUS_CODE_UNSET")
			}
			a.PutStr(schema.AttrHTTPRequestMethod, hs.method)
			if hs.kind == ptrace.SpanKindServer {
				a.PutStr(attrHTTPRoute, hs.template)
			} else {
				a.PutStr(schema.AttrURLTemplate, hs.template)
			}
			if hs.status > 0 {
				a.PutInt(schema.AttrHTTPResponseStatusCode, int64(hs.status))
			}
			first := next
			if i > 0 {
				for next < len(hs.obs) && !hs.obs[next].at.After(t) {
					o := hs.obs[next]
					counts[bucketOf(o.ms)]++
					sum += o.ms
					total++
					next++
				}
			}
			dp.SetCount(total)
			dp.SetSum(sum)
			dp.ExplicitBounds().FromRaw(HistogramBounds)
			dp.BucketCounts().FromRaw(counts)
			for _, o := range pickExemplars(hs.obs[first:next]) {
				ex := dp.Exemplars().AppendEmpty()
				ex.SetTimestamp(ts(o.at))
				ex.SetDoubleValue(o.ms)
				ex.SetTraceID(o.trace)
				ex.SetSpanID(o.span)
			}
		}
	}
	return md
}

// pickExemplars chooses a minute's exemplars: its first and its slowest
// request, in time order.
func pickExemplars(obs []observation) []observation {
	if len(obs) == 0 {
		return nil
	}
	slowest := 0
	for i, o := range obs {
		if o.ms > obs[slowest].ms {
			slowest = i
		}
	}
	if slowest == 0 || maxExemplarsPerPoint < 2 {
		return obs[:1]
	}
	return []observation{obs[0], obs[slowest]}
}

// bucketOf is the index of the bucket holding v: the first bound >= v
// (buckets are upper-inclusive), else the overflow bucket.
func bucketOf(v float64) int {
	for i, b := range HistogramBounds {
		if v <= b {
			return i
		}
	}
	return len(HistogramBounds)
}
