package frames

import (
	"encoding/json"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
)

// Cascades builds the error cascades frame: one row a cause signature, most
// frequent first, with the chain's services, endpoints and status codes, the
// root cause, counts, the first error log line and example sessions (the
// first one linked to its timeline).
func Cascades(cs []*correlation.Cascade, links Links) *data.Frame {
	n := len(cs)
	sig, root, services, endpoints, codes, firstLog, example := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	counts, sessions := make([]int64, n), make([]int64, n)
	examples := make([]json.RawMessage, n)
	for i, c := range cs {
		var svc, eps, st []string
		for _, l := range c.Chain {
			svc, eps, st = append(svc, l.Service), append(eps, l.Service+" "+l.Name), append(st, l.StatusCode)
		}
		sig[i], services[i], endpoints[i], codes[i] = c.Signature, strings.Join(svc, " → "), strings.Join(eps, " → "), strings.Join(st, " → ")
		if len(c.Chain) > 0 {
			last := c.Chain[len(c.Chain)-1]
			root[i] = last.Service + " " + last.Name
		}
		counts[i], sessions[i], firstLog[i] = int64(c.Count), int64(len(c.Sessions)), c.FirstErrorLog
		if len(c.Examples) > 0 {
			example[i] = c.Examples[0]
		}
		b, _ := json.Marshal(c.Examples)
		examples[i] = b
	}
	exampleField := data.NewField("exampleSession", nil, example)
	link(exampleField, links.sessionTimelineLink(valueRef), links.sessionDashboardLink(valueRef))
	f := data.NewFrame("cascades",
		data.NewField("rootCause", nil, root),
		data.NewField("count", nil, counts),
		data.NewField("sessions", nil, sessions),
		data.NewField("services", nil, services),
		data.NewField("endpoints", nil, endpoints),
		data.NewField("statusCodes", nil, codes),
		data.NewField("firstErrorLog", nil, firstLog),
		exampleField,
		data.NewField("exampleSessions", nil, examples),
		data.NewField("signature", nil, sig),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}
