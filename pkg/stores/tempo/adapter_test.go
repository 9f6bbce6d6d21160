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
	d := contracttest.NewDouble(t, "tempo", "search_range_refused.json")
	_, err := newStore(t, d.URL).SearchTraces(context.Background(), sessionSearch(0))
	require.Error(t, err)
	var se *storehttp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusBadRequest, se.StatusCode)
	assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
	assert.Contains(t, err.Error(), "traces store (tempo at")
	assert.Contains(t, err.Error(), "exceeds the configured maximum")
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
	assert.Contains(t, tr.Notice, "max_bytes_per_trace")
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
	for name, contracts := range map[string][]string{
		"404 from both":    {"trace_v2_not_found.json", "trace_v1_not_found.json"},
		"v2 with no spans": {"trace_v2_empty.json"},
	} {
		t.Run(name, func(t *testing.T) {
			d := contracttest.NewDouble(t, "tempo", contracts...)
			st := newStore(t, d.URL)
			_, err := st.Trace(context.Background(), contractTrace, contractStart, contractEnd)
			assert.ErrorIs(t, err, stores.ErrNotFound)
			assert.False(t, st.noV2.Load(), "a missing trace says nothing about the route")
		})
	}
}

func TestTraceV1TooLargeIsAClearError(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "trace_v2_route_missing.json", "trace_v1_too_large.json")
	_, err := newStore(t, d.URL).Trace(context.Background(), contractTrace, contractStart, contractEnd)
	require.Error(t, err)
	assert.False(t, errors.Is(err, stores.ErrNotFound))
	assert.Contains(t, err.Error(), "422")
	assert.Contains(t, err.Error(), "max_bytes_per_trace")
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
	require.NoError(t, err)
	assert.False(t, res.Approximate)
	assert.True(t, res.Truncated, "3 sessions for a limit of 2")
	assert.Equal(t, []SessionCount{{"0af7651916cd43dd8448eb211c80319c", 40}, {fixtureSession, 15}}, res.Sessions)
	contracttest.CheckGolden(t, "session_counts_metrics.json", res)
}

func TestSessionCountsFallBackToSearch(t *testing.T) {
	d := contracttest.NewDouble(t, "tempo", "metrics_disabled.json", "search_session_counts_fallback.json")
	res, err := newStore(t, d.URL).SessionCounts(context.Background(), sessionCountSearch(2))
	require.NoError(t, err)
	assert.True(t, res.Approximate)
	require.NotEmpty(t, res.Warnings)
	assert.Contains(t, res.Warnings[0], "TraceQL metrics are not enabled")
	assert.Equal(t, []SessionCount{{fixtureSession, 2}, {"0af7651916cd43dd8448eb211c80319c", 1}}, res.Sessions)
	contracttest.CheckGolden(t, "session_counts_fallback.json", res)
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
