package correlation

import (
	"math"

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
