//go:build integration

package integration

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The run's own identifiers: what tests pick their rows by when the stack
// holds other apps' data too.

// appVersions are the run's app versions (service.version of its app).
func appVersions(gt *demoworld.GroundTruth) map[string]bool {
	out := map[string]bool{}
	for _, d := range gt.Devices {
		out[d.AppVersion] = true
	}
	return out
}

// appHosts are the hosts the run's app called (server.address).
func appHosts(gt *demoworld.GroundTruth) map[string]bool {
	out := map[string]bool{}
	for _, r := range gt.Requests {
		out[r.ServerAddress] = true
	}
	return out
}

// nearestRank is the exact φ-percentile of the values.
func nearestRank(vs []float64, phi float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(math.Ceil(phi*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// withinABucket: a percentile estimated from the buckets is at most one
// bucket away from the exact one (the truth's milliseconds are truncated, so
// a value on a bound may sit in the next bucket).
func withinABucket(t *testing.T, what string, got *float64, exact float64) {
	t.Helper()
	if !assert.NotNil(t, got, what) {
		return
	}
	d := bucketOf(*got) - bucketOf(exact)
	assert.True(t, d >= -1 && d <= 1, "%s: %.1f ms estimated, %.0f ms exact (buckets %d and %d)", what, *got, exact, bucketOf(*got), bucketOf(exact))
}

// exportedAttempts are the client spans the devices exported, per
// url.template (and per app version), with their durations: what the
// collector's span metrics observed.
func exportedAttempts(gts ...*demoworld.GroundTruth) (byEndpoint, byVersion map[string][]float64, errs map[string]int) {
	byEndpoint, byVersion, errs = map[string][]float64{}, map[string][]float64{}, map[string]int{}
	for _, gt := range gts {
		version := map[string]string{}
		for _, d := range gt.Devices {
			version[d.Name] = d.AppVersion
		}
		for _, r := range gt.Requests {
			for _, at := range r.Attempts {
				if !at.Exported || at.Start == nil {
					continue
				}
				k := r.URLTemplate + " " + version[r.Device]
				byEndpoint[r.URLTemplate] = append(byEndpoint[r.URLTemplate], float64(at.DurationMs))
				byVersion[k] = append(byVersion[k], float64(at.DurationMs))
				if at.ErrorType != "" || at.Status >= 500 {
					errs[k]++
				}
			}
		}
	}
	return byEndpoint, byVersion, errs
}

// The latency breakdown comes from the request-duration histograms the
// collector's span metrics wrote for the run: per endpoint and app version,
// the run's own rows count exactly the client spans its devices exported,
// with p50/p95/p99 within one bucket of the exact percentiles of their
// durations; per endpoint alone, the server side (the app-facing service's
// spans on the route equal to the endpoint) counts every request served
// there, in both worlds of the window, and the seeded slow endpoint tops p95
// server time. The breakdown has no app filter: the run's rows are those of
// its own app versions.
func TestLatencyBreakdownMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	require.True(t, gt.Collector, "the world went through the collector's span metrics")
	require.NotEmpty(t, gt.Faults.SlowEndpoint.Requests)
	slow := gt.Request(gt.Faults.SlowEndpoint.Requests[0])
	require.NotNil(t, slow)
	versions := appVersions(gt)
	_, truthByVersion, truthErrs := exportedAttempts(gt)
	inst := newInstance(t, stackSettings(), nil)
	// The histograms are stamped with the collector's clock as it flushes,
	// not the devices': the window starts as the run does, so no earlier
	// run of the same app in the stack counts, and ends after its flush.
	latencyQuery := func(t *testing.T, model map[string]any) backend.DataQuery {
		q, err := pluginharness.Query("A", model, gt.Run.Started.Add(-time.Second), gt.Run.Finished.Add(10*time.Minute))
		require.NoError(t, err)
		return q
	}

	t.Run("by endpoint and app version: client side", func(t *testing.T) {
		res, err := grafana.QueryData(testContext(t), inst, latencyQuery(t, map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint", "appVersion"}, "limit": 1000}))
		require.NoError(t, err)
		r := res.Responses["A"]
		require.NoError(t, r.Error)
		f := frameByName(r.Frames, "latency")
		require.NotNil(t, f)
		assert.Contains(t, noticesOf(r.Frames), "server and network time are shown only when grouping by endpoint alone")
		endpoint, version, requests, errorRate := column(t, f, "endpoint"), column(t, f, "appVersion"), column(t, f, "requests"), column(t, f, "errorRate")
		seen := map[string]bool{}
		for i := 0; i < f.Rows(); i++ {
			if !versions[version.At(i).(string)] {
				continue
			}
			k := endpoint.At(i).(string) + " " + version.At(i).(string)
			seen[k] = true
			truth := truthByVersion[k]
			if !assert.NotEmpty(t, truth, "row %s is one of the run's", k) {
				continue
			}
			assert.Equal(t, int64(len(truth)), requests.At(i), "requests of %s", k)
			assert.InDelta(t, float64(truthErrs[k])/float64(len(truth)), errorRate.At(i), 1e-9, "error rate of %s", k)
			for _, p := range []struct {
				col string
				phi float64
			}{{"clientP50", 0.5}, {"clientP95", 0.95}, {"clientP99", 0.99}} {
				withinABucket(t, p.col+" of "+k, column(t, f, p.col).At(i).(*float64), nearestRank(truth, p.phi))
			}
			assert.Nil(t, column(t, f, "serverP95").At(i), "no server side by app version")
		}
		for k := range truthByVersion {
			assert.True(t, seen[k], "a row for %s", k)
		}
	})

	t.Run("by endpoint: server side", func(t *testing.T) {
		other := otherWorld
		require.NotNil(t, other)
		clientTruth, _, _ := exportedAttempts(gt, other)
		// The app-facing service's spans on the route equal to the
		// endpoint, in both worlds; their time is at least the work
		// planned along the path.
		served := map[string][]float64{}
		for _, w := range []*demoworld.GroundTruth{gt, other} {
			for _, r := range w.Requests {
				for _, at := range r.Attempts {
					for _, sv := range at.Served {
						if sv.Route == r.URLTemplate {
							served[r.URLTemplate] = append(served[r.URLTemplate], float64(at.PlannedServerMs))
						}
					}
				}
			}
		}
		res, err := grafana.QueryData(testContext(t), inst, latencyQuery(t, map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint"}, "limit": 1000}))
		require.NoError(t, err)
		r := res.Responses["A"]
		require.NoError(t, r.Error)
		f := frameByName(r.Frames, "latency")
		require.NotNil(t, f)
		endpoint, requests, withServer := column(t, f, "endpoint"), column(t, f, "requests"), column(t, f, "requestsWithServer")
		rows := map[string]int{}
		for i := 0; i < f.Rows(); i++ {
			rows[endpoint.At(i).(string)] = i
		}
		for ep, truth := range clientTruth {
			i, ok := rows[ep]
			if !assert.True(t, ok, "a row for %s", ep) {
				continue
			}
			assert.Equal(t, int64(len(truth)), requests.At(i), "requests of %s in both worlds", ep)
			sv := served[ep]
			require.NotEmpty(t, sv, "the backend serves %s", ep)
			n := withServer.At(i).(*int64)
			if assert.NotNil(t, n, "server requests of %s", ep) {
				assert.Equal(t, int64(len(sv)), *n, "requests served on route %s", ep)
			}
			for _, p := range []struct {
				col string
				phi float64
			}{{"serverP50", 0.5}, {"serverP95", 0.95}, {"serverP99", 0.99}} {
				got := column(t, f, p.col).At(i).(*float64)
				if assert.NotNil(t, got, "%s of %s", p.col, ep) {
					assert.GreaterOrEqual(t, bucketOf(*got), bucketOf(nearestRank(sv, p.phi))-1, "%s of %s: %.1f ms, planned work %.0f ms", p.col, ep, *got, nearestRank(sv, p.phi))
				}
			}
			withinABucket(t, "serverP50 of "+ep, column(t, f, "serverP50").At(i).(*float64), nearestRank(sv, 0.5))
			network := column(t, f, "networkMean").At(i).(*float64)
			if assert.NotNil(t, network, "networkMean of %s", ep) {
				assert.Less(t, *network, 3000.0, "network time of %s, not a clock offset", ep)
				assert.Greater(t, *network, -50.0, "network time of %s", ep)
			}
		}
		require.Positive(t, f.Rows())
		assert.Equal(t, slow.URLTemplate, endpoint.At(0), "the slow endpoint tops p95 server time")
		p95 := column(t, f, "serverP95").At(0).(*float64)
		require.NotNil(t, p95)
		assert.GreaterOrEqual(t, *p95, float64(gt.Faults.SlowEndpoint.MinDelayMs), "its p95 is at least the seeded delay")
	})
}

// The sessionMetrics latency series come from the same request-duration
// histograms as the latency breakdown: over one bucket spanning the
// breakdown's range, serverLatencyP95 by endpoint is the breakdown's server
// p95 of each of the run's endpoints, within one histogram bucket (the
// series' window is the bucket, and it joins route and service as the
// breakdown does); per minute over the world's window, the slow endpoint's
// series reaches the seeded delay. Server time by an app dimension is an
// error that says why.
func TestLatencySeriesMatchTheLatencyBreakdown(t *testing.T) {
	gt := sharedWorld(t)
	require.True(t, gt.Collector, "the world went through the collector's span metrics")
	slow := gt.Request(gt.Faults.SlowEndpoint.Requests[0])
	require.NotNil(t, slow)
	inst := newInstance(t, stackSettings(), nil)
	// One bucket, aligned as the plugin aligns buckets (to multiples of
	// the step), holding the world and its collector's flushes.
	step := time.Hour
	from := gt.Run.Started.Add(-time.Second).Truncate(step)
	for from.Add(step).Before(gt.Run.Finished.Add(10 * time.Minute)) {
		step *= 2
		from = gt.Run.Started.Add(-time.Second).Truncate(step)
	}
	to := from.Add(step)
	ask := func(model map[string]any, interval time.Duration) backend.DataResponse {
		q, err := pluginharness.Query("A", model, from, to)
		require.NoError(t, err)
		q.Interval = interval
		res, err := grafana.QueryData(testContext(t), inst, q)
		require.NoError(t, err)
		return res.Responses["A"]
	}

	r := ask(map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint"}, "limit": 1000}, time.Minute)
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "latency")
	require.NotNil(t, f)
	breakdown := map[string]float64{}
	endpoint, serverP95 := column(t, f, "endpoint"), column(t, f, "serverP95")
	for i := 0; i < f.Rows(); i++ {
		if p := serverP95.At(i).(*float64); p != nil {
			breakdown[endpoint.At(i).(string)] = *p
		}
	}

	r = ask(map[string]any{"queryType": "sessionMetrics", "metric": "serverLatencyP95", "groupBy": "endpoint"}, step)
	require.NoError(t, r.Error)
	series := map[string]*float64{}
	for _, f := range r.Frames {
		assert.Equal(t, data.FrameTypeTimeSeriesMulti, f.Meta.Type)
		v := column(t, f, "value")
		require.Equal(t, 1, v.Len(), "one bucket")
		series[v.Labels["endpoint"]] = v.At(0).(*float64)
	}
	own := map[string]bool{}
	for _, req := range gt.Requests {
		own[req.URLTemplate] = true
	}
	for ep := range own {
		want, ok := breakdown[ep]
		if !assert.True(t, ok, "the breakdown has server time for %s", ep) {
			continue
		}
		if p := series[ep]; p != nil {
			t.Logf("%s: serverLatencyP95 %.1f ms, breakdown server p95 %.1f ms", ep, *p, want)
		}
		withinABucket(t, "serverLatencyP95 of "+ep, series[ep], want)
	}

	// Per minute, the slow endpoint's server p95 reaches the seeded delay.
	r = ask(map[string]any{"queryType": "sessionMetrics", "metric": "serverLatencyP95", "groupBy": "endpoint"}, time.Minute)
	require.NoError(t, r.Error)
	peak := 0.0
	for _, f := range r.Frames {
		v := column(t, f, "value")
		if v.Labels["endpoint"] != slow.URLTemplate {
			continue
		}
		for i := 0; i < v.Len(); i++ {
			if p := v.At(i).(*float64); p != nil {
				peak = max(peak, *p)
			}
		}
	}
	t.Logf("%s: per-minute server p95 peak %.1f ms, seeded delay %d ms", slow.URLTemplate, peak, gt.Faults.SlowEndpoint.MinDelayMs)
	assert.GreaterOrEqual(t, peak, float64(gt.Faults.SlowEndpoint.MinDelayMs), "the slow endpoint's per-minute server p95 reaches the seeded delay")

	r = ask(map[string]any{"queryType": "sessionMetrics", "metric": "serverLatencyP95", "groupBy": "appVersion"}, time.Minute)
	require.Error(t, r.Error)
	assert.Contains(t, r.Error.Error(), "serverLatencyP95 cannot be split by appVersion")
	assert.Equal(t, backend.ErrorSourceDownstream, r.ErrorSource)
}

// The seeded cascade (inventory → orders → gateway → app) is the run's app's
// top cause signature, with every cascade session among its sessions. The
// query has no app filter; a signature names the app first, so the run's
// rows are those starting with its app service.
func TestErrorCascadesMatchGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	c := gt.Faults.Cascade
	require.NotEmpty(t, c.Requests)
	inst := newInstance(t, stackSettings(), nil)
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "errorCascades", "limit": 1000}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "cascades")
	require.NotNil(t, f)
	require.Positive(t, f.Rows())

	services, count := column(t, f, "services"), column(t, f, "count")
	top := -1 // the frame orders signatures most frequent first
	for i := 0; i < f.Rows(); i++ {
		if strings.HasPrefix(services.At(i).(string), gt.App.ServiceName+" → ") {
			top = i
			break
		}
	}
	require.GreaterOrEqual(t, top, 0, "a cascade of the app %s", gt.App.ServiceName)
	t.Logf("top cascade of %s: %d× %s (root %s); first error log: %s", gt.App.ServiceName, count.At(top), services.At(top), column(t, f, "rootCause").At(top), column(t, f, "firstErrorLog").At(top))
	chain := strings.Split(services.At(top).(string), " → ")
	require.GreaterOrEqual(t, len(chain), 4)
	assert.Equal(t, "inventory", chain[len(chain)-1], "the root cause is inventory")
	assert.Contains(t, chain, "orders")
	assert.Contains(t, chain, "gateway")
	// Earlier runs of the same app may share a reused stack's window: at
	// least this run's.
	assert.GreaterOrEqual(t, count.At(top).(int64), int64(len(c.Requests)))
	assert.NotEmpty(t, column(t, f, "firstErrorLog").At(top))

	var examples []string
	require.NoError(t, json.Unmarshal(column(t, f, "exampleSessions").At(top).(json.RawMessage), &examples))
	assert.NotEmpty(t, examples)
}

// The host that strips traceparent stands out with ~0 % coverage above
// the run's other hosts, which are at ~100 %; its service's spans carry no
// session. The audit has no app filter (it covers every host in the
// window): the run's rows are those of the hosts its app called.
func TestPropagationHealthMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	strip := gt.Faults.StrippingHost
	require.NotEmpty(t, strip.ServerAddress)
	own := appHosts(gt)
	require.True(t, own[strip.ServerAddress])
	inst := newInstance(t, stackSettings(), nil)
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "propagationHealth"}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	hosts, services := frameByName(r.Frames, "propagationByHost"), frameByName(r.Frames, "propagationByService")
	require.NotNil(t, hosts)
	require.NotNil(t, services)
	require.NotNil(t, frameByName(r.Frames, "clockOffsets"))

	host, coverage := column(t, hosts, "host"), column(t, hosts, "coverage")
	var ownRows []int // worst first, as the frame orders them
	for i := 0; i < hosts.Rows(); i++ {
		if own[host.At(i).(string)] {
			ownRows = append(ownRows, i)
		}
	}
	require.Len(t, ownRows, len(own), "every host the run's app called is audited")
	assert.Equal(t, strip.ServerAddress, host.At(ownRows[0]), "the stripping host is the run's worst")
	assert.Less(t, coverage.At(ownRows[0]).(float64), 0.05)
	for _, i := range ownRows[1:] {
		assert.Greater(t, coverage.At(i).(float64), 0.95, "host %s", host.At(i))
	}
	ownServices := map[string]bool{gt.App.ServiceName: true}
	for _, s := range gt.Services {
		ownServices[s.Name] = true
	}
	svc, sessCov := column(t, services, "service"), column(t, services, "sessionCoverage")
	for i := 0; i < services.Rows(); i++ {
		c := sessCov.At(i).(*float64)
		if c == nil || !ownServices[svc.At(i).(string)] {
			continue // a service seen only in the logs, or not the run's
		}
		if svc.At(i) == strip.Service {
			assert.Less(t, *c, 0.05, "the stripping host's service carries no session")
		} else if *c > 0 {
			assert.Greater(t, *c, 0.95, "service %s", svc.At(i))
		}
	}
	logCov := column(t, services, "logTraceCoverage")
	found := false
	for i := 0; i < services.Rows(); i++ {
		found = found || (ownServices[svc.At(i).(string)] && logCov.At(i).(*float64) != nil)
	}
	assert.True(t, found, "VictoriaLogs counted log records per service")
}

// Session metrics come back as numeric time series for alerting: the run's
// sessions are counted in the world's window (grouped by app version, the
// run's series are those of its own versions) and the error-session ratio
// is a ratio.
func TestSessionMetricsOverTheWorld(t *testing.T) {
	gt := sharedWorld(t)
	versions := appVersions(gt)
	inst := newInstance(t, stackSettings(), nil)
	for _, metric := range []string{"sessions", "errorSessionRatio", "clientLatencyP95", "propagationCoverage"} {
		q := worldQuery(t, gt, map[string]any{"queryType": "sessionMetrics", "metric": metric, "groupBy": "appVersion"})
		q.Interval = time.Minute
		res, err := grafana.QueryData(testContext(t), inst, q)
		require.NoError(t, err)
		r := res.Responses["A"]
		require.NoError(t, r.Error, metric)
		require.NotEmpty(t, r.Frames, metric)
		total, points := 0.0, 0
		for _, f := range r.Frames {
			assert.Equal(t, data.FrameTypeTimeSeriesMulti, f.Meta.Type, metric)
			v := column(t, f, "value")
			if !versions[v.Labels["appVersion"]] {
				continue // another app's series
			}
			for i := 0; i < v.Len(); i++ {
				if p := v.At(i).(*float64); p != nil {
					total += *p
					points++
					if metric == "errorSessionRatio" || metric == "propagationCoverage" {
						assert.GreaterOrEqual(t, *p, 0.0)
						assert.LessOrEqual(t, *p, 1.0)
					}
				}
			}
		}
		assert.Positive(t, points, metric)
		if metric == "sessions" {
			assert.GreaterOrEqual(t, total, float64(len(gt.Sessions))/2, "the world's sessions are counted")
		}
	}
}

// The window every world test queries really holds another app's world
// (otherWorld, loaded by sharedWorld): the scoped assertions above hold
// among others' data. The other app's sessions are listed under its own
// app filter and never under this run's, and its stripping host is audited
// beside this run's.
func TestTheWindowHoldsAnotherAppsWorld(t *testing.T) {
	gt := sharedWorld(t)
	other := otherWorld
	require.NotNil(t, other)
	require.NotEqual(t, gt.App.ServiceName, other.App.ServiceName)
	inst := newInstance(t, stackSettings(), nil)

	listed := func(app string) map[string]bool {
		res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessions", "appService": app, "limit": 1000}))
		require.NoError(t, err)
		require.NoError(t, res.Responses["A"].Error)
		f := frameByName(res.Responses["A"].Frames, "sessions")
		require.NotNil(t, f)
		out := map[string]bool{}
		for i := 0; i < f.Rows(); i++ {
			out[column(t, f, "sessionId").At(i).(string)] = true
		}
		return out
	}
	mine, theirs := listed(gt.App.ServiceName), listed(other.App.ServiceName)
	n := 0
	for _, s := range other.Sessions {
		assert.False(t, mine[s.ID], "the other app's session %s is not listed under %s", s.ID, gt.App.ServiceName)
		if theirs[s.ID] {
			n++
		}
	}
	assert.Positive(t, n, "the other app's sessions are in the window")

	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "propagationHealth"}))
	require.NoError(t, err)
	hosts := frameByName(res.Responses["A"].Frames, "propagationByHost")
	require.NotNil(t, hosts)
	var order []string
	for i := 0; i < hosts.Rows(); i++ {
		order = append(order, column(t, hosts, "host").At(i).(string))
	}
	assert.Contains(t, order, other.Faults.StrippingHost.ServerAddress)
	assert.Contains(t, order, gt.Faults.StrippingHost.ServerAddress)
	t.Logf("hosts, worst first: %v", order)
}
