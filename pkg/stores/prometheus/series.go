package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stitch-observability/stitch/pkg/stores"
)

// maxPoints is the most points Prometheus returns per series of a range
// query (it refuses more).
const maxPoints = 11000

// BuildHistogramSeriesQuery writes the PromQL range query of a histogram
// series read. Each point is the histogram's growth over the window ending
// at it (see delta: a series born in the window counts from zero, so a
// collector flush that brings a new series counts whole), a counter reset
// clamped to no growth rather than a negative one:
//
//	histogram_quantile(φ, sum by (le, <group>) (clamp_min(<growth of _bucket>, 0)))
//	sum by (<group>) (clamp_min(<growth of _sum>, 0)) / sum by (<group>) (clamp_min(<growth of _count>, 0))
//
// The metric and label names must be valid Prometheus names; values are
// quoted by Prometheus' own types, and the query is parsed back before it is
// returned.
func BuildHistogramSeriesQuery(q stores.HistogramSeriesQuery) (string, error) {
	if q.End.Before(q.Start) {
		return "", fmt.Errorf("empty time range")
	}
	if q.Step < time.Second || q.Window < time.Second {
		return "", fmt.Errorf("step %s and window %s must be at least a second", q.Step, q.Window)
	}
	for _, g := range q.GroupBy {
		if !model.LegacyValidation.IsValidLabelName(g) || g == "le" || g == labels.MetricName {
			return "", fmt.Errorf("%q cannot group a histogram", g)
		}
	}
	w := q.Window.Truncate(time.Second)
	growth := func(suffix string) (string, error) {
		sel, err := selector(q.Metric+suffix, q.Match)
		if err != nil {
			return "", err
		}
		return "clamp_min(" + delta(sel, w) + ", 0)", nil
	}
	by := func(first ...string) string {
		return "sum by (" + strings.Join(append(first, q.GroupBy...), ", ") + ") "
	}
	var out string
	switch {
	case q.Quantile == 0:
		sum, err := growth("_sum")
		if err != nil {
			return "", err
		}
		count, err := growth("_count")
		if err != nil {
			return "", err
		}
		out = by() + "(" + sum + ") / " + by() + "(" + count + ")"
	case q.Quantile > 0 && q.Quantile < 1:
		bucket, err := growth("_bucket")
		if err != nil {
			return "", err
		}
		out = fmt.Sprintf("histogram_quantile(%s, %s(%s))", strconv.FormatFloat(q.Quantile, 'g', -1, 64), by("le"), bucket)
	default:
		return "", fmt.Errorf("quantile %v is not in (0, 1)", q.Quantile)
	}
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(out); err != nil {
		return "", fmt.Errorf("building PromQL: %w", err)
	}
	return out, nil
}

// rangeSeries is one series of a range query's matrix.
type rangeSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

// HistogramSeries reads one figure of a histogram per group as a time
// series with one range query (/api/v1/query_range): a point at q.Start,
// q.Start+q.Step, … q.End. A point Prometheus has no value for (no
// observation in its window) is left out, and a NaN or infinite one (0/0,
// or buckets without a finite estimate) is NaN.
func (s *Store) HistogramSeries(ctx context.Context, q stores.HistogramSeriesQuery) (stores.HistogramSeriesResult, error) {
	var res stores.HistogramSeriesResult
	pq, err := BuildHistogramSeriesQuery(q)
	if err != nil {
		return res, err
	}
	if n := int(q.End.Sub(q.Start)/q.Step) + 1; n > maxPoints {
		return res, fmt.Errorf("%d points per series: Prometheus answers at most %d; widen the interval or narrow the time range", n, maxPoints)
	}
	const path = "/api/v1/query_range"
	env, err := s.get(ctx, path, url.Values{
		"query": {pq}, "start": {formatTime(q.Start)}, "end": {formatTime(q.End)},
		"step": {strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64)},
	})
	if err != nil {
		return res, err
	}
	var d struct {
		ResultType string        `json:"resultType"`
		Result     []rangeSeries `json:"result"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.ResultType != "matrix" {
		return res, s.client.NotTheAPI(path, env.Data, fmt.Errorf("want a matrix result, got %q", d.ResultType))
	}
	res.Warnings = env.Warnings
	for _, x := range d.Result {
		hs := stores.HistogramSeries{Labels: map[string]string{}}
		for _, l := range q.GroupBy {
			hs.Labels[l] = x.Metric[l]
		}
		for _, p := range x.Values {
			t, v, err := point(p)
			if err != nil {
				return stores.HistogramSeriesResult{}, s.client.NotTheAPI(path, env.Data, err)
			}
			if math.IsInf(v, 0) {
				v = math.NaN()
			}
			hs.Times = append(hs.Times, t)
			hs.Values = append(hs.Values, v)
		}
		if len(hs.Times) > 0 {
			res.Series = append(res.Series, hs)
		}
	}
	slices.SortFunc(res.Series, func(a, b stores.HistogramSeries) int {
		for _, l := range q.GroupBy {
			if c := strings.Compare(a.Labels[l], b.Labels[l]); c != 0 {
				return c
			}
		}
		return 0
	})
	return res, nil
}

// point reads one [time, "value"] pair of a matrix.
func point(p [2]any) (time.Time, float64, error) {
	ts, ok := p[0].(float64)
	if !ok {
		return time.Time{}, 0, fmt.Errorf("point time %v is not a number", p[0])
	}
	str, ok := p[1].(string)
	if !ok {
		return time.Time{}, 0, fmt.Errorf("point value %v is not a string", p[1])
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return time.Time{}, 0, err
	}
	return time.UnixMilli(int64(math.Round(ts * 1000))), v, nil
}
