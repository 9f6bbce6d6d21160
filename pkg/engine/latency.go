package engine

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/stores"
)

// The latency breakdown reads the request-duration histogram the reference
// pipeline's span metrics write (settings: metrics.requestDurationMetric):
// the app's client spans (span_kind SPAN_KIND_CLIENT, labelled with the
// app's dimensions) and the backends' server spans (SPAN_KIND_SERVER,
// labelled with http_route and job, the service). Label names come from
// this fixed list only, never from a query.
const (
	labelRoute      = "http_route"
	labelJob        = "job"
	labelSpanStatus = "status_code"
	serverSpanKind  = "SPAN_KIND_SERVER"
	roleMetrics     = "metrics"
)

// groupLabel is the histogram's label behind each groupBy dimension.
var groupLabel = map[string]string{
	correlation.GroupEndpoint:    labelEndpoint,
	correlation.GroupAppVersion:  "service_version",
	correlation.GroupOSVersion:   "os_version",
	correlation.GroupDeviceModel: "device_model_identifier",
	correlation.GroupNetworkType: "network_connection_type",
}

// latencyQuantiles are the φ of the breakdown's p50, p95 and p99.
var latencyQuantiles = []float64{0.5, 0.95, 0.99}

// errorSeries: a request failed when its span's status is an error (client
// spans: 4xx and 5xx; server spans: 5xx, by the HTTP conventions) or its
// status code is 5xx. error.type is not a dimension of the histogram, so a
// failure recorded only there is not counted.
var errorSeries = [][]stores.LabelMatch{
	{{Name: labelSpanStatus, Value: "STATUS_CODE_ERROR"}},
	{{Name: labelStatusCode, Value: "5[0-9][0-9]", Regex: true}},
}

// LatencyResult is the latency breakdown and what was cut or failed.
type LatencyResult struct {
	Groups  []*correlation.LatencyGroup
	Notices []Notice
}

// errNoMetricStoreForLatency is ErrNoMetricStore, saying what the breakdown
// needs it for.
type errNoMetricStoreForLatency struct{}

func (errNoMetricStoreForLatency) Error() string {
	return "no metrics store is configured (metrics.kind prometheus): the latency breakdown comes from its request-duration histograms"
}

func (errNoMetricStoreForLatency) Is(target error) bool { return target == ErrNoMetricStore }

// msPerUnit is how many milliseconds one unit of the histogram is, from the
// unit suffix Prometheus' naming gives it (OpenTelemetry's translation adds
// it): _seconds, else milliseconds.
func msPerUnit(metric string) float64 {
	if strings.HasSuffix(metric, "_seconds") {
		return 1000
	}
	return 1
}

// LatencyBreakdown splits the app's requests in [from, to] into client time
// (the app's client spans), server time (the backend's server spans of the
// route the endpoint names) and network + queueing time, from the
// request-duration histograms in the metric store: every request of the
// window counts, whatever the size of the stores. Percentiles are estimated
// within one histogram bucket; counts and means are exact.
func (e *Engine) LatencyBreakdown(ctx context.Context, q query.LatencyBreakdown, from, to time.Time) (*LatencyResult, error) {
	if e.Metrics == nil {
		return nil, errNoMetricStoreForLatency{}
	}
	res := &LatencyResult{}
	var ns notices
	defer func() { res.Notices = ns.all() }()
	metric := e.RequestDurationMetric
	scale := msPerUnit(metric)

	labels := make([]string, len(q.GroupBy))
	for i, d := range q.GroupBy {
		l, ok := groupLabel[d]
		if !ok {
			return nil, &query.FieldError{Field: "groupBy", Msg: fmt.Sprintf("%q is not a dimension", d)}
		}
		labels[i] = l
	}
	client, err := e.Metrics.Histogram(ctx, stores.HistogramQuery{
		Metric: metric, Match: []stores.LabelMatch{{Name: labelSpanKind, Value: clientSpanKind}},
		GroupBy: labels, Quantiles: latencyQuantiles, Errors: errorSeries, Start: from, End: to,
	})
	if err != nil {
		return nil, err
	}
	metricNotices(&ns, client, "client")
	if len(client.Groups) == 0 {
		ns.query("no request of the app in this time range: %s has no %s=%q series that grew in it (is the collector's span metrics connector writing to this Prometheus?)", metric, labelSpanKind, clientSpanKind)
		return res, nil
	}
	for _, g := range client.Groups {
		lg := &correlation.LatencyGroup{Key: make([]string, len(labels)), Requests: int64(math.Round(g.Count)), Errors: int64(math.Round(g.Errors)),
			Client: quantiles(g.Quantiles, scale), ClientMean: mean(g, scale), ServerMean: math.NaN(), Server: nanQuantiles()}
		for i, l := range labels {
			lg.Key[i] = g.Labels[l]
		}
		res.Groups = append(res.Groups, lg)
	}

	if len(q.GroupBy) == 1 && q.GroupBy[0] == correlation.GroupEndpoint {
		if err := e.joinServer(ctx, res.Groups, metric, scale, from, to, &ns); err != nil {
			return nil, err
		}
	} else {
		ns.query("server and network time are shown only when grouping by endpoint alone: the backend's histogram is labelled by route, not by the app's %s", strings.Join(q.GroupBy, ", "))
	}

	sort.SliceStable(res.Groups, func(i, j int) bool {
		a, b := res.Groups[i], res.Groups[j]
		if x, y := orMinus(a.Server.P95), orMinus(b.Server.P95); x != y {
			return x > y
		}
		if x, y := orMinus(a.Client.P95), orMinus(b.Client.P95); x != y {
			return x > y
		}
		return strings.Join(a.Key, "\x00") < strings.Join(b.Key, "\x00")
	})
	if len(res.Groups) > q.Limit {
		ns.query("showing %d of %d groups (limit)", q.Limit, len(res.Groups))
		res.Groups = res.Groups[:q.Limit]
	}
	return res, nil
}

// joinServer adds to each endpoint's group the server side: the backend's
// server spans whose http.route equals the endpoint's url.template (the
// schema's contract for the service the app calls). When several services
// serve that route, the one with the most requests is taken (the
// app-facing one receives every request it forwards). A failed server read
// leaves the client side standing, with a notice.
func (e *Engine) joinServer(ctx context.Context, groups []*correlation.LatencyGroup, metric string, scale float64, from, to time.Time, ns *notices) error {
	server, err := e.Metrics.Histogram(ctx, stores.HistogramQuery{
		Metric: metric, Match: []stores.LabelMatch{{Name: labelSpanKind, Value: serverSpanKind}},
		GroupBy: []string{labelRoute, labelJob}, Quantiles: latencyQuantiles, Start: from, End: to,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ns.store(roleMetrics, "server time unavailable: %v", err)
		return nil
	}
	metricNotices(ns, server, "server")
	byRoute := map[string][]stores.HistogramGroup{}
	for _, g := range server.Groups {
		byRoute[g.Labels[labelRoute]] = append(byRoute[g.Labels[labelRoute]], g)
	}
	var missing, shared []string
	for _, lg := range groups {
		cands := byRoute[lg.Key[0]]
		if lg.Key[0] == "" || len(cands) == 0 {
			missing = append(missing, lg.Key[0])
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].Count != cands[j].Count {
				return cands[i].Count > cands[j].Count
			}
			return cands[i].Labels[labelJob] < cands[j].Labels[labelJob]
		})
		if len(cands) > 1 {
			shared = append(shared, fmt.Sprintf("%s (%s taken, of %d services)", lg.Key[0], cands[0].Labels[labelJob], len(cands)))
		}
		s := cands[0]
		lg.HasServer, lg.ServerRequests = true, int64(math.Round(s.Count))
		lg.Server, lg.ServerMean = quantiles(s.Quantiles, scale), mean(s, scale)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		ns.query("%d endpoints have no server time: no backend server span in this range has an http.route equal to their url.template (%s)", len(missing), strings.Join(firstN(missing, 5), ", "))
	}
	if len(shared) > 0 {
		ns.query("several services serve the route of %s: the one with the most requests is shown", strings.Join(firstN(shared, 5), "; "))
	}
	return nil
}

// metricNotices turns a histogram read's warnings and counter resets into
// notices.
func metricNotices(ns *notices, r stores.HistogramResult, side string) {
	for _, w := range r.Warnings {
		ns.store(roleMetrics, "%s histogram: %s", side, w)
	}
	if r.Resets > 0 {
		ns.store(roleMetrics, "%d %s histogram series were reset in this range (a restarted collector): requests before the reset are not counted", r.Resets, side)
	}
}

func quantiles(q []float64, scale float64) correlation.LatencyQuantiles {
	at := func(i int) float64 {
		if i < len(q) {
			return q[i] * scale
		}
		return math.NaN()
	}
	return correlation.LatencyQuantiles{P50: at(0), P95: at(1), P99: at(2)}
}

func nanQuantiles() correlation.LatencyQuantiles {
	return correlation.LatencyQuantiles{P50: math.NaN(), P95: math.NaN(), P99: math.NaN()}
}

func mean(g stores.HistogramGroup, scale float64) float64 {
	if g.Count <= 0 {
		return math.NaN()
	}
	return g.Sum / g.Count * scale
}

// orMinus orders NaN (unknown) after every known value.
func orMinus(v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(-1)
	}
	return v
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("%d more", len(s)-n))
	}
	return s
}
