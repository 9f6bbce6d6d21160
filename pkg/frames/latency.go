package frames

import (
	"math"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
)

// Where each latency figure comes from, shown as the column's description.
const (
	fromClientBuckets = "from the buckets of the app's client-span request-duration histogram (span metrics) over the whole time range: an estimate within one bucket"
	fromServerBuckets = "from the buckets of the backend's server-span request-duration histogram, on the route equal to the endpoint, over the whole time range: an estimate within one bucket"
)

var latencyDescriptions = map[string]string{
	"requests":           "the app's requests in the time range: the count of its client-span request-duration histogram (every exported client span, not a sample)",
	"requestsWithServer": "the requests the backend served on the route equal to the endpoint (server-span histogram count); empty when not grouped by endpoint alone",
	"errorRate":          "failed requests (span status error or HTTP 5xx) over requests, from the client-span histogram's counts",
	"clientP50":          "p50 of client time " + fromClientBuckets,
	"clientP95":          "p95 of client time " + fromClientBuckets,
	"clientP99":          "p99 of client time " + fromClientBuckets,
	"serverP50":          "p50 of server time " + fromServerBuckets,
	"serverP95":          "p95 of server time " + fromServerBuckets,
	"serverP99":          "p99 of server time " + fromServerBuckets,
	"clientMean":         "mean client time: the client-span histogram's sum over its count (exact)",
	"serverMean":         "mean server time: the server-span histogram's sum over its count (exact)",
	"networkMean":        "mean network + queueing time: mean client time minus mean server time (exact; a difference of percentiles would not be a percentile, so none is shown)",
}

// Latency builds the latency breakdown frame: one row a group, with request
// counts, error rate, p50/p95/p99 of client and server time and the mean
// client, server and network + queueing time in milliseconds — for a table
// or a bar chart. Unknown figures (no server side) are null, not zero.
func Latency(groups []*correlation.LatencyGroup, groupBy []string) *data.Frame {
	n := len(groups)
	keys := make([][]string, len(groupBy))
	for i := range keys {
		keys[i] = make([]string, n)
	}
	requests := make([]int64, n)
	withServer := make([]*int64, n)
	errorRate := make([]float64, n)
	names := []string{"clientP50", "clientP95", "clientP99", "serverP50", "serverP95", "serverP99", "clientMean", "serverMean", "networkMean"}
	cols := make([][]*float64, len(names))
	for i := range cols {
		cols[i] = make([]*float64, n)
	}
	known := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	for r, g := range groups {
		for i := range groupBy {
			keys[i][r] = g.Key[i]
		}
		requests[r], errorRate[r] = g.Requests, g.ErrorRate()
		if g.HasServer {
			v := g.ServerRequests
			withServer[r] = &v
		}
		for i, v := range []float64{g.Client.P50, g.Client.P95, g.Client.P99, g.Server.P50, g.Server.P95, g.Server.P99, g.ClientMean, g.ServerMean, g.NetworkMean()} {
			if i >= 3 && i != 6 && !g.HasServer {
				continue
			}
			cols[i][r] = known(v)
		}
	}
	f := data.NewFrame("latency")
	for i, dim := range groupBy {
		f.Fields = append(f.Fields, data.NewField(dim, nil, keys[i]))
	}
	f.Fields = append(f.Fields,
		data.NewField("requests", nil, requests).SetConfig(&data.FieldConfig{Description: latencyDescriptions["requests"]}),
		data.NewField("requestsWithServer", nil, withServer).SetConfig(&data.FieldConfig{Description: latencyDescriptions["requestsWithServer"]}),
		data.NewField("errorRate", nil, errorRate).SetConfig(&data.FieldConfig{Unit: "percentunit", Description: latencyDescriptions["errorRate"]}),
	)
	for i, name := range names {
		f.Fields = append(f.Fields, data.NewField(name, nil, cols[i]).SetConfig(&data.FieldConfig{Unit: "ms", Description: latencyDescriptions[name]}))
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}
