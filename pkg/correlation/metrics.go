package correlation

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
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
	sessions, errSessions map[string]float64 // session → weight
	expected, covered     int
}

// SessionMetric computes one metric over [from, to) in buckets of step,
// optionally grouped, from the traces read: the session counts, the error
// session ratio, propagation coverage and new cascade signatures (the
// latency metrics come from the metric store's histograms, and have no
// value here). Sessions are counted once per bucket they were active
// in; with a sampling rate r < 1 recorded on the app's spans, a sampled
// session counts 1/r (Weighted says so). Times are on the backend clock
// (each session's device offset removed).
func SessionMetric(x *Index, metric, groupBy string, from, to time.Time, step time.Duration) []*Series {
	if step <= 0 || !to.After(from) {
		return nil
	}
	nb := int((to.Sub(from) + step - 1) / step)
	if metric == MetricNewCascadeSignatures {
		return newSignatureSeries(x, groupBy, from, from, to, step, nb)
	}

	groups := map[string][]*bucketAcc{}
	weighted := false
	for _, r := range x.Requests() {
		c := r.Client
		sid := c.Attr(schema.AttrSessionID)
		at := x.AlignedStart(c)
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
		if rate, err := strconv.ParseFloat(c.Attr(schema.AttrStitchSamplingRate), 64); err == nil && rate > 0 && rate < 1 && !SessionSampledOut(c) {
			w, weighted = 1/rate, true
		}
		b.sessions[sid] = w
		if IsErrorRequest(c) {
			b.errSessions[sid] = w
		}
		if !SessionSampledOut(c) {
			b.expected++
			if r.ServerRoot != nil {
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
func NewCascadeSignatures(x *Index, groupBy string, history, from, to time.Time, step time.Duration) []*Series {
	if step <= 0 || !to.After(from) || history.After(from) {
		return nil
	}
	nb := int((to.Sub(from) + step - 1) / step)
	return newSignatureSeries(x, groupBy, history, from, to, step, nb)
}

// newSignatureSeries counts the cascade signatures first seen in each
// bucket of [from, to), history starting at history.
func newSignatureSeries(x *Index, groupBy string, history, from, to time.Time, step time.Duration, nb int) []*Series {
	type key struct{ group, sig string }
	first := map[key]time.Time{}
	for _, c := range failedRequests(x) {
		_, sig := signatureOf(c, x)
		if sig == "" {
			continue
		}
		at := x.AlignedStart(c)
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

// GroupAttribute is the schema attribute behind a grouping dimension ("" for
// none).
func GroupAttribute(dim string) string { return groupAttribute[dim] }

// SeriesFromCounts lays a store's session counts out as a session metric's
// series over [from, to) in buckets of step: a bucket the store returned no
// count for had no session (zero sessions, an unknown ratio). Ungrouped,
// there is always one series, so an alert on it sees zeros, not no data.
func SeriesFromCounts(c stores.SessionCounts, metric string, grouped bool, from, to time.Time, step time.Duration) []*Series {
	if step <= 0 || !to.After(from) {
		return nil
	}
	nb := int((to.Sub(from) + step - 1) / step)
	byGroup := map[string]*Series{}
	series := func(g string) *Series {
		s := byGroup[g]
		if s == nil {
			s = &Series{Group: g, Times: make([]time.Time, nb), Values: make([]*float64, nb), Weighted: c.Weighted}
			for i := range s.Times {
				s.Times[i] = from.Add(time.Duration(i) * step)
				if metric != MetricErrorSessionRatio {
					zero := 0.0
					s.Values[i] = &zero
				}
			}
			byGroup[g] = s
		}
		return s
	}
	for _, b := range c.Buckets {
		i := int(b.Time.Sub(from) / step)
		if b.Time.Before(from) || i >= nb {
			continue
		}
		var v float64
		switch metric {
		case MetricSessions:
			v = b.Sessions
		case MetricSessionsWithErrors:
			v = b.ErrorSessions
		case MetricErrorSessionRatio:
			if b.Sessions == 0 {
				continue
			}
			v = b.ErrorSessions / b.Sessions
		default:
			return nil
		}
		series(b.Group).Values[i] = &v
	}
	if !grouped {
		series("")
	}
	keys := make([]string, 0, len(byGroup))
	for g := range byGroup {
		keys = append(keys, g)
	}
	sort.Strings(keys)
	out := make([]*Series, 0, len(keys))
	for _, g := range keys {
		out = append(out, byGroup[g])
	}
	return out
}
