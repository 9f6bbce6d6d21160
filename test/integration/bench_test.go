//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/pkg/engine"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/jaeger"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/stores/victorialogs"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// busiestSession picks the world's session with the most requests.
func busiestSession(gt *demoworld.GroundTruth) string {
	counts := map[string]int{}
	for _, r := range gt.Requests {
		counts[r.SessionID]++
	}
	best, n := "", -1
	for id, c := range counts {
		if c > n || (c == n && id < best) {
			best, n = id, c
		}
	}
	return best
}

func benchStores(b *testing.B) (*jaeger.Store, *victorialogs.Store, *storehttp.Client, *storehttp.Client) {
	raw, _ := json.Marshal(stackSettings())
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(b, err)
	jc, err := storehttp.New(s.Traces)
	require.NoError(b, err)
	vc, err := storehttp.New(s.Logs)
	require.NoError(b, err)
	return jaeger.New(jc), victorialogs.New(vc), jc, vc
}

// BenchmarkSessionTimeline compares, on the same session of the same world:
//   - plugin: sessionTimeline through the plugin over gRPC, frames decoded;
//   - direct: the same store calls made directly and concurrently (the floor);
//   - manual: the way without Stitch — search, then each trace one by one,
//     then the logs of each trace, sequentially.
func BenchmarkSessionTimeline(b *testing.B) {
	gt := sharedWorld(b)
	sid := busiestSession(gt)
	from, to := worldRange(gt)
	tr, lg, jc, vc := benchStores(b)
	inst := newInstance(b, stackSettings(), nil)
	ctx := context.Background()
	q := worldQuery(b, gt, map[string]any{"queryType": "sessionTimeline", "sessionId": sid})

	b.Run("plugin", func(b *testing.B) {
		for b.Loop() {
			res, err := grafana.QueryData(ctx, inst, q)
			if err != nil || res.Responses["A"].Error != nil {
				b.Fatal(err, res.Responses["A"].Error)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			var traces []telemetry.Trace
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error {
				r, err := tr.SearchTraces(gctx, stores.TraceSearch{Attributes: []telemetry.KV{{Key: schema.AttrSessionID, Value: sid}}, Start: from, End: to, Limit: engine.DefaultLimits.TracesPerSession, AppOnly: true})
				traces = r.Traces
				return err
			})
			g.Go(func() error {
				_, err := lg.SearchLogs(gctx, stores.LogSearch{SessionID: sid, Start: from, End: to, Limit: engine.DefaultLimits.LogsPerSession})
				return err
			})
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			ids := make([]string, 0, len(traces))
			for _, t := range traces {
				ids = append(ids, t.TraceID)
			}
			if _, err := lg.SearchLogs(ctx, stores.LogSearch{TraceIDs: ids, Start: from, End: to, Limit: engine.DefaultLimits.LogsPerSession}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("manual", func(b *testing.B) {
		for b.Loop() {
			var services struct {
				Data []string `json:"data"`
			}
			require.NoError(b, jc.GetJSON(ctx, "/api/services", nil, &services))
			tags, _ := json.Marshal(map[string]string{schema.AttrSessionID: sid})
			seen := map[string]bool{}
			var ids []string
			for _, svc := range services.Data {
				var found struct {
					Data []struct {
						TraceID string `json:"traceID"`
					} `json:"data"`
				}
				require.NoError(b, jc.GetJSON(ctx, "/api/traces", url.Values{"service": {svc}, "tags": {string(tags)},
					"start": {fmt.Sprint(from.UnixMicro())}, "end": {fmt.Sprint(to.UnixMicro())}, "limit": {"500"}}, &found))
				for _, t := range found.Data {
					if !seen[t.TraceID] {
						seen[t.TraceID] = true
						ids = append(ids, t.TraceID)
					}
				}
			}
			for _, id := range ids {
				var one json.RawMessage
				require.NoError(b, jc.GetJSON(ctx, "/api/traces/"+id, nil, &one))
			}
			for _, id := range ids {
				if _, err := vc.Get(ctx, "/select/logsql/query", url.Values{"query": {victorialogs.ExactFilter("trace_id", id)},
					"start": {from.Format(time.RFC3339)}, "end": {to.Format(time.RFC3339)}}, ""); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
