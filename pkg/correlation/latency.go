package correlation

import (
	"math"
	"sort"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// Grouping dimensions of the latency breakdown, as the query names them.
const (
	GroupEndpoint    = "endpoint"
	GroupAppVersion  = "appVersion"
	GroupOSVersion   = "osVersion"
	GroupDeviceModel = "deviceModel"
	GroupNetworkType = "networkType"
)

// GroupDimensions lists the valid groupBy values.
var GroupDimensions = []string{GroupEndpoint, GroupAppVersion, GroupOSVersion, GroupDeviceModel, GroupNetworkType}

// groupAttribute is the schema attribute behind each dimension.
var groupAttribute = map[string]string{
	GroupEndpoint:    schema.AttrURLTemplate,
	GroupAppVersion:  schema.AttrServiceVersion,
	GroupOSVersion:   schema.AttrOSVersion,
	GroupDeviceModel: schema.AttrDeviceModelIdentifier,
	GroupNetworkType: schema.AttrNetworkConnectionType,
}

// Percentiles are the p50, p95 and p99 of a set of durations.
type Percentiles struct{ P50, P95, P99 time.Duration }

// LatencyGroup is one row of the breakdown, read from request-duration
// histograms: times in milliseconds, NaN where unknown.
type LatencyGroup struct {
	Key      []string // one value per groupBy dimension
	Requests int64    // the app's requests (client spans) in the window
	Errors   int64
	// ServerRequests counts the backend's requests on the route the
	// group's endpoint names; HasServer is false when no server figure is
	// known for the group (no such route, or a grouping the backend's
	// histogram cannot split).
	ServerRequests int64
	HasServer      bool
	Client, Server LatencyQuantiles
	// ClientMean and ServerMean are exact (a histogram's sum over its
	// count); NetworkMean is their difference.
	ClientMean, ServerMean float64
}

// LatencyQuantiles are the p50, p95 and p99 estimated from a histogram's
// buckets, in milliseconds.
type LatencyQuantiles struct{ P50, P95, P99 float64 }

// NetworkMean is the mean network + queueing time: client mean − server
// mean, NaN without a server figure.
func (g *LatencyGroup) NetworkMean() float64 {
	if !g.HasServer {
		return math.NaN()
	}
	return g.ClientMean - g.ServerMean
}

// ErrorRate is the share of failed requests.
func (g *LatencyGroup) ErrorRate() float64 {
	if g.Requests == 0 {
		return 0
	}
	return float64(g.Errors) / float64(g.Requests)
}

// percentiles uses the nearest-rank method on the sorted durations.
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Percentiles{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99)}
}
