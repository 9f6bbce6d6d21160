package prometheus

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/stores"
)

func seriesQuery() stores.HistogramSeriesQuery {
	return stores.HistogramSeriesQuery{
		Metric:   "stitch_requests_duration_milliseconds",
		Match:    []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_CLIENT"}},
		GroupBy:  []string{"url_template"},
		Quantile: 0.95,
		Start:    hStart, End: hEnd, Step: time.Minute, Window: 2 * time.Minute,
	}
}

func TestHistogramSeriesQueryGolden(t *testing.T) {
	growth := func(s string) string {
		return `clamp_min((last_over_time(` + s + `[120s]) - (` + s + ` offset 120s or last_over_time(` + s + `[120s]) * 0)), 0)`
	}
	const b = `stitch_requests_duration_milliseconds_bucket{span_kind="SPAN_KIND_CLIENT"}`
	q, err := BuildHistogramSeriesQuery(seriesQuery())
	require.NoError(t, err)
	assert.Equal(t, `histogram_quantile(0.95, sum by (le, url_template) (`+growth(b)+`))`, q)

	ungrouped := seriesQuery()
	ungrouped.GroupBy = nil
	ungrouped.Match = []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_SERVER"}}
	q, err = BuildHistogramSeriesQuery(ungrouped)
	require.NoError(t, err)
	const sb = `stitch_requests_duration_milliseconds_bucket{span_kind="SPAN_KIND_SERVER"}`
	assert.Equal(t, `histogram_quantile(0.95, sum by (le) (`+growth(sb)+`))`, q)

	mean := seriesQuery()
	mean.Quantile = 0
	mean.Match = []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_SERVER"}}
	mean.GroupBy = []string{"http_route", "job"}
	q, err = BuildHistogramSeriesQuery(mean)
	require.NoError(t, err)
	const s, c = `stitch_requests_duration_milliseconds_sum{span_kind="SPAN_KIND_SERVER"}`, `stitch_requests_duration_milliseconds_count{span_kind="SPAN_KIND_SERVER"}`
	assert.Equal(t, `sum by (http_route, job) (`+growth(s)+`) / sum by (http_route, job) (`+growth(c)+`)`, q)
}

// A hostile matcher value stays one string literal of one matcher.
func TestHistogramSeriesQueryQuotesHostileValues(t *testing.T) {
	for _, v := range []string{`a"} or vector(1) #`, "back\\slash", "new\nline", `{id}`, "`"} {
		q := seriesQuery()
		q.Match = append(q.Match, stores.LabelMatch{Name: "url_template", Value: v})
		s, err := BuildHistogramSeriesQuery(q)
		require.NoError(t, err, v)
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(s)
		require.NoError(t, err, s)
		n := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				found := false
				for _, m := range vs.LabelMatchers {
					found = found || (m.Name == "url_template" && m.Value == v)
				}
				assert.True(t, found, "%s keeps %q", vs, v)
				n++
			}
			return nil
		})
		assert.Equal(t, 3, n, "the bucket selector, twice under last_over_time and once under offset")
	}
}

func TestHistogramSeriesQueryRefusesBadInput(t *testing.T) {
	for name, mut := range map[string]func(*stores.HistogramSeriesQuery){
		"metric":      func(q *stores.HistogramSeriesQuery) { q.Metric = "m{x=\"1\"}" },
		"group label": func(q *stores.HistogramSeriesQuery) { q.GroupBy = []string{"url_template) or vector(1"} },
		"group by le": func(q *stores.HistogramSeriesQuery) { q.GroupBy = []string{"le"} },
		"match label": func(q *stores.HistogramSeriesQuery) { q.Match = []stores.LabelMatch{{Name: "bad-label", Value: "x"}} },
		"quantile":    func(q *stores.HistogramSeriesQuery) { q.Quantile = 1 },
		"negative":    func(q *stores.HistogramSeriesQuery) { q.Quantile = -0.5 },
		"step":        func(q *stores.HistogramSeriesQuery) { q.Step = 0 },
		"window":      func(q *stores.HistogramSeriesQuery) { q.Window = time.Millisecond },
		"range":       func(q *stores.HistogramSeriesQuery) { q.End = q.Start.Add(-time.Second) },
	} {
		q := seriesQuery()
		mut(&q)
		_, err := BuildHistogramSeriesQuery(q)
		assert.Error(t, err, name)
	}
}

func matrix(warnings string, series ...string) string {
	w := ""
	if warnings != "" {
		w = `,"warnings":[` + warnings + `]`
	}
	out := `{"status":"success","data":{"resultType":"matrix","result":[`
	for i, s := range series {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out + `]}` + w + `}`
}

func TestHistogramSeriesReadsTheMatrix(t *testing.T) {
	srv, got := promAnswers(t, func(string) string {
		return matrix(`"PromQL info: input to histogram_quantile needed to be fixed for monotonicity"`,
			`{"metric":{"url_template":"/v1/search"},"values":[[1795600000,"3900"],[1795600060,"NaN"],[1795600120,"+Inf"],[1795600180.5,"120.25"]]}`,
			`{"metric":{"url_template":"/v1/orders/{id}"},"values":[[1795600060,"95"]]}`,
			`{"metric":{"url_template":"/v1/idle"},"values":[]}`)
	})
	res, err := testStore(t, srv.URL).HistogramSeries(context.Background(), seriesQuery())
	require.NoError(t, err)
	require.Len(t, *got, 1, "one range query")
	r := (*got)[0]
	assert.Equal(t, "/api/v1/query_range", r.URL.Path)
	assert.Equal(t, "1795600000.000", r.URL.Query().Get("start"))
	assert.Equal(t, "1795603600.000", r.URL.Query().Get("end"))
	assert.Equal(t, "60", r.URL.Query().Get("step"))
	assert.Contains(t, r.URL.Query().Get("query"), "histogram_quantile(0.95, sum by (le, url_template)")
	assert.Equal(t, []string{"PromQL info: input to histogram_quantile needed to be fixed for monotonicity"}, res.Warnings)

	require.Len(t, res.Series, 2, "a series without points is left out; ordered by group")
	o, s := res.Series[0], res.Series[1]
	assert.Equal(t, map[string]string{"url_template": "/v1/orders/{id}"}, o.Labels)
	assert.Equal(t, []time.Time{time.Unix(1795600060, 0)}, o.Times)
	assert.Equal(t, []float64{95}, o.Values)
	assert.Equal(t, "/v1/search", s.Labels["url_template"])
	require.Len(t, s.Values, 4)
	assert.Equal(t, 3900.0, s.Values[0])
	assert.True(t, math.IsNaN(s.Values[1]), "NaN: no observation in the window")
	assert.True(t, math.IsNaN(s.Values[2]), "+Inf: no finite estimate")
	assert.Equal(t, time.UnixMilli(1795600180500), s.Times[3])
	assert.Equal(t, 120.25, s.Values[3])
}

func TestHistogramSeriesWithoutData(t *testing.T) {
	srv, _ := promAnswers(t, func(string) string { return matrix("") })
	res, err := testStore(t, srv.URL).HistogramSeries(context.Background(), seriesQuery())
	require.NoError(t, err)
	assert.Empty(t, res.Series)
	assert.Empty(t, res.Warnings)
}

func TestHistogramSeriesErrors(t *testing.T) {
	for name, c := range map[string]struct {
		body, want string
		downstream bool
	}{
		"bad data 400": {`HTTP 400 {"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"}`, "answered 400", true},
		"timeout 503":  {`HTTP 503 {"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`, "503", true},
		"500 html":     {`HTTP 500 <html>oops</html>`, "500", true},
		"200 error":    {`{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}`, "execution: vector cannot contain metrics with the same labelset", false},
		"vector":       {vector(""), "base URL", true},
		"bad value":    {matrix("", `{"metric":{},"values":[[1795600000,2]]}`), "base URL", true},
		"bad time":     {matrix("", `{"metric":{},"values":[["x","2"]]}`), "base URL", true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := promAnswers(t, func(string) string { return c.body })
			_, err := testStore(t, srv.URL).HistogramSeries(context.Background(), seriesQuery())
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			if c.downstream {
				assert.True(t, backend.IsDownstreamError(err), "%v", err)
			}
		})
	}
}

func TestHistogramSeriesRefusesTooManyPoints(t *testing.T) {
	srv, got := promAnswers(t, func(string) string { return matrix("") })
	q := seriesQuery()
	q.Step = time.Second
	q.End = q.Start.Add(12000 * time.Second)
	_, err := testStore(t, srv.URL).HistogramSeries(context.Background(), q)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "widen the interval")
	assert.Empty(t, *got, "nothing sent")
}
