package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
)

// ExemplarSelector is the PromQL series selector of an exemplar search,
// built by Prometheus' own parser types so every value is quoted as PromQL
// reads it: a label value from a user never changes the selector's shape.
func ExemplarSelector(q stores.ExemplarSearch) (string, error) {
	if !model.LegacyValidation.IsValidMetricName(q.Metric) {
		return "", fmt.Errorf("%q is not a metric name", q.Metric)
	}
	vs := &parser.VectorSelector{Name: q.Metric}
	m, err := labels.NewMatcher(labels.MatchEqual, labels.MetricName, q.Metric)
	if err != nil {
		return "", err
	}
	vs.LabelMatchers = append(vs.LabelMatchers, m)
	for _, kv := range q.Labels {
		if !model.LegacyValidation.IsValidLabelName(kv.Key) {
			return "", fmt.Errorf("%q is not a label name", kv.Key)
		}
		m, err := labels.NewMatcher(labels.MatchEqual, kv.Key, kv.Value)
		if err != nil {
			return "", err
		}
		vs.LabelMatchers = append(vs.LabelMatchers, m)
	}
	return vs.String(), nil
}

// Exemplars asks /api/v1/query_exemplars for the exemplars of the series
// the search selects, and keeps those that carry a valid trace ID.
func (s *Store) Exemplars(ctx context.Context, q stores.ExemplarSearch) ([]stores.Exemplar, error) {
	sel, err := ExemplarSelector(q)
	if err != nil {
		return nil, err
	}
	const path = "/api/v1/query_exemplars"
	env, err := s.get(ctx, path, url.Values{
		"query": {sel},
		"start": {formatTime(q.Start)},
		"end":   {formatTime(q.End)},
	})
	if err != nil {
		return nil, err
	}
	out, err := decodeExemplars(env.Data)
	if err != nil {
		return nil, s.client.NotTheAPI(path, env.Data, err)
	}
	return out, nil
}

// decodeExemplars reads query_exemplars' data: series, each with its
// exemplars. Exemplars without a valid trace_id label (another
// instrumentation's, or a truncated label set) are left out.
func decodeExemplars(data json.RawMessage) ([]stores.Exemplar, error) {
	var series []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels    map[string]string `json:"labels"`
			Value     string            `json:"value"`
			Timestamp float64           `json:"timestamp"`
		} `json:"exemplars"`
	}
	if err := json.Unmarshal(data, &series); err != nil {
		return nil, err
	}
	var out []stores.Exemplar
	for _, se := range series {
		for _, e := range se.Exemplars {
			tid := strings.ToLower(e.Labels["trace_id"])
			if schema.ValidTraceID(tid) != nil {
				continue
			}
			v, err := strconv.ParseFloat(e.Value, 64)
			if err != nil || math.IsNaN(v) {
				continue
			}
			sec, frac := math.Modf(e.Timestamp)
			out = append(out, stores.Exemplar{
				TraceID: tid, SpanID: strings.ToLower(e.Labels["span_id"]), Value: v,
				Time: time.Unix(int64(sec), int64(frac*1e9)).UTC(), Series: se.SeriesLabels,
			})
		}
	}
	// Newest first, ties by trace ID, whatever order the series came in.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].TraceID < out[j].TraceID
	})
	return out, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}
