package correlation

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Session metric names, as the sessionMetrics query names them.
const (
	MetricSessions            = "sessions"
	MetricSessionsWithErrors  = "sessionsWithErrors"
	MetricErrorSessionRatio   = "errorSessionRatio"
	MetricClientLatencyP95    = "clientLatencyP95"
	MetricServerLatencyP95    = "serverLatencyP95"
	MetricNetworkLatencyP95   = "networkLatencyP95"
	MetricPropagationCoverage = "propagationCoverage"
	// MetricNewCascadeSignatures counts, per bucket, the error-cascade
	// signatures first seen in that bucket within the queried range.
	MetricNewCascadeSignatures = "newCascadeSignatures"
)

// Metrics lists the valid metric names.
var Metrics = []string{MetricSessions, MetricSessionsWithErrors, MetricErrorSessionRatio, MetricClientLatencyP95,
	MetricServerLatencyP95, MetricNetworkLatencyP95, MetricPropagationCoverage, MetricNewCascadeSignatures}

// Series is one time series of a session metric: a value per bucket start,
// nil where the bucket had no data for it.
type Series struct {
	Group  string // the groupBy value, "" when ungrouped
	Times  []time.Time
	Values []*float64
	// Weighted is set when counts were scaled by 1/sampling rate.
	Weighted bool
}

type bucketAcc struct {
	sessions, errSessions   map[string]float64 // session → weight
	client, server, network []time.Duration
	expected, covered       int
}

// SessionMetric computes one metric over [from, to) in buckets of step,
// optionally grouped. Sessions are counted once per bucket they were active
// in; with a sampling rate r < 1 recorded on the app's spans, a sampled
// session counts 1/r (Weighted says so). Times are on the backend clock
// (each session's device offset removed).
func SessionMetric(traces []telemetry.Trace, metric, groupBy string, from, to time.Time, step time.Duration) []*Series {
	if step <= 0 || !to.After(from) {
		return nil
	}
	nb := int((to.Sub(from) + step - 1) / step)
	serverChild := map[SpanRef]*telemetry.Span{}
	for ti := range traces {
		for si := range traces[ti].Spans {
			s := &traces[ti].Spans[si]
			if !IsDeviceSpan(s) && s.ParentSpanID != "" {
				serverChild[SpanRef{s.TraceID, s.ParentSpanID}] = s
			}
		}
	}
	// Per-session clock offsets from client/server pairs.
	pairs := map[string][]*Request{}
	var clients []*telemetry.Span
	seen := map[SpanRef]bool{}
	for ti := range traces {
		for si := range traces[ti].Spans {
			s := &traces[ti].Spans[si]
			ref := SpanRef{s.TraceID, s.SpanID}
			if !IsDeviceSpan(s) || s.Kind != telemetry.KindClient || seen[ref] {
				continue
			}
			seen[ref] = true
			clients = append(clients, s)
			if srv := serverChild[ref]; srv != nil {
				sid := s.Attr(schema.AttrSessionID)
				pairs[sid] = append(pairs[sid], &Request{Client: s, ServerRoot: srv})
			}
		}
	}
	offsets := map[string]time.Duration{}
	for sid, reqs := range pairs {
		offsets[sid], _ = EstimateClockOffset(reqs)
	}
	if metric == MetricNewCascadeSignatures {
		return newSignatureSeries(traces, offsets, groupBy, from, from, to, step, nb)
	}

	groups := map[string][]*bucketAcc{}
	weighted := false
	for _, c := range clients {
		sid := c.Attr(schema.AttrSessionID)
		at := c.Start.Add(-offsets[sid])
		if at.Before(from) || !at.Before(to) {
			continue
		}
		g := ""
		if groupBy != "" {
			g = c.Attr(groupAttribute[groupBy])
		}
		bs := groups[g]
		if bs == nil {
			bs = make([]*bucketAcc, nb)
			groups[g] = bs
		}
		i := int(at.Sub(from) / step)
		b := bs[i]
		if b == nil {
			b = &bucketAcc{sessions: map[string]float64{}, errSessions: map[string]float64{}}
			bs[i] = b
		}
		// A sampled session stands for 1/rate sessions; a sampled-out one
		// (seen only through its kept error and slow spans) for itself.
		w := 1.0
		if r, err := strconv.ParseFloat(c.Attr(schema.AttrStitchSamplingRate), 64); err == nil && r > 0 && r < 1 && !SessionSampledOut(c) {
			w, weighted = 1/r, true
		}
		b.sessions[sid] = w
		if IsErrorRequest(c) {
			b.errSessions[sid] = w
		}
		b.client = append(b.client, c.Duration)
		srv := serverChild[SpanRef{c.TraceID, c.SpanID}]
		if srv != nil {
			b.server = append(b.server, srv.Duration)
			b.network = append(b.network, max(c.Duration-srv.Duration, 0))
		}
		if !SessionSampledOut(c) {
			b.expected++
			if srv != nil {
				b.covered++
			}
		}
	}

	keys := make([]string, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	sort.Strings(keys)
	var out []*Series
	for _, g := range keys {
		s := &Series{Group: g, Times: make([]time.Time, nb), Values: make([]*float64, nb), Weighted: weighted}
		for i, b := range groups[g] {
			s.Times[i] = from.Add(time.Duration(i) * step)
			s.Values[i] = bucketValue(metric, b)
		}
		out = append(out, s)
	}
	return out
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, w := range m {
		t += w
	}
	return t
}

func bucketValue(metric string, b *bucketAcc) *float64 {
	v := func(f float64) *float64 { return &f }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if b == nil {
		switch metric {
		case MetricSessions, MetricSessionsWithErrors:
			return v(0) // no session active: a count of zero, not unknown
		}
		return nil
	}
	switch metric {
	case MetricSessions:
		return v(sum(b.sessions))
	case MetricSessionsWithErrors:
		return v(sum(b.errSessions))
	case MetricErrorSessionRatio:
		if n := sum(b.sessions); n > 0 {
			return v(sum(b.errSessions) / n)
		}
	case MetricClientLatencyP95:
		if len(b.client) > 0 {
			return v(ms(percentiles(b.client).P95))
		}
	case MetricServerLatencyP95:
		if len(b.server) > 0 {
			return v(ms(percentiles(b.server).P95))
		}
	case MetricNetworkLatencyP95:
		if len(b.network) > 0 {
			return v(ms(percentiles(b.network).P95))
		}
	case MetricPropagationCoverage:
		if b.expected > 0 {
			return v(float64(b.covered) / float64(b.expected))
		}
	}
	return nil
}

// MetricUnit is the Grafana unit of a metric's values.
func MetricUnit(metric string) string {
	switch {
	case strings.HasSuffix(metric, "P95"):
		return "ms"
	case metric == MetricErrorSessionRatio || metric == MetricPropagationCoverage:
		return "percentunit"
	}
	return "short"
}

// NewCascadeSignatures counts, per bucket of [from, to), the cascade
// signatures first seen in that bucket: a signature already seen in
// [history, from) is not new.
func NewCascadeSignatures(traces []telemetry.Trace, groupBy string, history, from, to time.Time, step time.Duration) []*Series {
	if step <= 0 || !to.After(from) || history.After(from) {
		return nil
	}
	nb := int((to.Sub(from) + step - 1) / step)
	return newSignatureSeries(traces, sessionOffsets(traces), groupBy, history, from, to, step, nb)
}

// sessionOffsets estimates each session's device clock offset from its
// client/server span pairs.
func sessionOffsets(traces []telemetry.Trace) map[string]time.Duration {
	byRef, children := indexSpans(traces)
	pairs := map[string][]*Request{}
	for _, s := range byRef {
		if !IsDeviceSpan(s) || s.Kind != telemetry.KindClient {
			continue
		}
		for _, k := range children[SpanRef{s.TraceID, s.SpanID}] {
			if !IsDeviceSpan(k) {
				sid := s.Attr(schema.AttrSessionID)
				pairs[sid] = append(pairs[sid], &Request{Client: s, ServerRoot: k})
				break
			}
		}
	}
	out := map[string]time.Duration{}
	for sid, reqs := range pairs {
		out[sid], _ = EstimateClockOffset(reqs)
	}
	return out
}

// newSignatureSeries counts the cascade signatures first seen in each
// bucket of [from, to), history starting at history.
func newSignatureSeries(traces []telemetry.Trace, offsets map[string]time.Duration, groupBy string, history, from, to time.Time, step time.Duration, nb int) []*Series {
	byRef, children := indexSpans(traces)
	type key struct{ group, sig string }
	first := map[key]time.Time{}
	for _, c := range failedRequests(byRef) {
		_, sig := signatureOf(c, children)
		if sig == "" {
			continue
		}
		at := c.Start.Add(-offsets[c.Attr(schema.AttrSessionID)])
		if at.Before(history) || !at.Before(to) {
			continue
		}
		k := key{sig: sig}
		if groupBy != "" {
			k.group = c.Attr(groupAttribute[groupBy])
		}
		if t, ok := first[k]; !ok || at.Before(t) {
			first[k] = at
		}
	}
	counts := map[string][]float64{}
	for k, t := range first {
		if t.Before(from) {
			continue // seen in the history: not new
		}
		if counts[k.group] == nil {
			counts[k.group] = make([]float64, nb)
		}
		counts[k.group][int(t.Sub(from)/step)]++
	}
	if len(counts) == 0 && groupBy == "" {
		counts[""] = make([]float64, nb) // no cascade: zero new signatures
	}
	groups := make([]string, 0, len(counts))
	for g := range counts {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var out []*Series
	for _, g := range groups {
		s := &Series{Group: g, Times: make([]time.Time, nb), Values: make([]*float64, nb)}
		for i := range s.Times {
			s.Times[i] = from.Add(time.Duration(i) * step)
			v := counts[g][i]
			s.Values[i] = &v
		}
		out = append(out, s)
	}
	return out
}
