//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"

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
