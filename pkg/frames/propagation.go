package frames

import (
	"sort"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/stores"
)

// Propagation builds the drift audit's frames: per host the app calls (the
// worst coverage first, so a host that strips traceparent stands out), per
// backend service, and the device clock offsets.
func Propagation(p *correlation.Propagation, logs map[string]stores.LogCoverage) data.Frames {
	hosts := data.NewFrame("propagationByHost",
		data.NewField("host", nil, []string{}),
		data.NewField("requests", nil, []int64{}),
		data.NewField("withBackendTrace", nil, []int64{}),
		data.NewField("coverage", nil, []float64{}).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
		data.NewField("sampledOut", nil, []int64{}),
		data.NewField("samplingDisagreements", nil, []int64{}),
		data.NewField("exampleOrphanTraceId", nil, []string{}),
	)
	for _, h := range p.Hosts {
		hosts.AppendRow(h.Host, int64(h.Requests), int64(h.WithBackendTrace), h.Coverage(), int64(h.SampledOut), int64(h.Disagreements), h.ExampleOrphan)
	}
	hosts.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}

	// Services from the traces and from the log counts alike.
	names := map[string]bool{}
	bySpan := map[string]*correlation.ServicePropagation{}
	for _, s := range p.Services {
		names[s.Service], bySpan[s.Service] = true, s
	}
	for name := range logs {
		names[name] = true
	}
	order := make([]string, 0, len(names))
	for n := range names {
		order = append(order, n)
	}
	sort.Slice(order, func(i, j int) bool {
		ci, cj := coverageOf(bySpan[order[i]]), coverageOf(bySpan[order[j]])
		if ci != cj {
			return ci < cj
		}
		return order[i] < order[j]
	})
	services := data.NewFrame("propagationByService",
		data.NewField("service", nil, []string{}),
		data.NewField("spans", nil, []int64{}),
		data.NewField("spansWithSession", nil, []int64{}),
		data.NewField("sessionCoverage", nil, []*float64{}).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
		data.NewField("logRecords", nil, []*int64{}),
		data.NewField("logsWithTraceId", nil, []*int64{}),
		data.NewField("logTraceCoverage", nil, []*float64{}).SetConfig(&data.FieldConfig{Unit: "percentunit"}),
	)
	for _, n := range order {
		var spans, with int64
		var cov *float64
		if s := bySpan[n]; s != nil {
			spans, with = int64(s.Spans), int64(s.SpansWithSession)
			c := s.SessionCoverage()
			cov = &c
		}
		var recs, withTrace *int64
		var logCov *float64
		if l, ok := logs[n]; ok {
			r, w := int64(l.Records), int64(l.WithTraceID)
			recs, withTrace = &r, &w
			if r > 0 {
				c := float64(w) / float64(r)
				logCov = &c
			}
		}
		services.AppendRow(n, spans, with, cov, recs, withTrace, logCov)
	}
	services.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}

	offsets := data.NewFrame("clockOffsets",
		data.NewField("offset", nil, []string{}),
		data.NewField("sessions", nil, []int64{}),
	)
	for _, b := range p.ClockOffsets {
		offsets.AppendRow(b.Label, int64(b.Sessions))
	}
	return data.Frames{hosts, services, offsets}
}

func coverageOf(s *correlation.ServicePropagation) float64 {
	if s == nil {
		return 2 // log-only services after the traced ones
	}
	return s.SessionCoverage()
}

// SessionMetric builds a session metric as numeric data-plane time series
// (one frame a series, "timeseries-multi"), for dashboards and alerting.
func SessionMetric(metric string, series []*correlation.Series, groupBy string) data.Frames {
	var out data.Frames
	for _, s := range series {
		var labels data.Labels
		if groupBy != "" {
			labels = data.Labels{groupBy: s.Group}
		}
		times := append([]time.Time(nil), s.Times...)
		values := append([]*float64(nil), s.Values...)
		v := data.NewField("value", labels, values).SetConfig(&data.FieldConfig{Unit: correlation.MetricUnit(metric), DisplayNameFromDS: metricDisplayName(metric, groupBy, s.Group)})
		f := data.NewFrame(metric, data.NewField("time", nil, times), v)
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	if len(out) == 0 {
		// No data in range: one empty, well-typed series, so alerting sees
		// "no data" rather than an error.
		f := data.NewFrame(metric, data.NewField("time", nil, []time.Time{}), data.NewField("value", nil, []*float64{}))
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	return out
}

func metricDisplayName(metric, groupBy, group string) string {
	if groupBy == "" {
		return metric
	}
	return metric + " " + groupBy + "=" + group
}
