package tempo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// The adapter against testdata/contracts: each test names the documented
// request → response pairs it may use; any other request fails it.

var (
	contractStart = fixtureT0.Add(-30 * time.Minute)
	contractEnd   = fixtureT0.Add(30 * time.Minute)
	contractTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
)

func sessionSearch(limit int) stores.TraceSearch {
	return stores.TraceSearch{
		Attributes: []telemetry.KV{{Key: "session.id", Value: fixtureSession}},
		Start:      contractStart, End: contractEnd, Limit: limit,
	}
}

func TestSearchTracesSessionContract(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_session.json")
	res, err := newStore(t, d.URL).SearchTraces(context.Background(), sessionSearch(500))
	require.NoError(t, err)
	assert.False(t, res.Complete, "span sets are not whole traces")
	assert.False(t, res.Truncated)
	require.Len(t, res.Traces, 2)
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", res.Traces[1].TraceID, "a dropped leading zero is restored")
	assert.Equal(t, fixtureSession, res.Traces[0].Spans[0].Attr("session.id"))
	contracttest.CheckGolden(t, "search_session.json", res)
}

func TestSearchTracesFiltersAreScopedByTheSchema(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_filters.json")
	res, err := newStore(t, d.URL).SearchTraces(context.Background(), stores.TraceSearch{
		Attributes: []telemetry.KV{
			{Key: "service.name", Value: "stitch-ios"},
			{Key: "url.template", Value: "/v1/orders"},
			{Key: "http.response.status_code", Value: "502"},
		},
		Start: contractStart, End: contractEnd,
	})
	require.NoError(t, err)
	require.Len(t, res.Traces, 1)
	sp := res.Traces[0].Spans[0]
	assert.Equal(t, "stitch-ios", sp.Resource.Value("service.name"), "a resource attribute lands on the resource")
	assert.Equal(t, "stitch-ios", sp.Service)
	assert.Equal(t, "502", sp.Attributes.Value("http.response.status_code"))
	assert.False(t, res.Truncated)
}

func TestSearchTracesSplitsRangesLongerThanTempoAllows(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_window_recent.json", "search_window_older.json")
	q := sessionSearch(10)
	q.Start, q.End = fixtureT0.Add(-200*time.Hour), fixtureT0
	res, err := newStore(t, d.URL).SearchTraces(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, []string{"search_window_older.json", "search_window_recent.json"}, d.Used())
	require.Len(t, res.Traces, 2)
	assert.Len(t, res.Traces[0].Spans, 2, "the spans of a trace found in both windows are merged")
	assert.Equal(t, "1b1ba462b409200d1b1ba462b409200d", res.Traces[1].TraceID, "older Tempo's single spanSet is read too")
	assert.Empty(t, res.Warnings, "a split search is complete")
}

func TestSearchTracesClampsVeryLongRangesWithAWarning(t *testing.T) {
	now := fixtureT0
	st := newStore(t, tempoDouble(t, now).URL)
	q := sessionSearch(10)
	q.Start, q.End = now.Add(-30*24*time.Hour), now
	res, err := st.SearchTraces(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "not the older part of the range")
}

func TestSearchTracesTruncatedAtTheLimit(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_session_limit.json")
	res, err := newStore(t, d.URL).SearchTraces(context.Background(), sessionSearch(2))
	require.NoError(t, err)
	assert.True(t, res.Truncated, "Tempo returned as many traces as asked for")
	assert.Len(t, res.Traces, 2)
}

func TestSearchTracesEmptyAnswer(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_empty.json")
	q := sessionSearch(0)
	q.Attributes[0].Value = "ffffffffffffffffffffffffffffffff"
	res, err := newStore(t, d.URL).SearchTraces(context.Background(), q)
	require.NoError(t, err)
	assert.Empty(t, res.Traces)
	assert.False(t, res.Truncated)
}

func TestSearchTracesErrorCarriesTempoMessage(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_query_refused.json")
	_, err := newStore(t, d.URL).SearchTraces(context.Background(), sessionSearch(0))
	require.Error(t, err)
	var se *storehttp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusBadRequest, se.StatusCode)
	assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
	assert.Contains(t, err.Error(), "traces store (tempo at")
	assert.Contains(t, err.Error(), "invalid TraceQL query: parse error")
}

func TestSearchTracesSplitsWithinTheTenantsRangeLimit(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_range_refused.json", "search_window_30m_recent.json", "search_window_30m_older.json")
	st := newStore(t, d.URL)
	res, err := st.SearchTraces(context.Background(), sessionSearch(0))
	require.NoError(t, err)
	assert.Equal(t, []string{"search_range_refused.json", "search_window_30m_older.json", "search_window_30m_recent.json"}, d.Used())
	require.Len(t, res.Traces, 2, "both halves were searched")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", res.Traces[0].TraceID, "newest window first")
	assert.Empty(t, res.Warnings, "the split covers the whole range")
	assert.Equal(t, 30*time.Minute, st.limits.searchWindowLen(), "the limit is remembered")

	// The next search starts within the limit: no refusal is asked for again.
	_, err = st.SearchTraces(context.Background(), sessionSearch(0))
	require.NoError(t, err)
}

func TestSearchTracesAsksAgainWithinTheTenantsLimits(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_limit_refused.json", "search_spss_refused.json", "search_within_tenant_limits.json")
	st := newStore(t, d.URL)
	res, err := st.SearchTraces(context.Background(), sessionSearch(500))
	require.NoError(t, err)
	assert.Equal(t, []string{"search_limit_refused.json", "search_spss_refused.json", "search_within_tenant_limits.json"}, d.Used())
	assert.Len(t, res.Traces, 2)
	assert.True(t, res.Truncated, "the tenant's lower limit cut the search: the engine's capped notice fires")
	require.Len(t, res.Warnings, 2)
	assert.Contains(t, res.Warnings[0], "at most 2 traces per search")
	assert.Contains(t, res.Warnings[1], "at most 50 matching spans per trace")
}

func TestSearchTracesRefusesBadInputBeforeAsking(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo")
	st := newStore(t, d.URL)
	for _, attrs := range [][]telemetry.KV{
		{{Key: "http.response.status_code", Value: "five hundred"}},
		{{Key: "session.id", Value: "a"}, {Key: "session.id", Value: "b"}},
		{{Key: "bad\nname", Value: "x"}},
	} {
		_, err := st.SearchTraces(context.Background(), stores.TraceSearch{Attributes: attrs, Start: contractStart, End: contractEnd})
		require.Error(t, err, "%v", attrs)
		assert.True(t, backend.IsDownstreamError(err), "bad input is the user's: %v", err)
	}
}

func TestTraceV2Complete(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "trace_v2_complete.json")
	tr, err := newStore(t, d.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.NoError(t, err)
	assert.False(t, tr.Partial)
	require.Len(t, tr.Spans, 4)
	client := tr.Spans[1]
	assert.Equal(t, telemetry.KindClient, client.Kind)
	assert.Equal(t, telemetry.StatusError, client.StatusCode)
	assert.Equal(t, "00f067aa0ba90201", client.ParentSpanID)
	assert.Equal(t, "iPhone15,2", client.Resource.Value("device.model.identifier"))
	contracttest.CheckGolden(t, "trace_v2_complete.json", tr)
}

func TestTraceV2PartialCarriesTempoMessage(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "trace_v2_partial.json")
	tr, err := newStore(t, d.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.NoError(t, err)
	assert.True(t, tr.Partial)
	assert.Equal(t, "Tempo returned part of the trace: Trace exceeds maximum size of 5000000 bytes, a partial trace is returned", tr.Notice)
	assert.Len(t, tr.Spans, 2)
}

func TestTraceFallsBackToV1WhereV2IsMissing(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "trace_v2_route_missing.json", "trace_v1.json")
	st := newStore(t, d.URL)
	tr, err := st.Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.NoError(t, err)
	// The same OTLP trace, read from v1's unwrapped body, converts the same.
	contracttest.CheckGolden(t, "trace_v2_complete.json", tr)
	assert.True(t, st.noV2.Load(), "v2 is not asked again")
	_, err = st.Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.NoError(t, err)
}

func TestTraceNotFound(t *testing.T) {
	t.Run("Tempo 2.6+: v2 answers an empty trace", func(t *testing.T) {
		d := contracttest.NewDouble(t, "tempo", "trace_v2_empty.json")
		st := newStore(t, d.URL)
		_, err := st.Trace(context.Background(), contractTrace, contractStart, contractEnd)
		assert.ErrorIs(t, err, stores.ErrNotFound)
		assert.Equal(t, []string{"trace_v2_empty.json"}, d.Used(), "v1 is not asked")
		assert.False(t, st.noV2.Load(), "a missing trace says nothing about the route")
	})
	t.Run("before 2.6: no v2 route, v1 answers 404", func(t *testing.T) {
		d := contracttest.NewDouble(t, "tempo", "trace_v2_route_missing.json", "trace_v1_not_found.json")
		st := newStore(t, d.URL)
		_, err := st.Trace(context.Background(), contractTrace, contractStart, contractEnd)
		assert.ErrorIs(t, err, stores.ErrNotFound)
		assert.True(t, st.noV2.Load(), "Tempo 2.6+ never answers 404 on v2: the route is missing")
	})
}

func TestTraceTooLargeIsAClearError(t *testing.T) {
	for name, contracts := range map[string][]string{
		"v1 (before 2.6)":    {"trace_v2_route_missing.json", "trace_v1_too_large.json"},
		"v2 422 (Tempo 2.6)": {"trace_v2_too_large_2_6.json"},
	} {
		t.Run(name, func(t *testing.T) {
			d := contracttest.NewDouble(t, "tempo", contracts...)
			_, err := newStore(t, d.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
			require.Error(t, err)
			assert.False(t, errors.Is(err, stores.ErrNotFound))
			var se *storehttp.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, http.StatusUnprocessableEntity, se.StatusCode)
			assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
			assert.Contains(t, se.Msg, "trace 4bf92f3577b34da6a3ce929d0e0e4736 is larger than Tempo's max_bytes_per_trace and this Tempo returns no part of it")
			assert.Contains(t, se.Msg, "trace exceeds max size (max bytes: 5000000)", "Tempo's own words are kept")
		})
	}
}

// A device clock running ahead stamps a fresh trace after now: the range is
// stretched so the trace is found by ID, which Tempo does at once.
func TestTraceFindsAFutureStampedDeviceTrace(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "trace_v2_future_device.json")
	st := newStore(t, d.URL)
	now := fixtureT0.Add(-5 * time.Minute) // the trace's spans start 5 minutes ahead
	st.now = func() time.Time { return now }
	tr, err := st.Trace(context.Background(), contractTrace, now.Add(-30*time.Minute), now)
	require.NoError(t, err)
	assert.True(t, tr.Spans[0].Start.After(now), "the trace is stamped in the future")
	assert.Len(t, tr.Spans, 4)
}

// Search does not find such a trace for more than a minute (Tempo), even
// with the stretched range: the engine has to fetch it by ID.
func TestSearchTracesStretchesAnEndNearNow(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "search_future_device.json")
	st := newStore(t, d.URL)
	now := fixtureT0.Add(-5 * time.Minute)
	st.now = func() time.Time { return now }
	q := sessionSearch(0)
	q.Start, q.End = now.Add(-30*time.Minute), now
	res, err := st.SearchTraces(context.Background(), q)
	require.NoError(t, err, "the end sent is now + ClockSkewAllowance")
	assert.Empty(t, res.Traces)
}

func TestSkewedEnd(t *testing.T) {
	now := fixtureT0
	st := &Store{now: func() time.Time { return now }}
	assert.Equal(t, now.Add(ClockSkewAllowance), st.skewedEnd(now))
	assert.Equal(t, now.Add(ClockSkewAllowance), st.skewedEnd(now.Add(-time.Minute)), "an end a minute ago is still near now")
	old := now.Add(-time.Hour)
	assert.Equal(t, old, st.skewedEnd(old), "a range in the past is left alone")
	later := now.Add(time.Hour)
	assert.Equal(t, later, st.skewedEnd(later), "an end already past the allowance is left alone")
}

func TestTraceRefusesAnInvalidID(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo")
	_, err := newStore(t, d.URL).Trace(context.Background(), "../../api/echo", contractStart, contractEnd)
	require.Error(t, err)
	assert.True(t, backend.IsDownstreamError(err))
}

func TestTraceOnATempoWithoutTraceRoutes(t *testing.T) {
	srv := tempoDouble(t, fixtureT0) // answers 404 on both trace routes
	_, err := newStore(t, srv.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
	assert.ErrorIs(t, err, stores.ErrNotFound)
}

func TestTraceAnswerThatIsNotProtobuf(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"trace":{"resourceSpans":[]},"status":"COMPLETE"}`)
	}))
	defer srv.Close()
	_, err := newStore(t, srv.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not Tempo")
}

func TestTagValues(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "tag_values_session.json")
	vals, err := newStore(t, d.URL).TagValues(context.Background(), "session.id", contractStart, contractEnd, 50)
	require.NoError(t, err)
	assert.Equal(t, []string{fixtureSession, "0af7651916cd43dd8448eb211c80319c"}, vals, "deduplicated, in Tempo's order")
}

func sessionCountSearch(limit int) stores.TraceSearch {
	return stores.TraceSearch{
		Attributes: []telemetry.KV{{Key: "service.name", Value: "stitch-ios"}},
		Start:      contractStart, End: contractEnd, Limit: limit,
	}
}

func TestSessionCountsPushedDownAsTraceQLMetrics(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "metrics_session_counts.json")
	res, err := newStore(t, d.URL).SessionCounts(context.Background(), sessionCountSearch(2))
	require.NoError(t, err, "the request carries instant=true")
	assert.False(t, res.Approximate)
	assert.True(t, res.Truncated, "3 sessions for a limit of 2")
	assert.Empty(t, res.Warnings)
	assert.Equal(t, []SessionCount{{"0af7651916cd43dd8448eb211c80319c", 40}, {fixtureSession, 15}}, res.Sessions)
	contracttest.CheckGolden(t, "session_counts_metrics.json", res)
}

func TestSessionCountsFallBackToSearch(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "metrics_disabled.json", "search_session_counts_fallback.json")
	res, err := newStore(t, d.URL).SessionCounts(context.Background(), sessionCountSearch(2))
	require.NoError(t, err, "Tempo's 500 without a metrics generator means metrics are unavailable")
	assert.True(t, res.Approximate)
	require.NotEmpty(t, res.Warnings)
	assert.Contains(t, res.Warnings[0], "TraceQL metrics unavailable (/api/metrics/query_range answered 500: error finding generators in Querier.queryRangeRecent: empty ring)")
	assert.Equal(t, []SessionCount{{fixtureSession, 2}, {"0af7651916cd43dd8448eb211c80319c", 1}}, res.Sessions)
	contracttest.CheckGolden(t, "session_counts_fallback.json", res)
}

func TestSessionCountsPartialAnswerIsTruncated(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "metrics_session_counts_partial.json")
	res, err := newStore(t, d.URL).SessionCounts(context.Background(), sessionCountSearch(0))
	require.NoError(t, err)
	assert.True(t, res.Truncated, "Tempo's series limit cut the answer; no limit of Stitch's did")
	assert.False(t, res.Approximate)
	assert.Equal(t, []string{"Tempo returned part of the session counts: Response exceeds maximum series limit of 2, a partial response is returned. Warning: the accuracy of each individual value is not guaranteed."}, res.Warnings)
	assert.Len(t, res.Sessions, 2)
}

func TestSessionCountsSplitWithinTempo2MetricsLimit(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "metrics_range_too_long_2x.json", "metrics_window_3h_recent.json", "metrics_window_3h_older.json")
	st := newStore(t, d.URL)
	q := sessionCountSearch(0)
	q.Start, q.End = fixtureT0.Add(-6*time.Hour), fixtureT0
	res, err := st.SessionCounts(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, []string{"metrics_range_too_long_2x.json", "metrics_window_3h_older.json", "metrics_window_3h_recent.json"}, d.Used())
	assert.False(t, res.Approximate, "still TraceQL metrics, in 3h windows")
	assert.Equal(t, []SessionCount{{"0af7651916cd43dd8448eb211c80319c", 40}, {fixtureSession, 19}}, res.Sessions, "the windows' counts add up")
	assert.Equal(t, 3*time.Hour, st.limits.metricsWindowLen())
}

func TestSessionCountsNeverCountASampleTwice(t *testing.T) {
	// Answers in range mode carry the neighbouring window's interval too.
	d := contracttest.NewDouble(t, "tempo", "metrics_range_mode_recent.json", "metrics_range_mode_older.json")
	q := sessionCountSearch(0)
	q.Start, q.End = time.Unix(1714348800, 0), time.Unix(1714521600, 0)
	res, err := newStore(t, d.URL).SessionCounts(context.Background(), q)
	require.NoError(t, err)
	assert.Len(t, d.Used(), 2)
	assert.Equal(t, []SessionCount{{fixtureSession, 12}}, res.Sessions, "5 + 7, not the 7 twice nor the interval before the range")
}

func TestSampleInWindow(t *testing.T) {
	w := searchWindow{start: 100, end: 200}
	for ts, want := range map[string]bool{
		"100000": true, "199999": true, "150000": true,
		"99999": false, "200000": false, "": false, "x": false,
	} {
		assert.Equal(t, want, sampleInWindow(ts, w), ts)
	}
}

func TestMetricsUnavailable(t *testing.T) {
	for code, want := range map[int]bool{400: true, 404: true, 500: true, 501: true, 502: true, 401: false, 403: false, 0: false} {
		assert.Equal(t, want, metricsUnavailable(&storehttp.Error{Store: &settings.Store{}, StatusCode: code}), "%d", code)
	}
	assert.False(t, metricsUnavailable(errors.New("dial failed")))
}

func TestSplitWindows(t *testing.T) {
	end := time.Unix(1000, 500) // a fraction of a second rounds the end up
	w, clamped := splitWindows(time.Unix(700, 0), end, 100*time.Second, 10)
	assert.False(t, clamped)
	assert.Equal(t, []searchWindow{{901, 1001}, {801, 901}, {701, 801}, {700, 701}}, w)
	w, clamped = splitWindows(time.Unix(0, 0), time.Unix(1000, 0), 100*time.Second, 2)
	assert.True(t, clamped)
	assert.Equal(t, []searchWindow{{900, 1000}, {800, 900}}, w)
}
