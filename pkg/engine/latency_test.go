package engine

import (
	"context"
	"errors"
	"math"
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
	client, server stores.HistogramResult
	serverErr      error
	asked          []stores.HistogramQuery
}

func (h *histogramStore) CheckHealth(context.Context) (string, error) { return "", nil }

func (h *histogramStore) Exemplars(context.Context, stores.ExemplarSearch) ([]stores.Exemplar, error) {
	return nil, nil
}

func (h *histogramStore) Histogram(_ context.Context, q stores.HistogramQuery) (stores.HistogramResult, error) {
	h.asked = append(h.asked, q)
	if q.Match[0].Value == serverSpanKind {
		return h.server, h.serverErr
	}
	return h.client, nil
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
