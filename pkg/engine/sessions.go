package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// tracesForSessionList bounds the traces a sessions query reads;
// tracesFetchedForSessionList bounds those fetched by ID when the store's
// search returns only matching spans.
const (
	tracesForSessionList        = 1000
	tracesFetchedForSessionList = 200
)

// SessionsResult is the sessions list and what was cut or failed.
type SessionsResult struct {
	Sessions []*correlation.SessionSummary
	Notices  []Notice
}

// filterAttributes maps the sessions query's filters to the schema's
// attribute names, pushed down to the trace store as exact matches.
func filterAttributes(q query.Sessions) []telemetry.KV {
	var out []telemetry.KV
	for _, f := range []struct{ key, value string }{
		{schema.AttrServiceName, q.AppService},
		{schema.AttrServiceVersion, q.AppVersion},
		{schema.AttrOSVersion, q.OSVersion},
		{schema.AttrDeviceModelIdentifier, q.DeviceModel},
		{schema.AttrNetworkConnectionType, q.NetworkType},
		{schema.AttrURLTemplate, q.Endpoint},
	} {
		if f.value != "" {
			out = append(out, telemetry.KV{Key: f.key, Value: f.value})
		}
	}
	return out
}

// Sessions lists the sessions seen in [from, to] that match the filters.
func (e *Engine) Sessions(ctx context.Context, q query.Sessions, from, to time.Time) (*SessionsResult, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	res := &SessionsResult{}
	var ns noticeList
	defer func() { res.Notices = append(ns.list, res.Notices...) }()
	traces, err := e.appTraces(ctx, sessionSearch(from, to, filterAttributes(q)), ns.add)
	if err != nil {
		return nil, err
	}
	all := correlation.SummarizeSessions(traces)
	minDur := time.Duration(q.MinDurationMs * float64(time.Millisecond))
	for _, s := range all {
		// A store returns whole traces; a session only counts when its own
		// spans match the filters.
		if !matchesFilters(s, q) {
			continue
		}
		if q.ErrorsOnly && s.Errors == 0 {
			continue
		}
		if s.Duration() < minDur {
			continue
		}
		if len(res.Sessions) == q.Limit {
			res.Notices = append(res.Notices, Notice{Text: fmt.Sprintf("showing the %d most recent sessions (limit)", q.Limit)})
			break
		}
		res.Sessions = append(res.Sessions, s)
	}
	return res, nil
}

// TraceToSessionResult is the session a trace belongs to, if any.
type TraceToSessionResult struct {
	Session *correlation.SessionSummary
	Notices []Notice
}

// TraceToSession finds the session of a trace: the session.id its spans
// carry, then that session's summary from all of its traces.
func (e *Engine) TraceToSession(ctx context.Context, traceID string, from, to time.Time) (*TraceToSessionResult, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	res := &TraceToSessionResult{}
	t, err := e.Traces.Trace(ctx, traceID, from, to)
	if err == stores.ErrNotFound {
		res.Notices = append(res.Notices, Notice{Text: fmt.Sprintf("trace %s was not found in the trace store for this time range", traceID)})
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	sid := ""
	for i := range t.Spans {
		if v := t.Spans[i].Attr(schema.AttrSessionID); schema.ValidSessionID(v) == nil {
			sid = v
			break
		}
	}
	if sid == "" {
		res.Notices = append(res.Notices, Notice{Text: fmt.Sprintf("no session is recorded for trace %s: none of its %d spans carries session.id", traceID, len(t.Spans))})
		return res, nil
	}
	var notices []Notice
	traces, err := e.sessionTraces(ctx, sid, from, to, func(n Notice) { notices = append(notices, n) })
	if err != nil {
		return nil, err
	}
	res.Notices = append(res.Notices, notices...)
	for _, s := range correlation.SummarizeSessions(append(traces, *t)) {
		if s.SessionID == sid {
			res.Session = s
		}
	}
	if res.Session == nil {
		// Only backend spans carry the session: the app's spans are not in
		// the store (sampled out on the device, or not uploaded yet).
		res.Session = &correlation.SessionSummary{SessionID: sid, Start: t.Spans[0].Start, End: t.Spans[0].End(), BackendTraces: 1}
		res.Notices = append(res.Notices, Notice{Text: "the app's own spans of this session are not in the trace store; the row shows what the backend recorded"})
	}
	return res, nil
}

// Endpoints lists the url.template values of the app's requests in
// [from, to], up to limit.
func (e *Engine) Endpoints(ctx context.Context, from, to time.Time, limit int) ([]string, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), func(Notice) {})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for ti := range traces {
		for si := range traces[ti].Spans {
			s := &traces[ti].Spans[si]
			v := s.Attr(schema.AttrURLTemplate)
			if v == "" || seen[v] || !correlation.IsDeviceSpan(s) || s.Kind != telemetry.KindClient {
				continue
			}
			seen[v] = true
			out = append(out, v)
			if len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

func matchesFilters(s *correlation.SessionSummary, q query.Sessions) bool {
	for _, f := range []struct{ want, got string }{
		{q.AppService, s.App.Service}, {q.AppVersion, s.App.Version}, {q.OSVersion, s.App.OSVersion},
		{q.DeviceModel, s.App.DeviceModel}, {q.NetworkType, s.App.NetworkType},
	} {
		if f.want != "" && f.want != f.got {
			return false
		}
	}
	return q.Endpoint == "" || s.Endpoints[q.Endpoint]
}

// LatencyResult is the latency breakdown and what was cut or failed.
type LatencyResult struct {
	Groups  []*correlation.LatencyGroup
	Notices []Notice
}

// LatencyBreakdown reads the app's requests in [from, to] (bounded, as the
// sessions list) and splits their time into client, server and network.
func (e *Engine) LatencyBreakdown(ctx context.Context, q query.LatencyBreakdown, from, to time.Time) (*LatencyResult, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	res := &LatencyResult{}
	var ns noticeList
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), ns.add)
	if err != nil {
		return nil, err
	}
	res.Notices = ns.list
	res.Groups = correlation.LatencyBreakdown(traces, q.GroupBy)
	if len(res.Groups) > q.Limit {
		res.Notices = append(res.Notices, Notice{Text: fmt.Sprintf("showing %d of %d groups (limit)", q.Limit, len(res.Groups))})
		res.Groups = res.Groups[:q.Limit]
	}
	return res, nil
}

// CascadesResult is the cause signatures and what was cut or failed.
type CascadesResult struct {
	Cascades []*correlation.Cascade
	Notices  []Notice
}

// ErrorCascades finds the failed app requests in [from, to] (bounded, as the
// sessions list), follows each to its root cause, and reads the error log
// records of the failed traces to name the first one.
func (e *Engine) ErrorCascades(ctx context.Context, q query.ErrorCascades, from, to time.Time) (*CascadesResult, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	res := &CascadesResult{}
	var ns noticeList
	notice := ns.add
	defer func() { res.Notices = ns.list }()
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), notice)
	if err != nil {
		return nil, err
	}
	cascades, clientOnly := correlation.ErrorCascades(traces, nil)
	if e.Logs != nil && len(cascades) > 0 {
		var ids []string
		for _, c := range cascades {
			ids = append(ids, c.ExampleTraceIDs...)
		}
		lr, err := e.Logs.SearchLogs(ctx, stores.LogSearch{TraceIDs: ids, Start: from, End: to, Limit: e.Limits.LogsPerSession})
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			notice(Notice{Warning: true, Downstream: true, Text: "log search failed; cascades shown without their first error log: " + err.Error()})
		default:
			cascades, _ = correlation.ErrorCascades(traces, lr.Records)
		}
	}
	if clientOnly > 0 {
		notice(Notice{Text: fmt.Sprintf("%d failed app requests had no failing backend span under them (4xx, client-side errors or missing backend traces) and are not cascades", clientOnly)})
	}
	if len(cascades) > q.Limit {
		notice(Notice{Text: fmt.Sprintf("showing %d of %d cause signatures (limit)", q.Limit, len(cascades))})
		cascades = cascades[:q.Limit]
	}
	res.Cascades = cascades
	return res, nil
}

// sessionSearch is a search for traces carrying a session (and the exact
// attribute matches given) in [from, to], bounded as the sessions list.
func sessionSearch(from, to time.Time, attrs []telemetry.KV) stores.TraceSearch {
	return stores.TraceSearch{Attributes: attrs, Present: []string{schema.AttrSessionID}, Start: from, End: to, Limit: tracesForSessionList}
}

// appTraces runs a bounded trace search, notes what it cut or lost, and
// completes span-set results by fetching the most recent traces whole.
func (e *Engine) appTraces(ctx context.Context, search stores.TraceSearch, notice func(Notice)) ([]telemetry.Trace, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	sr, err := e.Traces.SearchTraces(ctx, search)
	if err != nil {
		return nil, err
	}
	for _, w := range sr.Warnings {
		notice(Notice{Warning: true, Downstream: true, Text: "trace search incomplete: " + w})
	}
	if sr.Truncated {
		notice(Notice{Text: fmt.Sprintf("built from the %d most recent matching traces per service; narrow the time range or filter to see older data", search.Limit)})
	}
	return e.complete(ctx, sr, search.Start, search.End, tracesFetchedForSessionList, notice)
}

// noticeList collects notices from concurrent store calls.
type noticeList struct {
	mu   sync.Mutex
	list []Notice
}

func (n *noticeList) add(x Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, x)
}

// PropagationResult is the drift audit and what was cut or failed.
type PropagationResult struct {
	Propagation *correlation.Propagation
	// LogCoverage per service, nil when the log store cannot count it.
	LogCoverage map[string]stores.LogCoverage
	Notices     []Notice
}

// PropagationHealth audits propagation in [from, to]: per host the app
// calls, per backend service (spans with session.id, log records with a
// trace ID), and the device clock offsets.
func (e *Engine) PropagationHealth(ctx context.Context, from, to time.Time) (*PropagationResult, error) {
	res := &PropagationResult{}
	var ns noticeList
	notice := ns.add
	defer func() { res.Notices = ns.list }()
	g, gctx := errgroup.WithContext(ctx)
	var traces []telemetry.Trace
	safego.Go(g, func() error {
		var err error
		traces, err = e.appTraces(gctx, stores.TraceSearch{Start: from, End: to, Limit: tracesForSessionList}, notice)
		return err
	})
	if counter, ok := e.Logs.(stores.LogCoverageCounter); ok {
		safego.Go(g, func() error {
			cov, err := counter.LogCoverage(gctx, from, to)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				notice(Notice{Warning: true, Downstream: true, Text: "log coverage unavailable: " + err.Error()})
				return nil
			}
			res.LogCoverage = cov
			return nil
		})
	} else {
		notice(Notice{Text: "the log store cannot count records per service: log trace-ID coverage is not shown"})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Propagation = correlation.AuditPropagation(traces)
	return res, nil
}

// MetricsResult is a session metric's series.
type MetricsResult struct {
	Series  []*correlation.Series
	Notices []Notice
}

// SessionMetrics computes one session metric over [from, to) in buckets of
// step, optionally grouped.
func (e *Engine) SessionMetrics(ctx context.Context, q query.SessionMetrics, from, to time.Time, step time.Duration) (*MetricsResult, error) {
	res := &MetricsResult{}
	notice := func(n Notice) { res.Notices = append(res.Notices, n) }
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), notice)
	if err != nil {
		return nil, err
	}
	if q.Metric == correlation.MetricNewCascadeSignatures {
		// A signature is new only if the lookback before the range lacks
		// it. The history is its own bounded search, so the range's traces
		// never crowd it out.
		history := from.Add(-time.Duration(q.LookbackHours * float64(time.Hour)))
		past, err := e.appTraces(ctx, sessionSearch(history, from, nil), func(n Notice) {
			notice(Notice{Text: "history before the range: " + n.Text + "; a signature seen only earlier may count as new"})
		})
		if err != nil {
			return nil, err
		}
		res.Series = correlation.NewCascadeSignatures(append(past, traces...), q.GroupBy, history, from, to, step)
	} else {
		res.Series = correlation.SessionMetric(traces, q.Metric, q.GroupBy, from, to, step)
	}
	for _, s := range res.Series {
		if s.Weighted {
			res.Notices = append(res.Notices, Notice{Text: "counts are weighted by 1/sampling rate of the sampled sessions"})
			break
		}
	}
	return res, nil
}
