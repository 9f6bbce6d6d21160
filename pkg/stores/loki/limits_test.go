package loki

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

func TestSearchLogsAsksAgainWithinTheTenantsEntriesLimit(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_limit_refused.json", "query_range_session_within_3.json")
	st := newStore(t, d.URL)
	res, err := st.SearchLogs(context.Background(), sessionLogs(100))
	require.NoError(t, err)
	assert.Equal(t, []string{"query_range_limit_refused.json", "query_range_session_within_3.json"}, d.Used())
	assert.Len(t, res.Records, 3)
	assert.True(t, res.Truncated, "the tenant's limit cut the answer: the engine's capped notice fires")
	assert.Equal(t, []string{"Loki returns at most 3 log lines per query (max_entries_limit_per_query); 100 were asked for"}, res.Warnings)
	assert.Equal(t, 3, st.limits.entries(), "remembered for the next search")
}

func TestSearchLogsSplitsWithinTheTenantsQueryLength(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_too_long.json", "query_range_window_12h_older.json", "query_range_window_12h_newer.json")
	st := newStore(t, d.URL)
	q := sessionLogs(100)
	q.Start, q.End = contractT0.Add(-12*time.Hour), contractT0.Add(12*time.Hour)
	res, err := st.SearchLogs(context.Background(), q)
	require.NoError(t, err)
	assert.Len(t, d.Used(), 3)
	assert.False(t, res.Truncated)
	assert.Empty(t, res.Warnings)
	contracttest.CheckGolden(t, "session_logs.json", res) // the same records as one query over the session's hour
	assert.Equal(t, 12*time.Hour, st.limits.queryLength())
}

// rangeDouble answers every query_range with no lines and records each
// request's range, refusing one longer than maxLen as Loki does.
type rangeDouble struct {
	mu     sync.Mutex
	maxLen time.Duration
	ranges [][2]int64
}

func (d *rangeDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start, _ := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
	end, _ := strconv.ParseInt(r.URL.Query().Get("end"), 10, 64)
	d.mu.Lock()
	d.ranges = append(d.ranges, [2]int64{start, end})
	d.mu.Unlock()
	// Loki compares in milliseconds.
	if time.Duration(end/1e6-start/1e6)*time.Millisecond > d.maxLen {
		http.Error(w, "the query time range exceeds the limit (query length: long, limit: 30d1h)", http.StatusBadRequest)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "streams", "result": []any{}}})
}

func TestSearchLogsSplitsRangesLongerThanLokisDefaultQueryLength(t *testing.T) {
	d := &rangeDouble{maxLen: defaultMaxQueryLength}
	srv := httptest.NewServer(d)
	defer srv.Close()
	q := sessionLogs(100)
	q.Start, q.End = contractT0.Add(-40*24*time.Hour), contractT0
	res, err := newStore(t, srv.URL).SearchLogs(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, d.ranges, 2, "40 days in two windows of at most 30d1h, no refusal")
	assert.Equal(t, q.Start.UnixNano(), d.ranges[0][0], "oldest window first")
	assert.Equal(t, d.ranges[0][1], d.ranges[1][0], "consecutive: each window starts where the last one ended")
	assert.Equal(t, q.End.UnixNano()+1, d.ranges[1][1])
	assert.Empty(t, res.Warnings)
}

func TestSearchLogsClampsVeryLongRangesWithAWarning(t *testing.T) {
	d := &rangeDouble{maxLen: defaultMaxQueryLength}
	srv := httptest.NewServer(d)
	defer srv.Close()
	q := sessionLogs(100)
	q.Start, q.End = contractT0.Add(-365*24*time.Hour), contractT0
	res, err := newStore(t, srv.URL).SearchLogs(context.Background(), q)
	require.NoError(t, err)
	assert.Len(t, d.ranges, maxQueryWindows)
	assert.Equal(t, q.End.UnixNano()+1, d.ranges[len(d.ranges)-1][1], "the recent part is kept")
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "max_query_length")
	assert.Contains(t, res.Warnings[0], "not the older part of the range")
}

func TestSplitQueryRange(t *testing.T) {
	start := time.Unix(0, 0)
	w, clamped := splitQueryRange(start, start.Add(time.Hour), time.Hour, 4)
	assert.False(t, clamped)
	assert.Equal(t, []queryWindow{{start, start.Add(time.Hour)}}, w, "an exact hour is one window: Loki counts whole milliseconds")
	w, clamped = splitQueryRange(start, start.Add(time.Hour+time.Millisecond), time.Hour, 4)
	assert.False(t, clamped)
	assert.Equal(t, []queryWindow{{start, start.Add(time.Hour - 1)}, {start.Add(time.Hour), start.Add(time.Hour + time.Millisecond)}}, w)
	w, clamped = splitQueryRange(start, start.Add(10*time.Hour), time.Hour, 3)
	assert.True(t, clamped)
	require.Len(t, w, 3)
	assert.Equal(t, start.Add(10*time.Hour), w[2].end)
	for i, x := range w {
		assert.LessOrEqual(t, x.end.Add(1).Truncate(time.Millisecond).Sub(x.start), time.Hour, "window %d fits", i)
		if i > 0 {
			assert.Equal(t, w[i-1].end.Add(1), x.start, "no gap, no overlap")
		}
	}
}

func lokiError(code int, msg string) error {
	return &storehttp.Error{Store: &settings.Store{}, StatusCode: code, Msg: msg}
}

func TestTenantLimitsLearn(t *testing.T) {
	var l tenantLimits
	assert.True(t, l.learn(lokiError(400, "max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 1000)")))
	assert.Equal(t, 1000, l.entries())
	assert.False(t, l.learn(lokiError(400, "max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 1000)")), "nothing new: no retry")
	assert.True(t, l.learn(lokiError(400, "max entries limit per query exceeded, limit > max_entries_limit (1000 > 500)")), "older Loki's wording")
	assert.Equal(t, 500, l.entries())

	assert.True(t, l.learn(lokiError(400, "the query time range exceeds the limit (query length: 745h0m0s, limit: 30d)")))
	assert.Equal(t, 30*24*time.Hour, l.queryLength())
	assert.True(t, l.learn(lokiError(400, "the query time range exceeds the limit (query length: 745h0m0s, limit: 1w)")))
	assert.Equal(t, 7*24*time.Hour, l.queryLength())
	assert.True(t, l.learn(lokiError(400, "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h30m0s)")), "a Go duration too")
	assert.Equal(t, 90*time.Minute, l.queryLength())

	for _, err := range []error{
		lokiError(400, "parse error at line 1, col 22: syntax error"),
		lokiError(500, "max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 10)"),
		lokiError(400, "max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 0)"),
	} {
		assert.False(t, l.learn(err), "%v", err)
	}
}
