package frames

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
)

// Sessions builds the sessions table (frame name "sessions", or "session"
// for traceToSession), with data links on sessionId to its timeline and to
// the session-detail dashboard.
func Sessions(name string, rows []*correlation.SessionSummary, links Links) *data.Frame {
	f := data.NewFrame(name,
		data.NewField("sessionId", nil, []string{}),
		data.NewField("start", nil, []time.Time{}),
		data.NewField("end", nil, []time.Time{}),
		data.NewField("durationMs", nil, []float64{}),
		data.NewField("appService", nil, []string{}),
		data.NewField("appVersion", nil, []string{}),
		data.NewField("osVersion", nil, []string{}),
		data.NewField("deviceModel", nil, []string{}),
		data.NewField("networkType", nil, []string{}),
		data.NewField("requests", nil, []int64{}),
		data.NewField("errors", nil, []int64{}),
		data.NewField("backendTraces", nil, []int64{}),
		data.NewField("slowestRequestMs", nil, []float64{}),
		data.NewField("sampled", nil, []bool{}),
	)
	for _, s := range rows {
		f.AppendRow(s.SessionID, s.Start, s.End, durMs(s.Duration()), s.App.Service, s.App.Version, s.App.OSVersion,
			s.App.DeviceModel, s.App.NetworkType, int64(s.Requests), int64(s.Errors), int64(s.BackendTraces),
			durMs(s.SlowestRequest), s.Sampled)
	}
	link(f.Fields[0], links.sessionTimelineLink(valueRef), links.sessionDashboardLink(valueRef))
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}
