package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/stores"
)

// histogramStore answers histogram reads with fixed groups per span kind and
// records what it was asked.
type histogramStore struct {
	mu             sync.Mutex
	client, server stores.HistogramResult
	serverErr      error
	asked          []stores.HistogramQuery
	// series answers series reads by span kind and figure ("p95", "mean").
	series      map[string]stores.HistogramSeriesResult
	seriesErr   error
	askedSeries []stores.HistogramSeriesQuery
}

func (h *histogramStore) CheckHealth(context.Context) (string, error) { return "", nil }

func (h *histogramStore) Exemplars(context.Context, stores.ExemplarSearch) ([]stores.Exemplar, error) {
	return nil, nil
}

func (h *histogramStore) Histogram(_ context.Context, q stores.HistogramQuery) (stores.HistogramResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, q)
	if q.Match[0].Value == serverSpanKind {
		return h.server, h.serverErr
	}
	return h.client, nil
}

func (h *histogramStore) HistogramSeries(_ context.Context, q stores.HistogramSeriesQuery) (stores.HistogramSeriesResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.askedSeries = append(h.askedSeries, q)
	figure := "mean"
	if q.Quantile != 0 {
		figure = fmt.Sprintf("p%g", q.Quantile*100)
	}
	return h.series[q.Match[0].Value+" "+figure], h.seriesErr
}

func group(labels map[string]string, count, sum, errs float64, q ...float64) stores.HistogramGroup {
	return stores.HistogramGroup{Labels: labels, Count: count, Sum: sum, Errors: errs, Quantiles: q}
}

func latencyStore() *histogramStore {
	return &histogramStore{
		client: stores.HistogramResult{Groups: []stores.HistogramGroup{
			group(map[string]string{"url_template": "/v1/search"}, 100, 360000, 0, 3400, 3900, 3990),
			group(map[string]string{"url_template": "/v1/orders/{id}"}, 40, 2000, 4, 40, 90, 120),
			group(map[string]string{"url_template": "/v1/profile"}, 10, 1000, 0, 90, 110, 120),
		}, Warnings: []string{"PromQL info: metric might not be a counter"}},
		server: stores.HistogramResult{Groups: []stores.HistogramGroup{
			group(map[string]string{"http_route": "/v1/search", "job": "gateway"}, 100, 340000, 0, 3300, 3800, 3950),
			group(map[string]string{"http_route": "/v1/orders/{id}", "job": "gateway"}, 40, 1200, 0, 25, 60, 80),
			group(map[string]string{"http_route": "/v1/orders/{id}", "job": "orders"}, 12, 240, 0, 15, 30, 40),
			group(map[string]string{"http_route": "/search", "job": "inventory"}, 100, 330000, math.NaN(), math.NaN(), math.NaN()),
		}, Resets: 2},
	}
}

func TestLatencyBreakdownFromHistograms(t *testing.T) {
	h := latencyStore()
	e := &Engine{Metrics: h, RequestDurationMetric: "stitch_requests_duration_milliseconds"}
	from, to := t0, t0.Add(time.Hour)
	res, err := e.LatencyBreakdown(context.Background(), query.LatencyBreakdown{GroupBy: []string{correlation.GroupEndpoint}, Limit: 100}, from, to)
	require.NoError(t, err)

	require.Len(t, h.asked, 2)
	c, s := h.asked[0], h.asked[1]
	assert.Equal(t, "stitch_requests_duration_milliseconds", c.Metric)
	assert.Equal(t, []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_CLIENT"}}, c.Match)
	assert.Equal(t, []string{"url_template"}, c.GroupBy)
	assert.Equal(t, []float64{0.5, 0.95, 0.99}, c.Quantiles)
	assert.Equal(t, errorSeries, c.Errors)
	assert.Equal(t, from, c.Start)
	assert.Equal(t, to, c.End)
	assert.Equal(t, []string{"http_route", "job"}, s.GroupBy)

	require.Len(t, res.Groups, 3)
	search, orders, profile := res.Groups[0], res.Groups[1], res.Groups[2]
	assert.Equal(t, []string{"/v1/search"}, search.Key, "slowest server p95 first")
	assert.Equal(t, int64(100), search.Requests)
	assert.Equal(t, correlation.LatencyQuantiles{P50: 3400, P95: 3900, P99: 3990}, search.Client)
	assert.Equal(t, correlation.LatencyQuantiles{P50: 3300, P95: 3800, P99: 3950}, search.Server)
	assert.InDelta(t, 200, search.NetworkMean(), 1e-9, "client mean 3600 − server mean 3400")

	assert.Equal(t, []string{"/v1/orders/{id}"}, orders.Key)
	assert.Equal(t, int64(4), orders.Errors)
	assert.InDelta(t, 0.1, orders.ErrorRate(), 1e-9)
	assert.True(t, orders.HasServer)
	assert.Equal(t, int64(40), orders.ServerRequests, "the service with the most requests on the route: the app-facing one")
	assert.InDelta(t, 30, orders.ServerMean, 1e-9)

	assert.Equal(t, []string{"/v1/profile"}, profile.Key, "no server side: after every endpoint with one")
	assert.False(t, profile.HasServer)
	assert.True(t, math.IsNaN(profile.Server.P95))
	assert.True(t, math.IsNaN(profile.NetworkMean()))

	texts := noticeTexts(res.Notices)
	assert.Contains(t, texts, "client histogram: PromQL info: metric might not be a counter")
	assert.Contains(t, texts, "2 server histogram series were reset in this range (a restarted collector): requests before the reset are not counted")
	assert.Contains(t, texts, "1 endpoints have no server time: no backend server span in this range has an http.route equal to their url.template (/v1/profile)")
	assert.Contains(t, texts, "several services serve the route of /v1/orders/{id} (gateway taken, of 2 services): the one with the most requests is shown")
}

func noticeTexts(ns []Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Text)
	}
	return out
}

// Grouped by an app dimension, the backend's histogram cannot split server
// time: it is not read, and a notice says why.
func TestLatencyBreakdownByAppDimensionHasNoServerSide(t *testing.T) {
	h := latencyStore()
	h.client.Groups = []stores.HistogramGroup{
		group(map[string]string{"url_template": "/v1/search", "network_connection_type": "cell"}, 10, 40000, 0, 3500, 3950, 3990),
		group(map[string]string{"url_template": "/v1/search", "network_connection_type": "wifi"}, 20, 70000, 0, 3400, 3900, 3980),
	}
	e := &Engine{Metrics: h, RequestDurationMetric: "stitch_requests_duration_milliseconds"}
	res, err := e.LatencyBreakdown(context.Background(), query.LatencyBreakdown{GroupBy: []string{correlation.GroupEndpoint, correlation.GroupNetworkType}, Limit: 1}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, h.asked, 1, "no server read")
	assert.Equal(t, []string{"url_template", "network_connection_type"}, h.asked[0].GroupBy)
	require.Len(t, res.Groups, 1)
	assert.Equal(t, []string{"/v1/search", "cell"}, res.Groups[0].Key, "slowest client p95 first")
	assert.False(t, res.Groups[0].HasServer)
	texts := noticeTexts(res.Notices)
	assert.Contains(t, texts, "server and network time are shown only when grouping by endpoint alone: the backend's histogram is labelled by route, not by the app's endpoint, networkType")
	assert.Contains(t, texts, "showing 1 of 2 groups (limit)")
}

func TestLatencyBreakdownNeedsTheMetricStore(t *testing.T) {
	_, err := (&Engine{}).LatencyBreakdown(context.Background(), query.LatencyBreakdown{GroupBy: []string{correlation.GroupEndpoint}, Limit: 10}, t0, t0.Add(time.Hour))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNoMetricStore))
	assert.Contains(t, err.Error(), "latency breakdown")
}

// A failed server read leaves the client side, with a warning; a seconds
// histogram is read in milliseconds.
func TestLatencyBreakdownServerFailureAndSeconds(t *testing.T) {
	h := latencyStore()
	h.client.Groups = []stores.HistogramGroup{group(map[string]string{"url_template": "/v1/search"}, 2, 7, 0, 3.4, 3.9, 3.99)}
	h.serverErr = errors.New("prometheus /api/v1/query: execution: query timed out")
	e := &Engine{Metrics: h, RequestDurationMetric: "app_request_duration_seconds"}
	res, err := e.LatencyBreakdown(context.Background(), query.LatencyBreakdown{GroupBy: []string{correlation.GroupEndpoint}, Limit: 10}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, res.Groups, 1)
	assert.InDelta(t, 3900, res.Groups[0].Client.P95, 1e-9)
	assert.InDelta(t, 3500, res.Groups[0].ClientMean, 1e-9)
	assert.False(t, res.Groups[0].HasServer)
	require.NotEmpty(t, res.Notices)
	assert.Equal(t, SeverityWarning, res.Notices[len(res.Notices)-1].Severity)
	assert.Contains(t, res.Notices[len(res.Notices)-1].Text, "server time unavailable: prometheus /api/v1/query: execution: query timed out")
}

func TestLatencyBreakdownWithoutData(t *testing.T) {
	h := &histogramStore{}
	e := &Engine{Metrics: h, RequestDurationMetric: "stitch_requests_duration_milliseconds"}
	res, err := e.LatencyBreakdown(context.Background(), query.LatencyBreakdown{GroupBy: []string{correlation.GroupEndpoint}, Limit: 10}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, res.Groups)
	require.Len(t, res.Notices, 1)
	assert.Contains(t, res.Notices[0].Text, "no request of the app in this time range")
}

// points is a store series: the labels and one value per time, in minutes
// from t0.
func points(labels map[string]string, byMinute map[int]float64) stores.HistogramSeries {
	s := stores.HistogramSeries{Labels: labels}
	for m := 0; m <= 60; m++ {
		if v, ok := byMinute[m]; ok {
			s.Times, s.Values = append(s.Times, t0.Add(time.Duration(m)*time.Minute)), append(s.Values, v)
		}
	}
	return s
}

func values(s *correlation.Series) []any {
	var out []any
	for _, v := range s.Values {
		if v == nil {
			out = append(out, nil)
		} else {
			out = append(out, *v)
		}
	}
	return out
}

func seriesEngine(h *histogramStore) *Engine {
	return &Engine{Metrics: h, RequestDurationMetric: "stitch_requests_duration_milliseconds"}
}

// The client p95 splits by an app dimension: one range query over the
// buckets' ends, each point in the bucket it ends; NaN is no value.
func TestClientLatencySeriesFromTheHistogram(t *testing.T) {
	h := &histogramStore{series: map[string]stores.HistogramSeriesResult{
		"SPAN_KIND_CLIENT p95": {Series: []stores.HistogramSeries{
			points(map[string]string{"service_version": "3.1.0"}, map[int]float64{1: 120, 2: math.NaN(), 3: 300}),
			points(map[string]string{"service_version": "3.0.9"}, map[int]float64{2: 90, 9: 999}),
		}, Warnings: []string{"PromQL info: input to histogram_quantile needed to be fixed for monotonicity"}},
	}}
	from, to, step := t0, t0.Add(2*time.Minute+30*time.Second), time.Minute
	res, err := seriesEngine(h).SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricClientLatencyP95, GroupBy: correlation.GroupAppVersion}, from, to, step)
	require.NoError(t, err)
	require.Len(t, h.askedSeries, 1)
	assert.Empty(t, h.asked, "no instant read")
	q := h.askedSeries[0]
	assert.Equal(t, stores.HistogramSeriesQuery{
		Metric: "stitch_requests_duration_milliseconds", Match: []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_CLIENT"}},
		GroupBy: []string{"service_version"}, Quantile: 0.95,
		Start: t0.Add(time.Minute), End: t0.Add(3 * time.Minute), Step: time.Minute, Window: time.Minute,
	}, q, "a point at each bucket's end; the window at least four collector flushes")
	require.Len(t, res.Series, 2)
	assert.Equal(t, "3.0.9", res.Series[0].Group)
	assert.Equal(t, []any{nil, 90.0, nil}, values(res.Series[0]), "a point past the range is dropped")
	assert.Equal(t, "3.1.0", res.Series[1].Group)
	assert.Equal(t, []any{120.0, nil, 300.0}, values(res.Series[1]))
	assert.Equal(t, []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}, res.Series[1].Times)
	assert.Contains(t, noticeTexts(res.Notices), "client histogram: PromQL info: input to histogram_quantile needed to be fixed for monotonicity")
}

func TestLatencyWindow(t *testing.T) {
	assert.Equal(t, time.Minute, latencyWindow(10*time.Second), "four 15 s flushes")
	assert.Equal(t, time.Minute, latencyWindow(time.Minute))
	assert.Equal(t, 5*time.Minute, latencyWindow(5*time.Minute), "the step: every observation lands in a point")
}

// The server p95 by endpoint is the series of the route equal to the
// endpoint, from the service with the most requests on it over the range,
// as the latency breakdown joins them; routes the app did not call are not
// endpoints.
func TestServerLatencySeriesByEndpoint(t *testing.T) {
	h := latencyStore()
	h.series = map[string]stores.HistogramSeriesResult{
		"SPAN_KIND_SERVER p95": {Series: []stores.HistogramSeries{
			points(map[string]string{"http_route": "/v1/search", "job": "gateway"}, map[int]float64{1: 3800}),
			points(map[string]string{"http_route": "/v1/orders/{id}", "job": "gateway"}, map[int]float64{1: 60, 2: 70}),
			points(map[string]string{"http_route": "/v1/orders/{id}", "job": "orders"}, map[int]float64{1: 30}),
			points(map[string]string{"http_route": "/search", "job": "inventory"}, map[int]float64{1: 3700}),
		}},
	}
	res, err := seriesEngine(h).SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricServerLatencyP95, GroupBy: correlation.GroupEndpoint}, t0, t0.Add(2*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, h.asked, 2, "which endpoints the app called, which service serves each")
	for _, a := range h.asked {
		assert.Equal(t, t0, a.Start)
		assert.Equal(t, t0.Add(2*time.Minute), a.End)
		assert.Empty(t, a.Quantiles, "counts only")
	}
	require.Len(t, h.askedSeries, 1)
	assert.Equal(t, []string{"http_route", "job"}, h.askedSeries[0].GroupBy)
	assert.Equal(t, "SPAN_KIND_SERVER", h.askedSeries[0].Match[0].Value)
	require.Len(t, res.Series, 2)
	assert.Equal(t, "/v1/orders/{id}", res.Series[0].Group)
	assert.Equal(t, []any{60.0, 70.0}, values(res.Series[0]), "gateway's, not orders'")
	assert.Equal(t, "/v1/search", res.Series[1].Group)
	assert.Equal(t, []any{3800.0, nil}, values(res.Series[1]))
	texts := noticeTexts(res.Notices)
	assert.Contains(t, texts, "1 endpoints have no server time: no backend server span in this range has an http.route equal to their url.template (/v1/profile)")
	assert.Contains(t, texts, "several services serve the route of /v1/orders/{id} (gateway taken, of 2 services): the one with the most requests is shown")
}

// Network time per endpoint is the client mean minus the server mean, in a
// seconds histogram read in milliseconds.
func TestNetworkLatencySeriesIsADifferenceOfMeans(t *testing.T) {
	h := latencyStore()
	h.series = map[string]stores.HistogramSeriesResult{
		"SPAN_KIND_CLIENT mean": {Series: []stores.HistogramSeries{
			points(map[string]string{"url_template": "/v1/search"}, map[int]float64{1: 3.6, 2: 3.5}),
			points(map[string]string{"url_template": "/v1/profile"}, map[int]float64{1: 0.1}),
		}},
		"SPAN_KIND_SERVER mean": {Series: []stores.HistogramSeries{
			points(map[string]string{"http_route": "/v1/search", "job": "gateway"}, map[int]float64{1: 3.4, 2: math.NaN()}),
		}},
	}
	e := seriesEngine(h)
	e.RequestDurationMetric = "app_request_duration_seconds"
	res, err := e.SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricNetworkLatencyP95, GroupBy: correlation.GroupEndpoint}, t0, t0.Add(2*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, h.askedSeries, 2)
	require.Len(t, res.Series, 1, "an endpoint without server time has no network time")
	assert.Equal(t, "/v1/search", res.Series[0].Group)
	require.NotNil(t, res.Series[0].Values[0])
	assert.InDelta(t, 200, *res.Series[0].Values[0], 1e-9)
	assert.Nil(t, res.Series[0].Values[1], "no server mean: no difference")
	assert.Contains(t, noticeTexts(res.Notices), "networkLatencyP95 is the mean client time minus the mean server time of each endpoint's requests in each bucket (network and queueing time): a difference of means, not a p95, since two p95s do not subtract")
}

// Ungrouped, there is one series even without data, so an alert sees no
// value rather than no series, and a notice says why.
func TestServerLatencySeriesUngroupedWithoutData(t *testing.T) {
	h := &histogramStore{}
	res, err := seriesEngine(h).SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricServerLatencyP95}, t0, t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, h.askedSeries, 1)
	assert.Nil(t, h.askedSeries[0].GroupBy)
	assert.Empty(t, h.asked, "ungrouped: no join")
	require.Len(t, res.Series, 1)
	assert.Equal(t, "", res.Series[0].Group)
	assert.Equal(t, []any{nil, nil, nil}, values(res.Series[0]))
	require.Len(t, res.Notices, 1)
	assert.Contains(t, res.Notices[0].Text, "no request in this time range")
}

// What the histograms cannot answer is an error naming the field, not a
// silent empty answer; no metric store is ErrNoMetricStore; a store failure
// fails the query.
func TestLatencySeriesRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		q    query.SessionMetrics
		want string
	}{
		"server by app version": {query.SessionMetrics{Metric: correlation.MetricServerLatencyP95, GroupBy: correlation.GroupAppVersion}, "serverLatencyP95 cannot be split by appVersion"},
		"network by network":    {query.SessionMetrics{Metric: correlation.MetricNetworkLatencyP95, GroupBy: correlation.GroupNetworkType}, "networkLatencyP95 is per endpoint"},
		"network ungrouped":     {query.SessionMetrics{Metric: correlation.MetricNetworkLatencyP95}, "networkLatencyP95 is per endpoint"},
	} {
		h := &histogramStore{}
		_, err := seriesEngine(h).SessionMetrics(context.Background(), c.q, t0, t0.Add(time.Hour), time.Minute)
		var fe *query.FieldError
		require.True(t, errors.As(err, &fe), name)
		assert.Equal(t, "groupBy", fe.Field, name)
		assert.Contains(t, err.Error(), c.want, name)
		assert.Empty(t, h.askedSeries, name)
	}

	_, err := (&Engine{}).SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricClientLatencyP95}, t0, t0.Add(time.Hour), time.Minute)
	assert.True(t, errors.Is(err, ErrNoMetricStore))
	assert.Contains(t, err.Error(), "clientLatencyP95 comes from its request-duration histograms")

	h := latencyStore()
	h.seriesErr = errors.New("prometheus /api/v1/query_range: execution: query timed out")
	_, err = seriesEngine(h).SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricServerLatencyP95, GroupBy: correlation.GroupEndpoint}, t0, t0.Add(time.Hour), time.Minute)
	assert.ErrorIs(t, err, h.seriesErr)
}
