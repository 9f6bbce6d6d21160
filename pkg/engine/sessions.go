package engine

import (
	"context"
	"errors"
	"fmt"
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
	var ns notices
	defer func() { res.Notices = ns.all() }()
	traces, err := e.appTraces(ctx, sessionSearch(from, to, filterAttributes(q)), &ns)
	if err != nil {
		return nil, err
	}
	all := correlation.SummarizeSessions(correlation.NewIndex(traces))
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
			// SummarizeSessions orders by start, latest first, so the
			// limit keeps the latest of the sessions read.
			ns.query("showing the %d latest sessions of those read (limit)", q.Limit)
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
	var ns notices
	defer func() { res.Notices = ns.all() }()
	t, err := e.Traces.Trace(ctx, traceID, from, to)
	if errors.Is(err, stores.ErrNotFound) {
		ns.query("trace %s was not found in the trace store for this time range", traceID)
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
		ns.query("no session is recorded for trace %s: none of its %d spans carries session.id", traceID, len(t.Spans))
		return res, nil
	}
	traces, err := e.sessionTraces(ctx, sid, from, to, &ns)
	if err != nil {
		return nil, err
	}
	for _, s := range correlation.SummarizeSessions(correlation.NewIndex(append(traces, *t))) {
		if s.SessionID == sid {
			res.Session = s
		}
	}
	if res.Session == nil {
		// Only backend spans carry the session: the app's spans are not in
		// the store (sampled out on the device, or not uploaded yet).
		res.Session = &correlation.SessionSummary{SessionID: sid, Start: t.Spans[0].Start, End: t.Spans[0].End(), BackendTraces: 1}
		ns.query("the app's own spans of this session are not in the trace store; the row shows what the backend recorded")
	}
	return res, nil
}

// Endpoints lists the url.template values of the app's requests in
// [from, to], up to limit.
func (e *Engine) Endpoints(ctx context.Context, from, to time.Time, limit int) ([]string, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	var ns notices // an editor's value list shows no notices
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), &ns)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range correlation.NewIndex(traces).Requests() {
		v := r.Client.Attr(schema.AttrURLTemplate)
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
		if len(out) == limit {
			break
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
	var ns notices
	defer func() { res.Notices = ns.all() }()
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), &ns)
	if err != nil {
		return nil, err
	}
	x := correlation.NewIndex(traces)
	cascades, clientOnly := correlation.ErrorCascades(x, nil)
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
			ns.store(roleLogs, "log search failed; cascades shown without their first error log: %v", err)
		default:
			logWarnings(&ns, lr.Warnings)
			cascades, _ = correlation.ErrorCascades(x, lr.Records)
		}
	}
	if clientOnly > 0 {
		ns.query("%d failed app requests had no failing backend span under them (4xx, client-side errors or missing backend traces) and are not cascades", clientOnly)
	}
	if len(cascades) > q.Limit {
		ns.query("showing %d of %d cause signatures (limit)", q.Limit, len(cascades))
		cascades = cascades[:q.Limit]
	}
	res.Cascades = cascades
	return res, nil
}

// sessionSearch is a search for traces carrying a session (and the exact
// attribute matches given) in [from, to], bounded as the sessions list. The
// lists and analytics read sessions from the app's spans (a backend span
// counts through the trace it shares with a client span), so only traces
// holding a span of the app are needed (AppOnly).
func sessionSearch(from, to time.Time, attrs []telemetry.KV) stores.TraceSearch {
	return stores.TraceSearch{Attributes: attrs, Present: []string{schema.AttrSessionID}, Start: from, End: to, Limit: tracesForSessionList, AppOnly: true}
}

// appTraces runs a bounded trace search, notes what it cut or lost, and
// completes span-set results by fetching the first traces found whole.
func (e *Engine) appTraces(ctx context.Context, search stores.TraceSearch, ns *notices) ([]telemetry.Trace, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	sr, err := e.Traces.SearchTraces(ctx, search)
	if err != nil {
		return nil, err
	}
	traceWarnings(ns, sr.Warnings)
	if sr.Truncated {
		// The stores do not return a search's matches in time order
		// (Jaeger's are cut per service, Tempo's are the first found), so
		// the notice says only that the read was cut.
		ns.add(Notice{Severity: SeverityWarning, Cause: CauseQuery, Text: fmt.Sprintf("built from at most %d matching traces per service, not all of them; narrow the time range or filter", search.Limit)})
	}
	return e.complete(ctx, sr, search.Start, search.End, tracesFetchedForSessionList, ns)
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
	var ns notices
	defer func() { res.Notices = ns.all() }()
	g, gctx := errgroup.WithContext(ctx)
	var traces []telemetry.Trace
	safego.Go(g, func() error {
		var err error
		traces, err = e.appTraces(gctx, stores.TraceSearch{Start: from, End: to, Limit: tracesForSessionList}, &ns)
		return err
	})
	if counter, ok := e.Logs.(stores.LogCoverageCounter); ok {
		safego.Go(g, func() error {
			cov, err := counter.LogCoverage(gctx, from, to)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				ns.store(roleLogs, "log coverage unavailable: %v", err)
				return nil
			}
			res.LogCoverage = cov
			return nil
		})
	} else {
		ns.query("the log store cannot count records per service: log trace-ID coverage is not shown")
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Propagation = correlation.AuditPropagation(correlation.NewIndex(traces))
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
	var ns notices
	defer func() { res.Notices = ns.all() }()
	traces, err := e.appTraces(ctx, sessionSearch(from, to, nil), &ns)
	if err != nil {
		return nil, err
	}
	if q.Metric == correlation.MetricNewCascadeSignatures {
		// A signature is new only if the lookback before the range lacks
		// it. The history is its own bounded search, so the range's traces
		// never crowd it out.
		history := from.Add(-time.Duration(q.LookbackHours * float64(time.Hour)))
		var hs notices
		past, err := e.appTraces(ctx, sessionSearch(history, from, nil), &hs)
		if err != nil {
			return nil, err
		}
		for _, n := range hs.all() {
			n.Text = "history before the range: " + n.Text + "; a signature seen only earlier may count as new"
			ns.add(n)
		}
		res.Series = correlation.NewCascadeSignatures(correlation.NewIndex(append(past, traces...)), q.GroupBy, history, from, to, step)
	} else {
		res.Series = correlation.SessionMetric(correlation.NewIndex(traces), q.Metric, q.GroupBy, from, to, step)
	}
	for _, s := range res.Series {
		if s.Weighted {
			ns.query("counts are weighted by 1/sampling rate of the sampled sessions")
			break
		}
	}
	return res, nil
}
