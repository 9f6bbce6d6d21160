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
	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/stores"
)

// HistogramQueries are the PromQL instant queries, evaluated at q.End, that
// read a classic histogram's observations in [q.Start, q.End].
type HistogramQueries struct {
	// Quantiles holds one histogram_quantile query per φ asked.
	Quantiles []string
	// Count, Sum and Errors sum the _count and _sum series per group;
	// Errors is "" when no error matchers are given.
	Count, Sum, Errors string
	// Resets counts the _count series that were reset in the window.
	Resets string
}

// Window is the range a histogram read covers: [start, end] in whole
// seconds, at least one.
func Window(start, end time.Time) time.Duration {
	w := end.Sub(start)
	if w < time.Second {
		return time.Second
	}
	return (w + time.Second - 1).Truncate(time.Second)
}

// selector is a PromQL series selector built by Prometheus' own types: every
// value is a quoted string literal, so a label value from a user never
// changes the query's shape.
func selector(metric string, ms []stores.LabelMatch) (string, error) {
	if !model.LegacyValidation.IsValidMetricName(metric) {
		return "", fmt.Errorf("%q is not a metric name", metric)
	}
	vs := &parser.VectorSelector{Name: metric}
	m, err := labels.NewMatcher(labels.MatchEqual, labels.MetricName, metric)
	if err != nil {
		return "", err
	}
	vs.LabelMatchers = append(vs.LabelMatchers, m)
	for _, x := range ms {
		if !model.LegacyValidation.IsValidLabelName(x.Name) || x.Name == labels.MetricName {
			return "", fmt.Errorf("%q is not a label name", x.Name)
		}
		t := labels.MatchEqual
		switch {
		case x.Regex && x.Not:
			t = labels.MatchNotRegexp
		case x.Regex:
			t = labels.MatchRegexp
		case x.Not:
			t = labels.MatchNotEqual
		}
		m, err := labels.NewMatcher(t, x.Name, x.Value)
		if err != nil {
			return "", fmt.Errorf("label %s: %w", x.Name, err)
		}
		vs.LabelMatchers = append(vs.LabelMatchers, m)
	}
	return vs.String(), nil
}

// delta is, per series, how much a cumulative series grew in the window
// ending at the evaluation time: its last value in the window minus its value
// at the window's start (0 for a series that began in the window). Unlike
// increase(), it neither extrapolates to the window's edges nor loses what a
// new series held at its first sample, so counts are exact to the writer's
// flush interval; a counter reset in the window is not followed (Resets
// counts them).
func delta(sel string, w time.Duration) string {
	r := fmt.Sprintf("%ds", int64(w/time.Second))
	return fmt.Sprintf("(last_over_time(%[1]s[%[2]s]) - (%[1]s offset %[2]s or last_over_time(%[1]s[%[2]s]) * 0))", sel, r)
}

// BuildHistogramQueries writes the queries of a histogram read. The metric
// and label names must be valid Prometheus names; values are quoted.
func BuildHistogramQueries(q stores.HistogramQuery) (HistogramQueries, error) {
	var out HistogramQueries
	if !q.End.After(q.Start) {
		return out, fmt.Errorf("empty time range")
	}
	for _, g := range q.GroupBy {
		if !model.LegacyValidation.IsValidLabelName(g) || g == "le" || g == labels.MetricName {
			return out, fmt.Errorf("%q cannot group a histogram", g)
		}
	}
	w := Window(q.Start, q.End)
	sel := func(suffix string, extra []stores.LabelMatch) (string, error) {
		return selector(q.Metric+suffix, append(slices.Clone(q.Match), extra...))
	}
	by := func(extra ...string) string {
		return "sum by (" + strings.Join(append(slices.Clone(q.GroupBy), extra...), ", ") + ") "
	}
	bucket, err := sel("_bucket", nil)
	if err != nil {
		return out, err
	}
	for _, phi := range q.Quantiles {
		if !(phi > 0 && phi < 1) {
			return out, fmt.Errorf("quantile %v is not in (0, 1)", phi)
		}
		out.Quantiles = append(out.Quantiles, fmt.Sprintf("histogram_quantile(%s, %s(%s))",
			strconv.FormatFloat(phi, 'g', -1, 64), by("le"), delta(bucket, w)))
	}
	count, err := sel("_count", nil)
	if err != nil {
		return out, err
	}
	sum, err := sel("_sum", nil)
	if err != nil {
		return out, err
	}
	out.Count = by() + "(" + delta(count, w) + ")"
	out.Sum = by() + "(" + delta(sum, w) + ")"
	out.Resets = fmt.Sprintf("count(resets(%s[%ds]) > 0)", count, int64(w/time.Second))
	var errs []string
	for _, set := range q.Errors {
		s, err := sel("_count", set)
		if err != nil {
			return out, err
		}
		errs = append(errs, delta(s, w))
	}
	if len(errs) > 0 {
		// "or" keeps a series once when it matches several sets.
		out.Errors = by() + "(" + strings.Join(errs, " or ") + ")"
	}
	for _, s := range append([]string{out.Count, out.Sum, out.Errors, out.Resets}, out.Quantiles...) {
		if s == "" {
			continue
		}
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(s); err != nil {
			return out, fmt.Errorf("building PromQL: %w", err)
		}
	}
	return out, nil
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() (float64, error) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", s.Value[1])
	}
	return strconv.ParseFloat(str, 64)
}

// instant runs an instant query at t and returns its vector and warnings.
func (s *Store) instant(ctx context.Context, query string, t time.Time) ([]sample, []string, error) {
	const path = "/api/v1/query"
	env, err := s.get(ctx, path, url.Values{"query": {query}, "time": {formatTime(t)}})
	if err != nil {
		return nil, nil, err
	}
	var d struct {
		ResultType string   `json:"resultType"`
		Result     []sample `json:"result"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.ResultType != "vector" {
		return nil, nil, s.client.NotTheAPI(path, env.Data, fmt.Errorf("want a vector result, got %q", d.ResultType))
	}
	for _, x := range d.Result {
		if _, err := x.float(); err != nil {
			return nil, nil, s.client.NotTheAPI(path, env.Data, err)
		}
	}
	return d.Result, env.Warnings, nil
}

// Histogram reads a classic histogram (_bucket, _sum, _count series) over
// [q.Start, q.End] with instant queries at q.End, all at once: quantiles by
// histogram_quantile over the buckets' growth in the window, counts and sums
// from _count and _sum.
func (s *Store) Histogram(ctx context.Context, q stores.HistogramQuery) (stores.HistogramResult, error) {
	var res stores.HistogramResult
	qs, err := BuildHistogramQueries(q)
	if err != nil {
		return res, err
	}
	type answer struct {
		samples  []sample
		warnings []string
	}
	queries := append([]string{qs.Count, qs.Sum, qs.Errors, qs.Resets}, qs.Quantiles...)
	answers := make([]answer, len(queries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, pq := range queries {
		if pq == "" {
			continue
		}
		safego.Go(g, func() error {
			v, w, err := s.instant(gctx, pq, q.End)
			answers[i] = answer{v, w}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	groups := map[string]*stores.HistogramGroup{}
	var order []string
	group := func(m map[string]string) *stores.HistogramGroup {
		vals := make([]string, len(q.GroupBy))
		for i, l := range q.GroupBy {
			vals[i] = m[l]
		}
		k := strings.Join(vals, "\x00")
		if g := groups[k]; g != nil {
			return g
		}
		g := &stores.HistogramGroup{Labels: map[string]string{}, Quantiles: make([]float64, len(q.Quantiles))}
		for i, l := range q.GroupBy {
			g.Labels[l] = vals[i]
		}
		for i := range g.Quantiles {
			g.Quantiles[i] = math.NaN()
		}
		groups[k] = g
		order = append(order, k)
		return g
	}
	seen := map[string]bool{}
	for _, a := range answers {
		for _, w := range a.warnings {
			if !seen[w] {
				seen[w] = true
				res.Warnings = append(res.Warnings, w)
			}
		}
	}
	// Groups are those with observations in the window.
	for _, x := range answers[0].samples {
		v, _ := x.float()
		if v > 0 {
			group(x.Metric).Count = v
		}
	}
	lookup := func(m map[string]string) *stores.HistogramGroup {
		vals := make([]string, len(q.GroupBy))
		for i, l := range q.GroupBy {
			vals[i] = m[l]
		}
		return groups[strings.Join(vals, "\x00")]
	}
	for _, x := range answers[1].samples {
		if g := lookup(x.Metric); g != nil {
			g.Sum, _ = x.float()
		}
	}
	for _, x := range answers[2].samples {
		if g := lookup(x.Metric); g != nil {
			g.Errors, _ = x.float()
		}
	}
	for _, x := range answers[3].samples {
		v, _ := x.float()
		res.Resets += int(v)
	}
	for i := range qs.Quantiles {
		for _, x := range answers[4+i].samples {
			v, _ := x.float()
			if g := lookup(x.Metric); g != nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				g.Quantiles[i] = v
			}
		}
	}
	for _, k := range order {
		res.Groups = append(res.Groups, *groups[k])
	}
	return res, nil
}
