package correlation

import (
	"math"
	"sort"
	"strings"
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

// LatencyGroup is one row of the breakdown.
type LatencyGroup struct {
	Key      []string // one value per groupBy dimension
	Requests int
	Errors   int
	// WithServer counts the requests whose backend span was found: server
	// and network percentiles rest on those only.
	WithServer int
	Client     Percentiles
	Server     Percentiles
	Network    Percentiles
}

// ErrorRate is the share of failed requests.
func (g *LatencyGroup) ErrorRate() float64 {
	if g.Requests == 0 {
		return 0
	}
	return float64(g.Errors) / float64(g.Requests)
}

// LatencyBreakdown splits every app request in the traces into client time
// (the device's client span), server time (the backend span it caused) and
// network + queueing time (client minus server, from durations only, so a
// skewed device clock cannot distort it), grouped by the given dimensions,
// slowest server p95 first.
func LatencyBreakdown(x *Index, groupBy []string) []*LatencyGroup {
	type acc struct {
		g                       *LatencyGroup
		client, server, network []time.Duration
	}
	groups := map[string]*acc{}
	for _, r := range x.Requests() {
		s := r.Client
		key := make([]string, len(groupBy))
		for i, dim := range groupBy {
			key[i] = s.Attr(groupAttribute[dim])
		}
		k := strings.Join(key, "\x00")
		a := groups[k]
		if a == nil {
			a = &acc{g: &LatencyGroup{Key: key}}
			groups[k] = a
		}
		a.g.Requests++
		if IsErrorRequest(s) {
			a.g.Errors++
		}
		a.client = append(a.client, s.Duration)
		if r.ServerRoot != nil {
			a.g.WithServer++
			a.server = append(a.server, r.ServerRoot.Duration)
			a.network = append(a.network, r.NetworkTime())
		}
	}
	out := make([]*LatencyGroup, 0, len(groups))
	for _, a := range groups {
		a.g.Client, a.g.Server, a.g.Network = percentiles(a.client), percentiles(a.server), percentiles(a.network)
		out = append(out, a.g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Server.P95 != out[j].Server.P95 {
			return out[i].Server.P95 > out[j].Server.P95
		}
		return strings.Join(out[i].Key, "\x00") < strings.Join(out[j].Key, "\x00")
	})
	return out
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
