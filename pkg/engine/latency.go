package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/safego"
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

// The sessionMetrics latency metrics are series of the same histograms, one
// point per bucket of the panel's interval.

// collectorFlush is how often the reference collector's span metrics
// connector writes the histogram (its metrics_flush_interval).
const collectorFlush = 15 * time.Second

// latencyWindow is the window each point of a latency series reads: the
// histogram's growth over the window ending at the bucket's end. At least
// the step, so that every observation lands in a point; and at least four
// flushes of the collector, so that a window always holds several samples
// of each series even when a flush or a scrape is late or missed (a window
// of one flush interval would see no sample at all in some buckets, and
// flicker between empty and full). With a step below a minute the points
// overlap: each is the last minute's figure.
func latencyWindow(step time.Duration) time.Duration {
	return max(step, 4*collectorFlush).Truncate(time.Second)
}

// isLatencyMetric tells the session metrics the histograms answer.
func isLatencyMetric(metric string) bool {
	switch metric {
	case correlation.MetricClientLatencyP95, correlation.MetricServerLatencyP95, correlation.MetricNetworkLatencyP95:
		return true
	}
	return false
}

// errNoMetricStoreForSeries is ErrNoMetricStore, saying what the latency
// metrics need it for.
type errNoMetricStoreForSeries struct{ metric string }

func (e errNoMetricStoreForSeries) Error() string {
	return fmt.Sprintf("no metrics store is configured (metrics.kind prometheus): %s comes from its request-duration histograms", e.metric)
}

func (errNoMetricStoreForSeries) Is(target error) bool { return target == ErrNoMetricStore }

// latencySeries computes a latency session metric over [from, to) in
// buckets of step from the request-duration histograms: every request
// counts, whatever the size of the trace store. The client p95 splits by
// any dimension (the app's client series carry them all); the server p95
// by endpoint only (the server series of the route equal to the endpoint's
// url.template, from the service that serves it most, as the latency
// breakdown joins them) or not at all (every backend server span); the
// network figure, per endpoint only, is the client's mean minus the
// server's mean (two p95s do not subtract).
func (e *Engine) latencySeries(ctx context.Context, q query.SessionMetrics, from, to time.Time, step time.Duration, ns *notices) ([]*correlation.Series, error) {
	if e.Metrics == nil {
		return nil, errNoMetricStoreForSeries{q.Metric}
	}
	var label string
	if q.GroupBy != "" {
		l, ok := groupLabel[q.GroupBy]
		if !ok {
			return nil, &query.FieldError{Field: "groupBy", Msg: fmt.Sprintf("%q is not a dimension", q.GroupBy)}
		}
		label = l
	}
	switch {
	case q.Metric == correlation.MetricNetworkLatencyP95 && q.GroupBy != correlation.GroupEndpoint:
		return nil, &query.FieldError{Field: "groupBy", Msg: fmt.Sprintf(
			"%s is per endpoint (the client's and the server's histograms join on the endpoint's route): group by endpoint", q.Metric)}
	case q.Metric == correlation.MetricServerLatencyP95 && q.GroupBy != "" && q.GroupBy != correlation.GroupEndpoint:
		return nil, &query.FieldError{Field: "groupBy", Msg: fmt.Sprintf(
			"%s cannot be split by %s: the backend's request-duration histogram is labelled by route and service, not by the app's dimensions; group by endpoint, or not at all", q.Metric, q.GroupBy)}
	}
	if step <= 0 || !to.After(from) {
		return nil, nil
	}
	metric := e.RequestDurationMetric
	scale := msPerUnit(metric)
	nb := int((to.Sub(from) + step - 1) / step)
	// A bucket [t, t+step) is the point at its end, over the window
	// ending there.
	sq := func(kind string, groupBy []string, phi float64) stores.HistogramSeriesQuery {
		return stores.HistogramSeriesQuery{
			Metric: metric, Match: []stores.LabelMatch{{Name: labelSpanKind, Value: kind}}, GroupBy: groupBy, Quantile: phi,
			Start: from.Add(step), End: from.Add(time.Duration(nb) * step), Step: step, Window: latencyWindow(step),
		}
	}
	read := func(q stores.HistogramSeriesQuery, side string) ([]stores.HistogramSeries, error) {
		r, err := e.Metrics.HistogramSeries(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, w := range r.Warnings {
			ns.store(roleMetrics, "%s histogram: %s", side, w)
		}
		return r.Series, nil
	}
	// layout lays a store's series out in the buckets, grouped by key.
	layout := func(in []stores.HistogramSeries, key func(stores.HistogramSeries) string) map[string][]float64 {
		out := map[string][]float64{}
		for _, s := range in {
			k := key(s)
			vs := out[k]
			if vs == nil {
				vs = make([]float64, nb)
				for i := range vs {
					vs[i] = math.NaN()
				}
				out[k] = vs
			}
			for j, t := range s.Times {
				if i := int(t.Sub(from)/step) - 1; i >= 0 && i < nb && !math.IsNaN(s.Values[j]) {
					vs[i] = s.Values[j] * scale
				}
			}
		}
		return out
	}
	byLabel := func(l string) func(stores.HistogramSeries) string {
		return func(s stores.HistogramSeries) string { return s.Labels[l] }
	}
	var values map[string][]float64
	switch {
	case q.Metric == correlation.MetricClientLatencyP95:
		var groupBy []string
		if label != "" {
			groupBy = []string{label}
		}
		s, err := read(sq(clientSpanKind, groupBy, 0.95), "client")
		if err != nil {
			return nil, err
		}
		values = layout(s, byLabel(label))
	case q.GroupBy == "":
		s, err := read(sq(serverSpanKind, nil, 0.95), "server")
		if err != nil {
			return nil, err
		}
		values = layout(s, byLabel(""))
	default: // server p95 or network time, by endpoint
		serving, err := e.servingJobs(ctx, from, to, ns)
		if err != nil {
			return nil, err
		}
		served := func(s stores.HistogramSeries) bool { return serving[s.Labels[labelRoute]] == s.Labels[labelJob] }
		phi := 0.95
		if q.Metric == correlation.MetricNetworkLatencyP95 {
			phi = 0
		}
		s, err := read(sq(serverSpanKind, []string{labelRoute, labelJob}, phi), "server")
		if err != nil {
			return nil, err
		}
		values = layout(slices.DeleteFunc(s, func(s stores.HistogramSeries) bool { return !served(s) }), byLabel(labelRoute))
		if q.Metric == correlation.MetricNetworkLatencyP95 {
			c, err := read(sq(clientSpanKind, []string{labelEndpoint}, 0), "client")
			if err != nil {
				return nil, err
			}
			client := layout(c, byLabel(labelEndpoint))
			for ep, server := range values {
				cs := client[ep]
				for i := range server {
					if cs == nil {
						server[i] = math.NaN()
					} else {
						server[i] = cs[i] - server[i] // NaN when either is
					}
				}
			}
			ns.query("%s is the mean client time minus the mean server time of each endpoint's requests in each bucket (network and queueing time): a difference of means, not a p95, since two p95s do not subtract", q.Metric)
		}
	}
	if len(values) == 0 {
		ns.query("no request in this time range: %s has no matching series that grew in it (is the collector's span metrics connector writing to this Prometheus?)", metric)
		if q.GroupBy == "" {
			values = layout([]stores.HistogramSeries{{}}, byLabel("")) // one series, so an alert sees no value, not no series
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*correlation.Series, 0, len(keys))
	for _, k := range keys {
		s := &correlation.Series{Group: k, Times: make([]time.Time, nb), Values: make([]*float64, nb)}
		for i, v := range values[k] {
			s.Times[i] = from.Add(time.Duration(i) * step)
			if !math.IsNaN(v) {
				s.Values[i] = &v
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// servingJobs is, per endpoint the app called in [from, to], the service
// whose server spans on the route equal to it are its server time: the one
// with the most requests there (as the latency breakdown joins them).
func (e *Engine) servingJobs(ctx context.Context, from, to time.Time, ns *notices) (map[string]string, error) {
	var client, server stores.HistogramResult
	g, gctx := errgroup.WithContext(ctx)
	safego.Go(g, func() (err error) {
		client, err = e.Metrics.Histogram(gctx, stores.HistogramQuery{Metric: e.RequestDurationMetric,
			Match: []stores.LabelMatch{{Name: labelSpanKind, Value: clientSpanKind}}, GroupBy: []string{labelEndpoint}, Start: from, End: to})
		return err
	})
	safego.Go(g, func() (err error) {
		server, err = e.Metrics.Histogram(gctx, stores.HistogramQuery{Metric: e.RequestDurationMetric,
			Match: []stores.LabelMatch{{Name: labelSpanKind, Value: serverSpanKind}}, GroupBy: []string{labelRoute, labelJob}, Start: from, End: to})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	endpoints := map[string]bool{}
	for _, c := range client.Groups {
		if ep := c.Labels[labelEndpoint]; ep != "" {
			endpoints[ep] = true
		}
	}
	out := map[string]string{}
	count := map[string]float64{}
	services := map[string]int{}
	for _, s := range server.Groups {
		route, job := s.Labels[labelRoute], s.Labels[labelJob]
		if !endpoints[route] {
			continue
		}
		services[route]++
		if c, ok := count[route]; !ok || s.Count > c || (s.Count == c && job < out[route]) {
			out[route], count[route] = job, s.Count
		}
	}
	var missing, shared []string
	for ep := range endpoints {
		if _, ok := out[ep]; !ok {
			missing = append(missing, ep)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		ns.query("%d endpoints have no server time: no backend server span in this range has an http.route equal to their url.template (%s)", len(missing), strings.Join(firstN(missing, 5), ", "))
	}
	for route, n := range services {
		if n > 1 {
			shared = append(shared, fmt.Sprintf("%s (%s taken, of %d services)", route, out[route], n))
		}
	}
	if len(shared) > 0 {
		sort.Strings(shared)
		ns.query("several services serve the route of %s: the one with the most requests is shown", strings.Join(firstN(shared, 5), "; "))
	}
	return out, nil
}
