package tempo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// TraceQL metrics (API docs, "TraceQL Metrics"): count_over_time() by the
// session attribute, pushed down to Tempo, with a plain search as the
// fallback where metrics are unavailable.
const (
	metricsPath = "/api/metrics/query_range"
	// maxMetricsWindow is the longest range one metrics query covers by
	// default: Tempo 3.x's metrics max_duration. Tempo 2.6–2.10 allow 3h and
	// say so in a 400; the adapter then splits into windows of that length.
	maxMetricsWindow = 24 * time.Hour
	// maxMetricsCoverage is how far back session counts reach, and
	// maxMetricsRequests bounds the queries it may take (with 3h windows
	// that is 48h, and the rest is left out with a notice).
	maxMetricsCoverage = 7 * 24 * time.Hour
	maxMetricsRequests = 16
)

// SessionCount is the number of spans of one session.
type SessionCount struct {
	SessionID string
	Spans     int64
}

// SessionCounts is what SessionCounts found.
type SessionCounts struct {
	// Sessions, most spans first (then by ID).
	Sessions []SessionCount
	// Approximate is set when the counts come from the fallback search,
	// which sees at most spss spans per trace and limit traces.
	Approximate bool
	// Truncated is set when the counts are known to be incomplete: more
	// sessions than the limit were found, the fallback search hit its
	// limit, or Tempo cut the metrics answer at its series limit (PARTIAL).
	// Callers showing the counts should say so.
	Truncated bool
	Warnings  []string
}

// metricsResponse is the JSON of /api/metrics/query_range: series with
// OTLP-style labels and samples, and (Tempo 2.7+) a status that is PARTIAL
// with a message when Tempo's series limit cut the answer.
type metricsResponse struct {
	Series []struct {
		Labels     []jsonKeyVal `json:"labels"`
		PromLabels string       `json:"promLabels"`
		Samples    []struct {
			TimestampMs string  `json:"timestampMs"`
			Value       float64 `json:"value"`
		} `json:"samples"`
	} `json:"series"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// SessionCounts counts the spans of each session among the spans carrying
// every attribute of q in [q.Start, q.End], keeping the q.Limit sessions with
// the most spans (all of them when q.Limit is 0).
func (s *Store) SessionCounts(ctx context.Context, q stores.TraceSearch) (SessionCounts, error) {
	var res SessionCounts
	traceQL, err := SessionCountQuery(q.Attributes)
	if err != nil {
		return res, backend.DownstreamError(fmt.Errorf("tempo session counts: %w", err))
	}
	start, end := s.searchRange(q.Start, q.End)
	mc, err := s.metricsCounts(ctx, traceQL, start, end)
	if err != nil {
		if !metricsUnavailable(err) {
			return res, err
		}
		return s.sessionCountsBySearch(ctx, q, start, end, err)
	}
	res.Warnings = mc.warnings
	var cut bool
	res.Sessions, cut = topSessions(mc.counts, q.Limit)
	res.Truncated = cut || mc.partial
	return res, nil
}

// metricsUnavailable says whether a metrics query failed because this Tempo
// cannot answer it, so the search fallback applies: a 4xx (metrics off, an
// older Tempo without the route) or a 5xx (the usual case: without a metrics
// generator Tempo answers 500 "error finding generators in
// Querier.queryRangeRecent: empty ring"). Auth failures are not: the search
// would fail the same way.
func metricsUnavailable(err error) bool {
	var se *storehttp.Error
	if !errors.As(err, &se) || se.StatusCode == 0 {
		return false
	}
	switch {
	case se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden:
		return false
	case se.StatusCode >= 400:
		return true
	}
	return false
}

// metricsCount is what the metrics queries of SessionCounts found.
type metricsCount struct {
	counts   map[string]int64
	partial  bool
	warnings []string
}

func (s *Store) metricsCounts(ctx context.Context, traceQL string, start, end time.Time) (metricsCount, error) {
	for attempt := 0; ; attempt++ {
		mc, err := s.metricsWindows(ctx, traceQL, start, end)
		if err == nil || attempt > 0 {
			return mc, err
		}
		// A 2.x Tempo's 3h metrics max_duration: split within it and retry.
		r, ok := readRefusal(err)
		if !ok || r.kind != limitMetricsDuration || !s.limits.metricsWindow.Lower(int64(r.d)) {
			return mc, err
		}
	}
}

func (s *Store) metricsWindows(ctx context.Context, traceQL string, start, end time.Time) (metricsCount, error) {
	mc := metricsCount{counts: map[string]int64{}}
	windowLen := s.limits.metricsWindowLen()
	requests := min(maxMetricsRequests, int((maxMetricsCoverage+windowLen-1)/windowLen))
	windows, clamped := splitWindows(start, end, windowLen, requests)
	if clamped {
		oldest := time.Unix(windows[len(windows)-1].start, 0).UTC()
		mc.warnings = append(mc.warnings, fmt.Sprintf("session counts cover %d×%s back to %s, not the older part of the range",
			requests, windowLen, oldest.Format(time.RFC3339)))
	}
	sessionKey := sessionRef()
	for _, w := range windows {
		params := url.Values{
			"q":     {traceQL},
			"start": {strconv.FormatInt(w.start, 10)},
			"end":   {strconv.FormatInt(w.end, 10)},
			// One sample per series for the whole window. instant=true is
			// Tempo's supported way to ask for it; older Tempo ignores the
			// flag and reads step == end−start as instant.
			"step":    {strconv.FormatInt(w.end-w.start, 10) + "s"},
			"instant": {"true"},
		}
		var mr metricsResponse
		if err := s.getJSON(ctx, metricsPath, params, &mr, "series", "metrics", "status"); err != nil {
			return mc, err
		}
		if mr.Status == "PARTIAL" {
			mc.partial = true
			msg := "Tempo returned part of the session counts"
			if mr.Message != "" {
				msg += ": " + mr.Message
			}
			mc.warnings = appendOnce(mc.warnings, msg)
		}
		addSessionCounts(mc.counts, &mr, w, sessionKey)
	}
	return mc, nil
}

// addSessionCounts adds the span counts of each session series of one
// window's answer to counts. A sample that is not a count (negative, or
// beyond what a float64 holds exactly) is not one Tempo gives, and is left
// out; the sums saturate rather than wrap.
func addSessionCounts(counts map[string]int64, mr *metricsResponse, w searchWindow, sessionKey string) {
	for _, series := range mr.Series {
		sid := ""
		for _, l := range series.Labels {
			if l.Key == sessionKey || l.Key == schema.AttrSessionID {
				sid = l.Value.String()
			}
		}
		if sid == "" {
			continue
		}
		for _, smp := range series.Samples {
			if smp.Value >= 0 && smp.Value < 1<<53 && sampleInWindow(smp.TimestampMs, w) {
				n := int64(smp.Value + 0.5)
				counts[sid] = min(counts[sid], math.MaxInt64-n) + n
			}
		}
	}
}

// sampleInWindow says whether a sample belongs to window w: its timestamp
// (the start of the interval it counts) is in [w.start, w.end). A Tempo that
// evaluates the query as a range query aligns it to the step and adds a
// leading interval, so samples of neighbouring windows come back too;
// counting only each window's own never counts a span twice.
func sampleInWindow(timestampMs string, w searchWindow) bool {
	ms, err := strconv.ParseInt(timestampMs, 10, 64)
	if err != nil {
		return false
	}
	return ms >= w.start*1000 && ms < w.end*1000
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// sessionCountsBySearch counts the sessions' spans from a search, where
// TraceQL metrics are unavailable.
func (s *Store) sessionCountsBySearch(ctx context.Context, q stores.TraceSearch, start, end time.Time, cause error) (SessionCounts, error) {
	res := SessionCounts{Approximate: true}
	traceQL, err := SessionSearchQuery(q.Attributes)
	if err != nil {
		return res, backend.DownstreamError(err)
	}
	limit := q.Limit * 10 // sessions have several traces
	if limit <= 0 || limit > maxSearchLimit {
		limit = 1000
	}
	traces, truncated, warnings, err := s.search(ctx, traceQL, start, end, limit)
	if err != nil {
		return res, err
	}
	counts := map[string]int64{}
	for _, t := range traces {
		for _, sp := range t.Spans {
			if sid := sp.Attributes.Value(schema.AttrSessionID); sid != "" {
				counts[sid]++
			}
		}
	}
	why := cause.Error()
	var se *storehttp.Error
	if errors.As(cause, &se) {
		why = fmt.Sprintf("%s answered %d: %s", se.Path, se.StatusCode, se.Msg)
	}
	res.Warnings = append([]string{fmt.Sprintf("TraceQL metrics unavailable (%s); counts come from a search of at most %d traces and %d spans per trace",
		why, limit, s.limits.spansPerSpanSet())}, warnings...)
	res.Sessions, res.Truncated = topSessions(counts, q.Limit)
	res.Truncated = res.Truncated || truncated
	return res, nil
}

func topSessions(counts map[string]int64, limit int) ([]SessionCount, bool) {
	out := make([]SessionCount, 0, len(counts))
	for id, n := range counts {
		out = append(out, SessionCount{SessionID: id, Spans: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Spans != out[j].Spans {
			return out[i].Spans > out[j].Spans
		}
		return out[i].SessionID < out[j].SessionID
	})
	if limit > 0 && len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

var _ stores.SessionFinder = (*Store)(nil)

// SessionsOf is every session with a span matching q, counted by TraceQL
// metrics (SessionCounts without a limit).
func (s *Store) SessionsOf(ctx context.Context, q stores.TraceSearch) (stores.SessionsFound, error) {
	q.Limit = 0
	c, err := s.SessionCounts(ctx, q)
	if err != nil {
		return stores.SessionsFound{}, err
	}
	found := stores.SessionsFound{Truncated: c.Truncated, Warnings: c.Warnings, Sessions: make([]string, 0, len(c.Sessions))}
	for _, sc := range c.Sessions {
		found.Sessions = append(found.Sessions, sc.SessionID)
	}
	return found, nil
}
