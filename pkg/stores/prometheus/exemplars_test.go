package prometheus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// An answer of /api/v1/query_exemplars as Prometheus' HTTP API documents it:
// series with their labels, each with exemplars (labels, value as a string,
// timestamp in seconds).
const exemplarsAnswer = `{"status":"success","data":[
 {"seriesLabels":{"__name__":"stitch_requests_duration_milliseconds_bucket","url_template":"/v1/search","span_kind":"SPAN_KIND_CLIENT","http_response_status_code":"200","le":"5000"},
  "exemplars":[{"labels":{"trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00f067aa0ba902b7"},"value":"3870","timestamp":1795600800.5},
               {"labels":{"span_id":"00f067aa0ba902b7"},"value":"12","timestamp":1795600801}]},
 {"seriesLabels":{"__name__":"stitch_requests_duration_milliseconds_bucket","url_template":"/v1/search","span_kind":"SPAN_KIND_CLIENT","http_response_status_code":"500","le":"+Inf"},
  "exemplars":[{"labels":{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"},"value":"40000","timestamp":1795600802.25},
               {"labels":{"trace_id":"not-hex"},"value":"1","timestamp":1795600803}]}]}`

func testStore(t *testing.T, url string) *Store {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"metrics": map[string]any{"kind": "prometheus", "url": url, "timeoutSeconds": 5}})
	set, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(set.Metrics)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return New(c)
}

func TestExemplarsAskPrometheusForTheSelectedSeries(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = w.Write([]byte(exemplarsAnswer))
	}))
	defer srv.Close()
	start, end := time.Unix(1795600000, 0), time.Unix(1795603600, 500e6)
	xs, err := testStore(t, srv.URL).Exemplars(context.Background(), stores.ExemplarSearch{
		Metric: "stitch_requests_duration_milliseconds_bucket",
		Labels: []telemetry.KV{{Key: "url_template", Value: "/v1/search"}, {Key: "span_kind", Value: "SPAN_KIND_CLIENT"}},
		Start:  start, End: end,
	})
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "/api/v1/query_exemplars", got.URL.Path)
	assert.Equal(t, `stitch_requests_duration_milliseconds_bucket{span_kind="SPAN_KIND_CLIENT",url_template="/v1/search"}`, got.URL.Query().Get("query"))
	assert.Equal(t, "1795600000.000", got.URL.Query().Get("start"))
	assert.Equal(t, "1795603600.500", got.URL.Query().Get("end"))

	require.Len(t, xs, 2, "exemplars without a valid trace ID are left out")
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", xs[0].TraceID, "newest first")
	assert.Equal(t, 40000.0, xs[0].Value)
	assert.Equal(t, "500", xs[0].Series["http_response_status_code"])
	assert.Equal(t, time.Unix(1795600802, 250e6).UTC(), xs[0].Time)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", xs[1].TraceID, "trace IDs lowercased")
}

// A user's endpoint never changes the selector's shape: every value is a
// PromQL string literal, and the selector parses back to the same matchers.
func TestExemplarSelectorQuotesEveryValue(t *testing.T) {
	for _, v := range []string{`/v1/search`, `a"} or vector(1) #`, "back\\slash", "new\nline", `{id}`, "ünïcode"} {
		sel, err := ExemplarSelector(stores.ExemplarSearch{Metric: "m_bucket", Labels: []telemetry.KV{{Key: "url_template", Value: v}}})
		require.NoError(t, err)
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(sel)
		require.NoError(t, err, sel)
		vs, ok := expr.(*parser.VectorSelector)
		require.True(t, ok, "%s is one vector selector", sel)
		found := false
		for _, m := range vs.LabelMatchers {
			found = found || (m.Name == "url_template" && m.Value == v)
		}
		assert.True(t, found, "%s keeps %q", sel, v)
	}
	_, err := ExemplarSelector(stores.ExemplarSearch{Metric: "not a metric"})
	assert.Error(t, err)
	_, err = ExemplarSelector(stores.ExemplarSearch{Metric: "m", Labels: []telemetry.KV{{Key: "bad-label", Value: "x"}}})
	assert.Error(t, err)
}

func TestExemplarsNotPrometheusAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector"}}`))
	}))
	defer srv.Close()
	_, err := testStore(t, srv.URL).Exemplars(context.Background(), stores.ExemplarSearch{Metric: "m_bucket"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "base URL")
	assert.True(t, backend.IsDownstreamError(err))
}
