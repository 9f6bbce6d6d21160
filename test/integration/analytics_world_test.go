//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seeded slow endpoint tops p95 server time, and the network split does
// not move with device clock skew (minutes, on some devices).
func TestLatencyBreakdownMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	require.NotEmpty(t, gt.Faults.SlowEndpoint.Requests)
	slow := gt.Request(gt.Faults.SlowEndpoint.Requests[0])
	require.NotNil(t, slow)
	require.NotEmpty(t, gt.Faults.ClockSkew, "the world has skewed devices")

	inst := newInstance(t, stackSettings(), nil)
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint"}}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "latency")
	require.NotNil(t, f)
	require.Positive(t, f.Rows())

	endpoint, serverP95 := column(t, f, "endpoint"), column(t, f, "serverP95")
	assert.Equal(t, slow.URLTemplate, endpoint.At(0), "the slow endpoint tops p95 server time")
	top := serverP95.At(0).(*float64)
	require.NotNil(t, top)
	assert.GreaterOrEqual(t, *top, float64(gt.Faults.SlowEndpoint.MinDelayMs), "its p95 is at least the seeded delay")

	// Network = client − server from durations: skew of seconds to minutes
	// would show as huge (or clamped) values if times were compared.
	for _, name := range []string{"networkP50", "networkP95", "networkP99"} {
		col := column(t, f, name)
		for i := 0; i < f.Rows(); i++ {
			v := col.At(i).(*float64)
			if v == nil {
				continue
			}
			assert.GreaterOrEqual(t, *v, 0.0, "%s of %s", name, endpoint.At(i))
			assert.Less(t, *v, 3000.0, "%s of %s is a network time, not a clock offset", name, endpoint.At(i))
		}
	}
}

// The seeded cascade (inventory → orders → gateway → app) is the top cause
// signature, with every cascade session among its sessions.
func TestErrorCascadesMatchGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	c := gt.Faults.Cascade
	require.NotEmpty(t, c.Requests)
	inst := newInstance(t, stackSettings(), nil)
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "errorCascades"}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "cascades")
	require.NotNil(t, f)
	require.Positive(t, f.Rows())

	services, count := column(t, f, "services"), column(t, f, "count")
	top := services.At(0).(string)
	t.Logf("top cascade: %d× %s (root %s); first error log: %s", count.At(0), top, column(t, f, "rootCause").At(0), column(t, f, "firstErrorLog").At(0))
	chain := strings.Split(top, " → ")
	require.GreaterOrEqual(t, len(chain), 4)
	assert.Equal(t, "inventory", chain[len(chain)-1], "the root cause is inventory")
	assert.Contains(t, chain, "orders")
	assert.Contains(t, chain, "gateway")
	// Other worlds may share the stack's time window: at least this one's.
	assert.GreaterOrEqual(t, count.At(0).(int64), int64(len(c.Requests)))
	assert.NotEmpty(t, column(t, f, "firstErrorLog").At(0))

	var examples []string
	require.NoError(t, json.Unmarshal(column(t, f, "exampleSessions").At(0).(json.RawMessage), &examples))
	assert.NotEmpty(t, examples)
}

// The host that strips traceparent stands out with ~0 % coverage; the
// others are at ~100 %; its service's spans carry no session.
func TestPropagationHealthMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	strip := gt.Faults.StrippingHost
	require.NotEmpty(t, strip.ServerAddress)
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
	assert.Equal(t, strip.ServerAddress, host.At(0), "the stripping host is the worst")
	assert.Less(t, coverage.At(0).(float64), 0.05)
	for i := 1; i < hosts.Rows(); i++ {
		assert.Greater(t, coverage.At(i).(float64), 0.95, "host %s", host.At(i))
	}
	svc, sessCov := column(t, services, "service"), column(t, services, "sessionCoverage")
	for i := 0; i < services.Rows(); i++ {
		c := sessCov.At(i).(*float64)
		if c == nil {
			continue // a service seen only in the logs
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
		found = found || logCov.At(i).(*float64) != nil
	}
	assert.True(t, found, "VictoriaLogs counted log records per service")
}

// Session metrics come back as numeric time series for alerting: sessions
// are counted in the world's window and the error-session ratio is a ratio.
func TestSessionMetricsOverTheWorld(t *testing.T) {
	gt := sharedWorld(t)
	inst := newInstance(t, stackSettings(), nil)
	for _, metric := range []string{"sessions", "errorSessionRatio", "serverLatencyP95", "propagationCoverage"} {
		q := worldQuery(t, gt, map[string]any{"queryType": "sessionMetrics", "metric": metric})
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
