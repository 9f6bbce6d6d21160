package prometheus

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/stores"
)

var (
	hStart = time.Unix(1795600000, 0)
	hEnd   = time.Unix(1795603600, 0)
)

func clientQuery() stores.HistogramQuery {
	return stores.HistogramQuery{
		Metric:    "stitch_requests_duration_milliseconds",
		Match:     []stores.LabelMatch{{Name: "span_kind", Value: "SPAN_KIND_CLIENT"}},
		GroupBy:   []string{"url_template"},
		Quantiles: []float64{0.5, 0.95},
		Errors: [][]stores.LabelMatch{
			{{Name: "status_code", Value: "STATUS_CODE_ERROR"}},
			{{Name: "http_response_status_code", Value: "5[0-9][0-9]", Regex: true}},
		},
		Start: hStart, End: hEnd,
	}
}

func TestHistogramQueriesGolden(t *testing.T) {
	qs, err := BuildHistogramQueries(clientQuery())
	require.NoError(t, err)
	const b = `stitch_requests_duration_milliseconds_bucket{span_kind="SPAN_KIND_CLIENT"}`
	const c = `stitch_requests_duration_milliseconds_count{span_kind="SPAN_KIND_CLIENT"}`
	assert.Equal(t, []string{
		`histogram_quantile(0.5, sum by (url_template, le) ((last_over_time(` + b + `[3600s]) - (` + b + ` offset 3600s or last_over_time(` + b + `[3600s]) * 0))))`,
		`histogram_quantile(0.95, sum by (url_template, le) ((last_over_time(` + b + `[3600s]) - (` + b + ` offset 3600s or last_over_time(` + b + `[3600s]) * 0))))`,
	}, qs.Quantiles)
	assert.Equal(t, `sum by (url_template) ((last_over_time(`+c+`[3600s]) - (`+c+` offset 3600s or last_over_time(`+c+`[3600s]) * 0)))`, qs.Count)
	assert.Contains(t, qs.Sum, `last_over_time(stitch_requests_duration_milliseconds_sum{span_kind="SPAN_KIND_CLIENT"}[3600s])`)
	const e1 = `stitch_requests_duration_milliseconds_count{span_kind="SPAN_KIND_CLIENT",status_code="STATUS_CODE_ERROR"}`
	const e2 = `stitch_requests_duration_milliseconds_count{http_response_status_code=~"5[0-9][0-9]",span_kind="SPAN_KIND_CLIENT"}`
	assert.Equal(t, `sum by (url_template) ((last_over_time(`+e1+`[3600s]) - (`+e1+` offset 3600s or last_over_time(`+e1+`[3600s]) * 0)) or (last_over_time(`+e2+`[3600s]) - (`+e2+` offset 3600s or last_over_time(`+e2+`[3600s]) * 0)))`, qs.Errors)
	assert.Equal(t, `count(resets(`+c+`[3600s]) > 0)`, qs.Resets)

	// A window of a fraction of a second reads one whole second.
	q := clientQuery()
	q.End = q.Start.Add(200 * time.Millisecond)
	q.Errors = nil
	qs, err = BuildHistogramQueries(q)
	require.NoError(t, err)
	assert.Contains(t, qs.Count, "[1s]")
	assert.Empty(t, qs.Errors)
}

// A hostile value never changes a query's shape: it is a string literal of
// one matcher, and parses back to the same value.
func TestHistogramQueriesQuoteHostileValues(t *testing.T) {
	for _, v := range []string{`/v1/search`, `a"} or vector(1) #`, "back\\slash", "new\nline", `{id}`, "ünïcode", "`", `"`} {
		q := clientQuery()
		q.Match = append(q.Match, stores.LabelMatch{Name: "url_template", Value: v})
		qs, err := BuildHistogramQueries(q)
		require.NoError(t, err, v)
		for _, s := range append([]string{qs.Count, qs.Sum, qs.Errors}, qs.Quantiles...) {
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
			assert.Positive(t, n)
		}
	}
}

func TestHistogramQueriesRefuseBadNames(t *testing.T) {
	for name, mut := range map[string]func(*stores.HistogramQuery){
		"metric":      func(q *stores.HistogramQuery) { q.Metric = "m{x=\"1\"}" },
		"group label": func(q *stores.HistogramQuery) { q.GroupBy = []string{"url_template) or vector(1"} },
		"group by le": func(q *stores.HistogramQuery) { q.GroupBy = []string{"le"} },
		"match label": func(q *stores.HistogramQuery) { q.Match = []stores.LabelMatch{{Name: "bad-label", Value: "x"}} },
		"bad regexp": func(q *stores.HistogramQuery) {
			q.Errors = [][]stores.LabelMatch{{{Name: "x", Value: "(", Regex: true}}}
		},
		"quantile":    func(q *stores.HistogramQuery) { q.Quantiles = []float64{1.5} },
		"empty range": func(q *stores.HistogramQuery) { q.End = q.Start },
		"error label": func(q *stores.HistogramQuery) { q.Errors = [][]stores.LabelMatch{{{Name: "__name__", Value: "x"}}} },
	} {
		q := clientQuery()
		mut(&q)
		_, err := BuildHistogramQueries(q)
		assert.Error(t, err, name)
	}
}

// promAnswers answers /api/v1/query by the query's kind: quantile, count,
// sum, errors or resets.
func promAnswers(t *testing.T, answer func(kind string) string) (*httptest.Server, *[]http.Request) {
	var mu sync.Mutex
	var got []http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		mu.Lock()
		got = append(got, *r)
		mu.Unlock()
		kind := ""
		switch {
		case strings.HasPrefix(q, "histogram_quantile(0.5,"):
			kind = "p50"
		case strings.HasPrefix(q, "histogram_quantile(0.95,"):
			kind = "p95"
		case strings.HasPrefix(q, "count(resets("):
			kind = "resets"
		case strings.Contains(q, "status_code"):
			kind = "errors"
		case strings.Contains(q, "_sum{"):
			kind = "sum"
		case strings.Contains(q, "_count{"):
			kind = "count"
		}
		body := answer(kind)
		if strings.HasPrefix(body, "HTTP ") {
			var code int
			fmt.Sscanf(body, "HTTP %d", &code)
			w.WriteHeader(code)
			body = body[9:]
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func vector(warnings string, samples ...string) string {
	w := ""
	if warnings != "" {
		w = `,"warnings":[` + warnings + `]`
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}` + w + `}`
}

func sampleOf(endpoint, v string) string {
	return `{"metric":{"url_template":"` + endpoint + `"},"value":[1795603600,"` + v + `"]}`
}

func TestHistogramReadsEveryFigure(t *testing.T) {
	srv, got := promAnswers(t, func(kind string) string {
		switch kind {
		case "count":
			return vector("", sampleOf("/v1/search", "10"), sampleOf("/v1/orders/{id}", "4"), sampleOf("/v1/idle", "0"))
		case "sum":
			return vector("", sampleOf("/v1/search", "35000"), sampleOf("/v1/orders/{id}", "200"))
		case "errors":
			return vector(`"PromQL info: metric might not be a counter"`, sampleOf("/v1/orders/{id}", "1"))
		case "p50":
			return vector("", sampleOf("/v1/search", "3400"), sampleOf("/v1/orders/{id}", "NaN"))
		case "p95":
			return vector(`"PromQL info: metric might not be a counter"`, sampleOf("/v1/search", "3900"), sampleOf("/v1/orders/{id}", "95"))
		case "resets":
			return vector("", `{"metric":{},"value":[1795603600,"1"]}`)
		}
		return vector("")
	})
	res, err := testStore(t, srv.URL).Histogram(context.Background(), clientQuery())
	require.NoError(t, err)
	require.Len(t, *got, 6)
	for _, r := range *got {
		assert.Equal(t, "/api/v1/query", r.URL.Path)
		assert.Equal(t, "1795603600.000", r.URL.Query().Get("time"), "evaluated at the range's end")
	}
	assert.Equal(t, []string{"PromQL info: metric might not be a counter"}, res.Warnings, "warnings once each")
	assert.Equal(t, 1, res.Resets)
	require.Len(t, res.Groups, 2, "a group without observations in the window is left out")
	by := map[string]stores.HistogramGroup{}
	for _, g := range res.Groups {
		by[g.Labels["url_template"]] = g
	}
	s, o := by["/v1/search"], by["/v1/orders/{id}"]
	assert.Equal(t, 10.0, s.Count)
	assert.Equal(t, 35000.0, s.Sum)
	assert.Equal(t, 0.0, s.Errors)
	assert.Equal(t, []float64{3400, 3900}, s.Quantiles)
	assert.Equal(t, 1.0, o.Errors)
	assert.True(t, math.IsNaN(o.Quantiles[0]), "NaN: no estimate")
	assert.Equal(t, 95.0, o.Quantiles[1])
}

func TestHistogramWithoutData(t *testing.T) {
	srv, _ := promAnswers(t, func(string) string { return vector("") })
	res, err := testStore(t, srv.URL).Histogram(context.Background(), clientQuery())
	require.NoError(t, err)
	assert.Empty(t, res.Groups)
	assert.Empty(t, res.Warnings)
}

func TestHistogramErrors(t *testing.T) {
	for name, c := range map[string]struct {
		body, want string
		downstream bool
	}{
		"bad data 400": {`HTTP 400 {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"}`, "answered 400: {\"status\":\"error\",\"errorType\":\"bad_data\"", true},
		"timeout 503":  {`HTTP 503 {"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`, "503", true},
		"500 html":     {`HTTP 500 <html>oops</html>`, "500", true},
		"200 error":    {`{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`, "execution: many-to-many matching not allowed", false},
		"matrix":       {`{"status":"success","data":{"resultType":"matrix","result":[]}}`, "base URL", true},
		"bad value":    {`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}`, "base URL", true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := promAnswers(t, func(kind string) string {
				if kind == "p95" {
					return c.body
				}
				return vector("")
			})
			_, err := testStore(t, srv.URL).Histogram(context.Background(), clientQuery())
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			if c.downstream {
				assert.True(t, backend.IsDownstreamError(err), "%v", err)
			}
		})
	}
}
