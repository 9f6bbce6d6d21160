package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

// ErrNoSessionIndex is returned when the sessions list has no log store
// that can aggregate records by session.
var ErrNoSessionIndex = errors.New("the sessions list needs a log store that counts records per session (logs.kind victorialogs or loki)")

// SessionsResult is one page of the sessions list, how many sessions
// matched in all, and what was cut or failed.
type SessionsResult struct {
	Sessions []*correlation.SessionSummary
	// Total is the number of sessions that matched, as the log store
	// counted them; Sessions holds at most the query's limit of them.
	Total   int
	Notices []Notice
}

// sessionIndexQuery maps the sessions query's filters to the session
// index: the app's resource attributes filter device records; the network
// type, which changes during a session, matches any of its records.
func sessionIndexQuery(q query.Sessions, from, to time.Time) stores.SessionQuery {
	sq := stores.SessionQuery{Start: from, End: to, ErrorsOnly: q.ErrorsOnly, Limit: q.Limit,
		MinDuration: time.Duration(q.MinDurationMs * float64(time.Millisecond)), Order: stores.SessionOrder(q.OrderBy)}
	for _, f := range []struct{ key, value string }{
		{schema.AttrServiceName, q.AppService},
		{schema.AttrServiceVersion, q.AppVersion},
		{schema.AttrOSVersion, q.OSVersion},
		{schema.AttrDeviceModelIdentifier, q.DeviceModel},
	} {
		if f.value != "" {
			sq.Match = append(sq.Match, telemetry.KV{Key: f.key, Value: f.value})
		}
	}
	if q.NetworkType != "" {
		sq.RecordMatch = []telemetry.KV{{Key: schema.AttrNetworkConnectionType, Value: q.NetworkType}}
	}
	return sq
}

// Sessions lists the sessions seen in [from, to] that match the filters:
// the log store counts and ranks them (the session index) and returns the
// top limit; the trace store adds each shown row's requests. An endpoint
// filter, which only spans carry, first asks the trace store which
// sessions called the endpoint (every matching trace, the search split
// until nothing is cut), and the index counts among those.
func (e *Engine) Sessions(ctx context.Context, q query.Sessions, from, to time.Time) (*SessionsResult, error) {
	index, ok := e.Logs.(stores.SessionIndex)
	if !ok {
		return nil, ErrNoSessionIndex
	}
	res := &SessionsResult{}
	var ns notices
	defer func() { res.Notices = ns.all() }()
	sq := sessionIndexQuery(q, from, to)
	if q.Endpoint != "" {
		ids, err := e.sessionsCalling(ctx, q.Endpoint, sq.Match, from, to, &ns)
		if err != nil {
			return nil, err
		}
		sq.Sessions = ids
	}
	page, err := index.Sessions(ctx, sq)
	if err != nil {
		return nil, err
	}
	logWarnings(&ns, page.Warnings)
	res.Total = page.Total
	if page.Total > len(page.Rows) {
		ns.query("showing %d of %d matching sessions (limit), %s first", len(page.Rows), page.Total, orderText[sq.Order])
	}
	if res.Sessions, err = e.sessionRows(ctx, page.Rows, from, to, &ns); err != nil {
		return nil, err
	}
	return res, nil
}

var orderText = map[stores.SessionOrder]string{
	stores.OrderByStart: "latest", stores.OrderByDuration: "longest", stores.OrderByErrors: "most errors",
}

// rowSearchPadding widens a row's trace search beyond its session's extent:
// the device records and the device spans share the device's clock, and a
// request may end a little after the last record.
const rowSearchPadding = 5 * time.Minute

// sessionRows turns the index's rows into the list's, each with what the
// trace store holds of the session (requests, failed requests, backend
// traces, slowest request): one search per shown row, so the cost follows
// the limit, not the store's size. A row whose traces cannot be read is
// still shown, from its log records, with a notice.
func (e *Engine) sessionRows(ctx context.Context, rows []stores.SessionRow, from, to time.Time, ns *notices) ([]*correlation.SessionSummary, error) {
	out := make([]*correlation.SessionSummary, len(rows))
	for i, r := range rows {
		out[i] = &correlation.SessionSummary{SessionID: r.SessionID, Start: r.First, End: r.Last, Sampled: true,
			App: correlation.AppInfo{Service: r.Service, Version: r.Version, OSVersion: r.OSVersion, DeviceModel: r.DeviceModel, NetworkType: r.NetworkType}}
	}
	if e.Traces == nil || len(rows) == 0 {
		if e.Traces == nil {
			ns.query("no trace store is configured: requests, errors and backend traces are not shown")
		}
		return out, nil
	}
	var (
		mu     sync.Mutex
		failed int
		first  error
	)
	read := func(ctx context.Context, row *correlation.SessionSummary) error {
		var rowNotices notices
		// The session's traces lie within its extent (its device records'),
		// padded for a device clock that is off: a store searches that
		// window, not the whole range.
		start, end := row.Start.Add(-rowSearchPadding), row.End.Add(rowSearchPadding)
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		traces, err := e.sessionTraces(ctx, row.SessionID, row.App.Service, start, end, &rowNotices)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			failed++
			if first == nil {
				first = err
			}
			return nil
		}
		for _, n := range rowNotices.all() {
			ns.add(n)
		}
		for _, s := range correlation.SummarizeSessions(correlation.NewIndex(traces)) {
			if s.SessionID == row.SessionID {
				fromTraces(row, s)
			}
		}
		return nil
	}
	// The first row is read alone: a store that times out on it is not
	// asked once per row (the user would wait its timeout again and again).
	if err := read(ctx, out[0]); err != nil {
		return nil, err
	}
	if first != nil && timedOut(first) {
		ns.store(roleTraces, "the trace store did not answer in time; the rows show the log store's figures only: %v", first)
		return out, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.Limits.FetchConcurrency)
	for i := 1; i < len(out); i++ {
		safego.Go(g, func() error { return read(gctx, out[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err // cancelled, or a panic made an error
	}
	if failed > 0 {
		ns.store(roleTraces, "the requests of %d of the %d shown sessions could not be read; their rows show the log store's figures only: %v", failed, len(out), first)
	}
	return out, nil
}

// fromTraces adds to a row what the session's spans tell: its requests and
// failures, the backend traces they reached, its sampling, and the extent
// of spans outside its log records.
func fromTraces(row, s *correlation.SessionSummary) {
	row.Requests, row.Errors, row.BackendTraces, row.SlowestRequest = s.Requests, s.Errors, s.BackendTraces, s.SlowestRequest
	row.Sampled, row.SamplingReasons, row.Endpoints = s.Sampled, s.SamplingReasons, s.Endpoints
	if row.App.NetworkType == "" {
		row.App.NetworkType = s.App.NetworkType
	}
}

// sessionsCalling is the set of sessions whose app called the endpoint in
// [from, to]: counted by the trace store where it aggregates by session
// (stores.SessionFinder), else every trace with an app span of that
// url.template is read (searchAll) and the session of each matching app
// span kept. Never nil,
// so an endpoint no session called gives an empty list, not an unfiltered
// one.
func (e *Engine) sessionsCalling(ctx context.Context, endpoint string, match []telemetry.KV, from, to time.Time, ns *notices) ([]string, error) {
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	attrs := append([]telemetry.KV{{Key: schema.AttrURLTemplate, Value: endpoint}}, match...)
	search := stores.TraceSearch{Attributes: attrs, Present: []string{schema.AttrSessionID}, Start: from, End: to, Limit: tracesForSessionList, AppOnly: true}
	if finder, ok := e.Traces.(stores.SessionFinder); ok {
		found, err := finder.SessionsOf(ctx, search)
		if err != nil {
			return nil, err
		}
		traceWarnings(ns, found.Warnings)
		if found.Truncated {
			ns.add(Notice{Severity: SeverityWarning, Cause: CauseStore, Store: roleTraces, Text: fmt.Sprintf("the trace store could not count every session that called %s; the list holds the %d it found", endpoint, len(found.Sessions))})
		}
		ids := append([]string{}, found.Sessions...)
		sort.Strings(ids)
		return ids, nil
	}
	traces, err := e.searchAll(ctx, search, ns)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	ids := []string{}
	for i := range traces {
		for j := range traces[i].Spans {
			sp := &traces[i].Spans[j]
			sid := sp.Attr(schema.AttrSessionID)
			if sp.Kind != telemetry.KindClient || !correlation.IsDeviceSpan(sp) || sp.Attr(schema.AttrURLTemplate) != endpoint || seen[sid] || schema.ValidSessionID(sid) != nil {
				continue
			}
			seen[sid] = true
			ids = append(ids, sid)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// minSearchWindow is the narrowest window searchAll splits to: a store
// holding more than a search's limit of matching traces started within it
// is cut, with a notice.
const minSearchWindow = time.Second

// searchAll reads every trace a search matches: a store answers at most
// Limit traces a search, in no time order, so a cut answer is asked again
// as two searches of half the window each, until no answer is cut. The
// traces of both halves are kept by ID (a trace spanning the cut is found
// in both).
func (e *Engine) searchAll(ctx context.Context, search stores.TraceSearch, ns *notices) ([]telemetry.Trace, error) {
	sr, err := e.Traces.SearchTraces(ctx, search)
	if err != nil {
		return nil, err
	}
	traceWarnings(ns, sr.Warnings)
	if sr.Truncated {
		if span := search.End.Sub(search.Start); span > minSearchWindow {
			mid := search.Start.Add(span / 2)
			early, late := search, search
			early.End, late.Start = mid, mid
			a, err := e.searchAll(ctx, early, ns)
			if err != nil {
				return nil, err
			}
			b, err := e.searchAll(ctx, late, ns)
			if err != nil {
				return nil, err
			}
			return mergeTraces(a, b), nil
		}
		ns.add(Notice{Severity: SeverityWarning, Cause: CauseQuery, Text: fmt.Sprintf("more than %d matching traces started within %s from %s; the rest were not read", search.Limit, minSearchWindow, search.Start.UTC().Format(time.RFC3339))})
	}
	return e.complete(ctx, sr, search.Start, search.End, len(sr.Traces), ns)
}

// mergeTraces joins two trace lists, each trace once.
func mergeTraces(a, b []telemetry.Trace) []telemetry.Trace {
	seen := make(map[string]bool, len(a))
	for _, t := range a {
		seen[t.TraceID] = true
	}
	for _, t := range b {
		if !seen[t.TraceID] {
			a = append(a, t)
		}
	}
	return a
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
	traces, err := e.sessionTraces(ctx, sid, "", from, to, &ns)
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
	traces, err := e.complete(ctx, sr, search.Start, search.End, tracesFetchedForSessionList, ns)
	if err != nil {
		return nil, err
	}
	if sr.Truncated {
		// The stores do not return a search's matches in time order
		// (Jaeger's are cut per service, Tempo's are the first found): the
		// figures are of a sample, and the notice says how large and how
		// far a share measured on it may be from the whole's.
		ns.add(Notice{Severity: SeverityWarning, Cause: CauseQuery, Text: sampleNotice(len(traces), search.Limit)})
	}
	return traces, nil
}

// sampleNotice states a figure's sample: its size, and the 95 % margin of a
// share measured on n items of it, at most 1/√n (1.96·√(p(1−p)/n) ≤ 0.98/√n);
// counts are the sample's, not the range's.
func sampleNotice(traces, perService int) string {
	return fmt.Sprintf("built from a sample of %d traces (at most %d per service), not all of the range: counts are the sample's, and a share from n requests is within ±1/√n (95 %%) of the range's; narrow the time range or filter for exact figures", traces, perService)
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

// countedBySessionIndex tells the session metrics the log store counts
// itself: the session counts, by any dimension the device records carry
// (every one but the endpoint, which only spans carry).
func countedBySessionIndex(q query.SessionMetrics) bool {
	switch q.Metric {
	case correlation.MetricSessions, correlation.MetricSessionsWithErrors, correlation.MetricErrorSessionRatio:
		return q.GroupBy != correlation.GroupEndpoint
	}
	return false
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
	if isLatencyMetric(q.Metric) {
		series, err := e.latencySeries(ctx, q, from, to, step, &ns)
		if err != nil {
			return nil, err
		}
		res.Series = series
		return res, nil
	}
	if counter, ok := e.Logs.(stores.SessionCounter); ok && countedBySessionIndex(q) {
		counts, err := counter.SessionCounts(ctx, stores.SessionCountQuery{Start: from, End: to, Step: step, GroupBy: correlation.GroupAttribute(q.GroupBy)})
		if err != nil {
			return nil, err
		}
		res.Series = correlation.SeriesFromCounts(counts, q.Metric, q.GroupBy != "", from, to, step)
		if counts.Weighted {
			ns.query("counts are weighted by 1/sampling rate of the sampled sessions")
		}
		return res, nil
	}
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
