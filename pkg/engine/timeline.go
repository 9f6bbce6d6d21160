// Package engine plans and runs Stitch's store calls for a query — pushed
// down to the stores, concurrent with a bound, capped — and hands what comes
// back to the join (pkg/correlation). It speaks to stores only through the
// store-neutral interfaces of pkg/stores. A store that fails yields partial
// results and a notice, not a failed query.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Limits caps every list a query builds.
type Limits struct {
	TracesPerSession int
	LogsPerSession   int
	// FetchConcurrency bounds trace-by-ID fetches in flight.
	FetchConcurrency int
}

// DefaultLimits are the caps used unless a query asks for less.
var DefaultLimits = Limits{TracesPerSession: 500, LogsPerSession: 5000, FetchConcurrency: 8}

// Engine runs queries against one data source's stores. A nil store means
// that role is not configured (or cannot answer session queries).
type Engine struct {
	Traces  stores.TraceStore
	Logs    stores.LogStore
	Metrics stores.MetricStore
	// RequestDurationMetric is the request-duration histogram whose
	// exemplars exemplarSessions follows (settings.Store).
	RequestDurationMetric string
	Limits                Limits
}

// TimelineResult is a joined session and what was cut or failed.
type TimelineResult struct {
	Timeline *correlation.Timeline
	Notices  []Notice
}

// ErrNoTraceStore is returned when a query needs the trace store and none
// that can answer it is configured.
var ErrNoTraceStore = errors.New("no trace store that answers session queries is configured (traces.kind jaeger)")

// SessionTimeline finds everything one session caused in [from, to]: its
// traces (device and backend spans carry session.id), the log records of the
// session and of those traces, joined.
func (e *Engine) SessionTimeline(ctx context.Context, sessionID string, from, to time.Time) (*TimelineResult, error) {
	if err := schema.ValidSessionID(sessionID); err != nil {
		return nil, fmt.Errorf("sessionId: %w", err)
	}
	if e.Traces == nil && e.Logs == nil {
		return nil, ErrNoTraceStore
	}
	var (
		ns     notices
		mu     sync.Mutex // guards traces, logs and the timeouts
		traces []telemetry.Trace
		logs   []telemetry.LogRecord
		// A store that gave no answer within its timeout is not asked
		// again by this query: the user would wait its timeout once more
		// for what is most likely the same silence.
		tracesTimedOut, logsTimedOut bool
	)
	g, gctx := errgroup.WithContext(ctx)
	if e.Traces != nil {
		safego.Go(g, func() error {
			found, err := e.sessionTraces(gctx, sessionID, "", from, to, &ns)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ns.store(roleTraces, "trace search failed; showing what the other stores returned: %v", err)
				mu.Lock()
				tracesTimedOut = timedOut(err)
				mu.Unlock()
				return nil
			}
			mu.Lock()
			traces = found
			mu.Unlock()
			return nil
		})
	} else {
		ns.add(Notice{Severity: SeverityWarning, Cause: CauseQuery, Text: "no trace store answers session queries: showing logs only"})
	}
	if e.Logs != nil {
		safego.Go(g, func() error {
			r, err := e.Logs.SearchLogs(gctx, stores.LogSearch{SessionID: sessionID, Start: from, End: to, Limit: e.Limits.LogsPerSession})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ns.store(roleLogs, "log search failed; showing what the other stores returned: %v", err)
				mu.Lock()
				logsTimedOut = timedOut(err)
				mu.Unlock()
				return nil
			}
			logWarnings(&ns, r.Warnings)
			if r.Truncated {
				ns.query("log records capped at %d for this session", e.Limits.LogsPerSession)
			}
			mu.Lock()
			logs = append(logs, r.Records...)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Traces the session's log records name but the search did not return:
	// a trace of the session with no span of the app (a backend job carrying
	// the session; the search reads the app's traces), or one the store's
	// search has not caught up with (Tempo makes spans stamped minutes ahead
	// by a device clock searchable only later, while trace by ID finds them).
	if e.Traces != nil && !tracesTimedOut && len(logs) > 0 {
		more, err := e.tracesNamedByLogs(ctx, sessionID, traces, logs, from, to, &ns)
		if err != nil {
			return nil, err
		}
		traces = append(traces, more...)
	}

	// Backend log records that lack session.id still belong to the session
	// through their trace ID.
	if e.Logs != nil && !logsTimedOut && len(traces) > 0 {
		ids := make([]string, 0, len(traces))
		for _, t := range traces {
			ids = append(ids, t.TraceID)
		}
		r, err := e.Logs.SearchLogs(ctx, stores.LogSearch{TraceIDs: ids, Start: from, End: to, Limit: e.Limits.LogsPerSession})
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			ns.store(roleLogs, "log search by trace ID failed; showing what the other stores returned: %v", err)
		default:
			logWarnings(&ns, r.Warnings)
			logs = mergeLogs(logs, r.Records)
			if r.Truncated {
				ns.query("log records of the session's traces capped at %d", e.Limits.LogsPerSession)
			}
		}
	}

	tl := correlation.BuildTimeline(correlation.Input{SessionID: sessionID, Traces: traces, Logs: logs})
	return &TimelineResult{Timeline: tl, Notices: ns.all()}, nil
}

// timedOut says whether a store gave no answer within its timeout (store
// errors say so with a Timeout method, as net.Error does).
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// logWarnings records a log store's partial failures.
func logWarnings(ns *notices, warnings []string) {
	for _, w := range warnings {
		ns.store(roleLogs, "log search incomplete: %s", w)
	}
}

// sessionTraces searches the session's traces that hold a span of the app
// (AppOnly: a store that searches service by service asks only the app's
// services, so the cost does not grow with the services the store knows)
// and completes the ones the store returned only in part.
func (e *Engine) sessionTraces(ctx context.Context, sessionID, app string, from, to time.Time, ns *notices) ([]telemetry.Trace, error) {
	attrs := []telemetry.KV{{Key: schema.AttrSessionID, Value: sessionID}}
	if app != "" {
		// The session's app is known (the session index read it): a store
		// searching service by service asks that one only.
		attrs = append(attrs, telemetry.KV{Key: schema.AttrServiceName, Value: app})
	}
	sr, err := e.Traces.SearchTraces(ctx, stores.TraceSearch{
		Attributes: attrs,
		Start:      from, End: to, Limit: e.Limits.TracesPerSession, AppOnly: true,
	})
	if err != nil {
		return nil, err
	}
	traceWarnings(ns, sr.Warnings)
	if sr.Truncated {
		ns.query("traces capped at %d for this session; narrow the time range to see the rest", e.Limits.TracesPerSession)
	}
	return e.complete(ctx, sr, from, to, len(sr.Traces), ns)
}

// tracesNamedByLogs fetches, by ID, the traces the session's log records
// name that the search did not return (each once, up to the session's trace
// cap), and keeps those with a span of the session. An ID the store does not
// know is no fault: a record may name a trace that was sampled out.
func (e *Engine) tracesNamedByLogs(ctx context.Context, sessionID string, have []telemetry.Trace, logs []telemetry.LogRecord, from, to time.Time, ns *notices) ([]telemetry.Trace, error) {
	seen := make(map[string]bool, len(have)+len(logs))
	for _, t := range have {
		seen[t.TraceID] = true
	}
	var ids []string
	for _, l := range logs {
		if schema.ValidTraceID(l.TraceID) == nil && !seen[l.TraceID] {
			seen[l.TraceID] = true
			ids = append(ids, l.TraceID)
		}
	}
	if room := e.Limits.TracesPerSession - len(have); len(ids) > room {
		ns.query("%d more traces named by the session's log records were not read (traces capped at %d for this session)", len(ids)-max(room, 0), e.Limits.TracesPerSession)
		ids = ids[:max(room, 0)]
	}
	found := make([]*telemetry.Trace, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.Limits.FetchConcurrency)
	for i, id := range ids {
		safego.Go(g, func() error {
			t, err := e.Traces.Trace(gctx, id, from, to)
			switch {
			case errors.Is(err, stores.ErrNotFound):
				// A record may name a trace the store never kept.
			case err != nil:
				if gctx.Err() != nil {
					return gctx.Err()
				}
				ns.store(roleTraces, "trace %s named by a log record of the session: %v", id, err)
			case hasSessionSpan(t, sessionID):
				if t.Partial {
					ns.store(roleTraces, "trace %s is partial: %s", id, t.Notice)
				}
				found[i] = t
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []telemetry.Trace
	for _, t := range found {
		if t != nil {
			out = append(out, *t)
		}
	}
	return out, nil
}

// hasSessionSpan tells whether a span of the trace carries the session.
func hasSessionSpan(t *telemetry.Trace, sessionID string) bool {
	for i := range t.Spans {
		if t.Spans[i].Attr(schema.AttrSessionID) == sessionID {
			return true
		}
	}
	return false
}

// complete returns the search's traces whole: a store that returns only the
// matching spans of each trace (Tempo) has the first max of them fetched by
// ID, concurrently with a bound.
func (e *Engine) complete(ctx context.Context, sr stores.TraceSearchResult, from, to time.Time, max int, ns *notices) ([]telemetry.Trace, error) {
	if sr.Complete {
		return sr.Traces, nil
	}
	traces := sr.Traces
	if len(traces) > max {
		ns.query("%d traces found; the first %d the store returned are read in full", len(traces), max)
		traces = traces[:max]
	}
	out := make([]telemetry.Trace, len(traces))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.Limits.FetchConcurrency)
	for i, t := range traces {
		safego.Go(g, func() error {
			full, err := e.Traces.Trace(gctx, t.TraceID, from, to)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				ns.store(roleTraces, "trace %s: %v; showing the spans the search returned", t.TraceID, err)
				out[i] = t
				return nil
			}
			if full.Partial {
				ns.store(roleTraces, "trace %s is partial: %s", t.TraceID, full.Notice)
			}
			out[i] = *full
			return nil
		})
	}
	return out, g.Wait()
}

// traceWarnings records a trace store's partial failures.
func traceWarnings(ns *notices, warnings []string) {
	for _, w := range warnings {
		ns.store(roleTraces, "trace search incomplete: %s", w)
	}
}

// mergeLogs adds the records of b not already in a.
func mergeLogs(a, b []telemetry.LogRecord) []telemetry.LogRecord {
	type key struct {
		t                    int64
		trace, span, body, s string
	}
	seen := make(map[key]bool, len(a))
	for _, r := range a {
		seen[key{r.Time.UnixNano(), r.TraceID, r.SpanID, r.Body, r.Service}] = true
	}
	for _, r := range b {
		k := key{r.Time.UnixNano(), r.TraceID, r.SpanID, r.Body, r.Service}
		if !seen[k] {
			seen[k] = true
			a = append(a, r)
		}
	}
	return a
}
