//go:build integration

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/scaleworld"
	"github.com/stitch-observability/stitch/internal/stack"
)

// BenchmarkSessionsAtScale measures the sessions list and the analytics
// through the plugin over gRPC while one app's store grows from 10³ to 10⁴
// to 10⁵ sessions (scale worlds of the same app loaded into one window of a
// private stack): the same page at every size, so the cost follows what is
// shown, not what is stored. Each query's store requests are reported
// (storereq/op), from the frame metadata.
func BenchmarkSessionsAtScale(b *testing.B) {
	ports, err := stack.FreePorts()
	require.NoError(b, err)
	// Jaeger on Badger (indexed, as production storages are): the memory
	// storage scans every trace it holds on each search, so its cost grows
	// with the store whatever the query.
	s, err := stack.Start(context.Background(), stack.Options{Dir: b.TempDir(), Ports: ports, Only: []string{"jaeger", "victorialogs", "prometheus"},
		JaegerStorage: "badger", ReadyTimeout: 90 * time.Second})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Stop(nil) })
	inst := newInstance(b, map[string]any{
		"traces":  storeJSON("jaeger", s.JaegerURL()),
		"logs":    storeJSON("victorialogs", s.VictoriaLogsURL()),
		"metrics": storeJSON("prometheus", s.PrometheusURL()),
	}, nil)
	targets := demoworld.StackTargets(s, true)
	const app = "scale-bench"
	end := time.Now().Add(-time.Minute)
	from, to := end.Add(-time.Hour-time.Minute), end.Add(10*time.Minute)
	queries := map[string]map[string]any{
		"sessions":          {"queryType": "sessions", "appService": app, "limit": 100},
		"sessionsErrors":    {"queryType": "sessions", "appService": app, "limit": 100, "errorsOnly": true, "orderBy": "errors"},
		"errorSessionRatio": {"queryType": "sessionMetrics", "metric": "errorSessionRatio"},
		"latencyBreakdown":  {"queryType": "latencyBreakdown"},
	}
	have := 0
	for _, n := range []int{1_000, 10_000, 100_000} {
		w, err := scaleworld.Plan(scaleworld.Config{Sessions: n - have, Seed: int64(n), App: app, End: end})
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		_, err = scaleworld.Send(ctx, w, targets)
		require.NoError(b, err)
		_, err = scaleworld.WaitArrived(ctx, w, targets)
		cancel()
		require.NoError(b, err)
		have = n
		for name, model := range queries {
			q, err := pluginharness.Query("A", model, from, to)
			require.NoError(b, err)
			b.Run(fmt.Sprintf("%s/sessions=%d", name, n), func(b *testing.B) {
				requests := 0
				for b.Loop() {
					res, err := grafana.QueryData(context.Background(), inst, q)
					if err != nil || res.Responses["A"].Error != nil {
						b.Fatal(err, res.Responses["A"].Error)
					}
					f := res.Responses["A"].Frames[0]
					if custom, ok := f.Meta.Custom.(map[string]any); ok {
						if v, ok := custom["storeRequests"].(float64); ok {
							requests = int(v)
						}
					}
				}
				b.ReportMetric(float64(requests), "storereq/op")
			})
		}
	}
}
