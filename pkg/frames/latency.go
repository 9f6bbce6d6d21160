package frames

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
)

// Latency builds the latency breakdown frame: one row a group, with request
// counts, error rate and p50/p95/p99 of client, server and network time in
// milliseconds — for a table or a bar chart.
func Latency(groups []*correlation.LatencyGroup, groupBy []string) *data.Frame {
	n := len(groups)
	keys := make([][]string, len(groupBy))
	for i := range keys {
		keys[i] = make([]string, n)
	}
	requests, withServer := make([]int64, n), make([]int64, n)
	errorRate := make([]float64, n)
	// Server and network columns are null for a group with no backend span
	// found: unknown, not zero.
	cols := make([][]*float64, 9)
	for i := range cols {
		cols[i] = make([]*float64, n)
	}
	for r, g := range groups {
		for i := range groupBy {
			keys[i][r] = g.Key[i]
		}
		requests[r], withServer[r], errorRate[r] = int64(g.Requests), int64(g.WithServer), g.ErrorRate()
		for i, p := range []correlation.Percentiles{g.Client, g.Server, g.Network} {
			if i > 0 && g.WithServer == 0 {
				continue
			}
			p50, p95, p99 := durMs(p.P50), durMs(p.P95), durMs(p.P99)
			cols[i*3][r], cols[i*3+1][r], cols[i*3+2][r] = &p50, &p95, &p99
		}
	}
	f := data.NewFrame("latency")
	for i, dim := range groupBy {
		f.Fields = append(f.Fields, data.NewField(dim, nil, keys[i]))
	}
	f.Fields = append(f.Fields,
		data.NewField("requests", nil, requests),
		data.NewField("requestsWithServer", nil, withServer),
		data.NewField("errorRate", nil, errorRate).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
	)
	for i, name := range []string{"clientP50", "clientP95", "clientP99", "serverP50", "serverP95", "serverP99", "networkP50", "networkP95", "networkP99"} {
		f.Fields = append(f.Fields, data.NewField(name, nil, cols[i]).SetConfig(&data.FieldConfig{Unit: "ms"}))
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}
