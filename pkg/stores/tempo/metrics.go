package tempo

import (
	"context"
	"errors"
	"fmt"
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
// fallback where metrics are off or the range is refused.
const (
	metricsPath = "/api/metrics/query_range"
	// maxMetricsWindow is the longest range one metrics query covers
	// (recent Tempo versions allow 24h by default; 2.10 allowed 3h, and
	// answers 400 above it: the fallback then applies).
	maxMetricsWindow  = 24 * time.Hour
	maxMetricsWindows = 7
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
	// Truncated is set when more sessions than the limit were found, or the
	// fallback search hit its limit.
	Truncated bool
	Warnings  []string
}

// metricsResponse is the JSON of /api/metrics/query_range: series with
// OTLP-style labels and samples.
type metricsResponse struct {
	Series []struct {
		Labels     []jsonKeyVal `json:"labels"`
		PromLabels string       `json:"promLabels"`
		Samples    []struct {
			TimestampMs string  `json:"timestampMs"`
			Value       float64 `json:"value"`
		} `json:"samples"`
	} `json:"series"`
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
	counts, warnings, err := s.metricsCounts(ctx, traceQL, start, end)
	if err != nil {
		if !metricsUnavailable(err) {
			return res, err
		}
		return s.sessionCountsBySearch(ctx, q, start, end, err)
	}
	res.Warnings = warnings
	res.Sessions, res.Truncated = topSessions(counts, q.Limit)
	return res, nil
}

// metricsUnavailable says whether a metrics query failed because this Tempo
// cannot answer it (metrics off, range too long, an older Tempo without the
// route): a 4xx, or 501.
func metricsUnavailable(err error) bool {
	var se *storehttp.Error
	if !errors.As(err, &se) {
		return false
	}
	return (se.StatusCode >= 400 && se.StatusCode < 500 && se.StatusCode != 401 && se.StatusCode != 403) || se.StatusCode == 501
}

func (s *Store) metricsCounts(ctx context.Context, traceQL string, start, end time.Time) (map[string]int64, []string, error) {
	windows, clamped := splitWindows(start, end, maxMetricsWindow, maxMetricsWindows)
	var warnings []string
	if clamped {
		oldest := time.Unix(windows[len(windows)-1].start, 0).UTC()
		warnings = append(warnings, fmt.Sprintf("session counts cover %d×%s back to %s, not the older part of the range",
			maxMetricsWindows, maxMetricsWindow, oldest.Format(time.RFC3339)))
	}
	counts := map[string]int64{}
	sessionKey := sessionRef()
	for _, w := range windows {
		params := url.Values{
			"q":     {traceQL},
			"start": {strconv.FormatInt(w.start, 10)},
			"end":   {strconv.FormatInt(w.end, 10)},
			// One step over the whole window: one sample per series.
			"step": {strconv.FormatInt(w.end-w.start, 10) + "s"},
		}
		var mr metricsResponse
		if err := s.getJSON(ctx, metricsPath, params, &mr, "series", "metrics"); err != nil {
			return nil, nil, err
		}
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
				counts[sid] += int64(smp.Value + 0.5)
			}
		}
	}
	return counts, warnings, nil
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
		why, limit, spansPerSpanSet)}, warnings...)
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
