package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/engine"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

func TestEveryQueryTypeHasAHandler(t *testing.T) {
	var handled []string
	for qt := range queryHandlers {
		handled = append(handled, qt)
	}
	want := append([]string(nil), query.Types...)
	sort.Strings(handled)
	sort.Strings(want)
	assert.Equal(t, want, handled)
}

func goldenRange() backend.TimeRange {
	return backend.TimeRange{From: t0.Add(-time.Minute), To: t0.Add(time.Minute)}
}

// The query type comes from the query's JSON, or else from the request's
// QueryType; the JSON's wins when both are set.
func TestQueryTypeFromModelOrRequest(t *testing.T) {
	ds := goldenDatasource(t)
	res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		{RefID: "request", QueryType: query.TypeSessions, JSON: json.RawMessage(`{}`), TimeRange: goldenRange()},
		{RefID: "both", QueryType: query.TypeSessions, JSON: json.RawMessage(`{"queryType":"sessionMetrics"}`), TimeRange: goldenRange()},
		{RefID: "unknown", JSON: json.RawMessage(`{"queryType":"graph"}`)},
		{RefID: "none", JSON: json.RawMessage(`{}`)},
	}})
	require.NoError(t, err)
	require.NoError(t, res.Responses["request"].Error)
	assert.NotEmpty(t, res.Responses["request"].Frames)
	assert.ErrorContains(t, res.Responses["both"].Error, "metric: missing", "answered as sessionMetrics, not sessions")
	for _, ref := range []string{"unknown", "none"} {
		r := res.Responses[ref]
		require.Error(t, r.Error, ref)
		assert.Equal(t, backend.StatusBadRequest, r.Status, ref)
		assert.Equal(t, backend.ErrorSourceDownstream, r.ErrorSource, ref)
		assert.Contains(t, r.Error.Error(), "queryType", ref)
	}
}

// panickingTraceStore panics on a search filtered by the value "boom".
type panickingTraceStore struct{ memoryTraceStore }

func (p panickingTraceStore) SearchTraces(ctx context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	for _, kv := range q.Attributes {
		if kv.Value == "boom" {
			var m map[string]int
			m["adapter bug"]++ // a nil map write: a real runtime panic
		}
	}
	return p.memoryTraceStore.SearchTraces(ctx, q)
}

// A panic in one query gives that query a plugin error and no details; the
// other queries of the request answer.
func TestPanicInOneQueryLeavesTheOthers(t *testing.T) {
	ds := goldenDatasource(t)
	ds.traces = panickingTraceStore{memoryTraceStore{goldenTraces()}}
	res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		{RefID: "A", JSON: json.RawMessage(`{"queryType":"sessions","endpoint":"boom"}`), TimeRange: goldenRange()},
		{RefID: "B", JSON: json.RawMessage(`{"queryType":"sessions"}`), TimeRange: goldenRange()},
		{RefID: "C", JSON: json.RawMessage(`{"queryType":"latencyBreakdown"}`), TimeRange: goldenRange()},
	}})
	require.NoError(t, err)
	a := res.Responses["A"]
	require.Error(t, a.Error)
	assert.Equal(t, "internal error while running this query", a.Error.Error())
	assert.Equal(t, backend.StatusInternal, a.Status)
	assert.Equal(t, backend.ErrorSourcePlugin, a.ErrorSource)
	for _, ref := range []string{"B", "C"} {
		require.NoError(t, res.Responses[ref].Error, ref)
		require.NotEmpty(t, res.Responses[ref].Frames, ref)
	}
}

// barrierTraceStore answers a search only once `want` searches are in
// flight at the same time: queries that ran one after another would fail.
type barrierTraceStore struct {
	memoryTraceStore
	want    int32
	arrived *atomic.Int32
	all     chan struct{}
}

func (b barrierTraceStore) SearchTraces(ctx context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	if b.arrived.Add(1) == b.want {
		close(b.all)
	}
	select {
	case <-b.all:
		return b.memoryTraceStore.SearchTraces(ctx, q)
	case <-time.After(5 * time.Second):
		return stores.TraceSearchResult{}, errors.New("the queries of a request did not run concurrently")
	case <-ctx.Done():
		return stores.TraceSearchResult{}, ctx.Err()
	}
}

func TestQueriesOfARequestRunConcurrently(t *testing.T) {
	ds := goldenDatasource(t)
	ds.traces = barrierTraceStore{memoryTraceStore: memoryTraceStore{goldenTraces()}, want: queryConcurrency, arrived: new(atomic.Int32), all: make(chan struct{})}
	var queries []backend.DataQuery
	for i := range queryConcurrency {
		queries = append(queries, backend.DataQuery{RefID: fmt.Sprint(i), JSON: json.RawMessage(`{"queryType":"sessions"}`), TimeRange: goldenRange()})
	}
	res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries})
	require.NoError(t, err)
	for _, q := range queries {
		require.NoError(t, res.Responses[q.RefID].Error, q.RefID)
	}
}

// How each class of error reaches Grafana, whatever wrapped it.
func TestFailedMapsEachErrorClass(t *testing.T) {
	ds := newTestDatasource(t, map[string]string{"logsBearerToken": "sekret-token-xyz"})
	store := ds.settings.Logs
	storeErr := func(code int, src backend.ErrorSource) error {
		return &storehttp.Error{Store: store, Path: "/select/logsql/query", StatusCode: code, Msg: "said sekret-token-xyz", Source: src}
	}
	wrap := func(err error) error { return fmt.Errorf("log search: %w", err) }
	cases := []struct {
		name   string
		err    error
		status backend.Status
		source backend.ErrorSource
		msg    string
	}{
		{"panic", &safego.PanicError{Value: "boom"}, backend.StatusInternal, backend.ErrorSourcePlugin, "internal error while running this query"},
		{"cancelled", wrap(context.Canceled), statusClientClosedRequest, backend.ErrorSourceDownstream, "query cancelled"},
		{"request deadline", wrap(context.DeadlineExceeded), backend.StatusTimeout, backend.ErrorSourceDownstream, "deadline"},
		{"store timeout", wrap(&storehttp.Error{Store: store, Path: "/x", Msg: "no answer", TimedOut: true, Source: backend.ErrorSourceDownstream}), backend.StatusTimeout, backend.ErrorSourceDownstream, "logs store (victorialogs at 127.0.0.1:2)"},
		{"bad query field", wrap(&query.FieldError{Field: "limit", Msg: "too big"}), backend.StatusBadRequest, backend.ErrorSourceDownstream, "limit: too big"},
		{"bad setting", backend.DownstreamError(&settings.Error{Field: "traces.url", Msg: "missing"}), backend.StatusBadRequest, backend.ErrorSourceDownstream, "traces.url"},
		{"no trace store", engine.ErrNoTraceStore, backend.StatusBadRequest, backend.ErrorSourceDownstream, "no trace store"},
		{"store 401", wrap(storeErr(401, backend.ErrorSourceDownstream)), backend.StatusBadGateway, backend.ErrorSourceDownstream, "answered 401"},
		{"store 500", wrap(storeErr(500, backend.ErrorSourceDownstream)), backend.StatusBadGateway, backend.ErrorSourceDownstream, "answered 500"},
		{"store 405 (a request Stitch should not send)", wrap(storeErr(405, backend.ErrorSourcePlugin)), backend.StatusBadGateway, backend.ErrorSourcePlugin, "answered 405"},
		{"a bug", errors.New("index out of range sekret-token-xyz"), backend.StatusInternal, backend.ErrorSourcePlugin, "index out of range [redacted]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ds.failed(context.Background(), c.err)
			require.Error(t, r.Error)
			assert.Equal(t, c.status, r.Status)
			assert.Equal(t, c.source, r.ErrorSource)
			assert.Contains(t, r.Error.Error(), c.msg)
			assert.NotContains(t, r.Error.Error(), "sekret-token-xyz")
		})
	}
}
