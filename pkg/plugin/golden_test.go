package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Golden files are rewritten only with: go test ./pkg/plugin -run Golden -update
var update = flag.Bool("update", false, "rewrite golden files")

const (
	goldenSession = "5b8aa5a2d2c872e8321cf37308d69df2"
	otherSession  = "7c9e6679742540de944be07fc1f90ae7"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func gid(n, width int) string { return fmt.Sprintf("%0*x", width, n) }

// goldenTraces: one session on a device whose clock is 30 s ahead — an
// action with a request that reached two backend services (the second
// failing, with an error log) and a request whose backend never answered —
// plus another session's request.
func goldenTraces() []telemetry.Trace {
	device := func(sid string) telemetry.Attrs {
		return telemetry.Attrs{{Key: schema.AttrServiceName, Value: "shop-app"}, {Key: schema.AttrServiceVersion, Value: "3.1.0"},
			{Key: schema.AttrOSName, Value: "iOS"}, {Key: schema.AttrOSVersion, Value: "17.5"}, {Key: schema.AttrDeviceModelIdentifier, Value: "iPhone16,1"}}
	}
	skew := 30 * time.Second
	sess := func(sid string) telemetry.KV { return telemetry.KV{Key: schema.AttrSessionID, Value: sid} }
	return []telemetry.Trace{
		{TraceID: gid(1, 32), Spans: []telemetry.Span{
			{TraceID: gid(1, 32), SpanID: gid(0x10, 16), Name: "tap checkout", Service: "shop-app", Kind: telemetry.KindInternal,
				Start: t0.Add(skew), Duration: 2 * time.Second, Resource: device(goldenSession), StatusCode: telemetry.StatusError,
				Attributes: telemetry.Attrs{sess(goldenSession), {Key: schema.AttrStitchActionName, Value: "tap"}, {Key: schema.AttrNetworkConnectionType, Value: "wifi"}}},
			{TraceID: gid(1, 32), SpanID: gid(0x11, 16), ParentSpanID: gid(0x10, 16), Name: "POST", Service: "shop-app", Kind: telemetry.KindClient,
				Start: t0.Add(skew + 100*time.Millisecond), Duration: 800 * time.Millisecond, StatusCode: telemetry.StatusError, Resource: device(goldenSession),
				Attributes: telemetry.Attrs{sess(goldenSession), {Key: schema.AttrURLTemplate, Value: "/orders"}, {Key: schema.AttrHTTPResponseStatusCode, Value: "502"}}},
			{TraceID: gid(1, 32), SpanID: gid(0x12, 16), ParentSpanID: gid(0x11, 16), Name: "POST /orders", Service: "edge", Kind: telemetry.KindServer,
				Start: t0.Add(200 * time.Millisecond), Duration: 600 * time.Millisecond, StatusCode: telemetry.StatusError,
				Attributes: telemetry.Attrs{sess(goldenSession), {Key: schema.AttrHTTPResponseStatusCode, Value: "502"}}, Resource: telemetry.Attrs{{Key: "service.name", Value: "edge"}}},
			{TraceID: gid(1, 32), SpanID: gid(0x13, 16), ParentSpanID: gid(0x12, 16), Name: "reserve", Service: "stock", Kind: telemetry.KindServer,
				Start: t0.Add(250 * time.Millisecond), Duration: 500 * time.Millisecond, StatusCode: telemetry.StatusError, StatusMessage: "timeout",
				Attributes: telemetry.Attrs{sess(goldenSession)}, Resource: telemetry.Attrs{{Key: "service.name", Value: "stock"}}},
		}},
		{TraceID: gid(2, 32), Spans: []telemetry.Span{
			{TraceID: gid(2, 32), SpanID: gid(0x21, 16), Name: "GET", Service: "shop-app", Kind: telemetry.KindClient,
				Start: t0.Add(skew + 3*time.Second), Duration: 300 * time.Millisecond, Resource: device(goldenSession),
				Attributes: telemetry.Attrs{sess(goldenSession), {Key: schema.AttrURLTemplate, Value: "/profile"}, {Key: schema.AttrServerAddress, Value: "legacy.example"}, {Key: schema.AttrHTTPResponseStatusCode, Value: "200"}}},
		}},
		{TraceID: gid(3, 32), Spans: []telemetry.Span{
			{TraceID: gid(3, 32), SpanID: gid(0x31, 16), Name: "GET", Service: "shop-app", Kind: telemetry.KindClient,
				Start: t0.Add(10 * time.Second), Duration: 100 * time.Millisecond, Resource: device(otherSession),
				Attributes: telemetry.Attrs{sess(otherSession), {Key: schema.AttrURLTemplate, Value: "/items/{id}"}}},
		}},
	}
}

// goldenLogs: the device records of both sessions (start, a failed
// request's error, end; on the device's clock, as the device wrote them)
// and a backend error log.
func goldenLogs() []telemetry.LogRecord {
	device := func(sid string, more ...telemetry.KV) telemetry.Attrs {
		return append(telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone16,1"}, {Key: schema.AttrServiceVersion, Value: "3.1.0"},
			{Key: schema.AttrOSName, Value: "iOS"}, {Key: schema.AttrOSVersion, Value: "17.5"}, {Key: schema.AttrSessionID, Value: sid}}, more...)
	}
	wifi := telemetry.KV{Key: schema.AttrNetworkConnectionType, Value: "wifi"}
	return []telemetry.LogRecord{
		{Time: t0.Add(30 * time.Second), Service: "shop-app", Body: schema.EventSessionStart, Attributes: device(goldenSession, wifi)},
		{Time: t0.Add(740 * time.Millisecond), TraceID: gid(1, 32), SpanID: gid(0x13, 16), Service: "stock", Severity: "ERROR", Body: "reserve timed out",
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: goldenSession}}},
		{Time: t0.Add(30*time.Second + 900*time.Millisecond), TraceID: gid(1, 32), SpanID: gid(0x11, 16), Service: "shop-app", Severity: "ERROR", Body: "order failed",
			Attributes: device(goldenSession, wifi, telemetry.KV{Key: schema.AttrErrorType, Value: "502"})},
		{Time: t0.Add(33*time.Second + 300*time.Millisecond), Service: "shop-app", Body: schema.EventSessionEnd, Attributes: device(goldenSession, wifi)},
		{Time: t0.Add(10 * time.Second), Service: "shop-app", Body: schema.EventSessionStart, Attributes: device(otherSession)},
		{Time: t0.Add(10*time.Second + 100*time.Millisecond), Service: "shop-app", Body: schema.EventSessionEnd, Attributes: device(otherSession)},
	}
}

// memoryTraceStore answers from fixed traces, as a store would: exact
// attribute matches on span or resource attributes.
type memoryTraceStore struct{ traces []telemetry.Trace }

func (m memoryTraceStore) CheckHealth(context.Context) (string, error) { return "ok", nil }

func (m memoryTraceStore) SearchTraces(_ context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	res := stores.TraceSearchResult{Complete: true}
	for _, t := range m.traces {
		for _, s := range t.Spans {
			match := true
			for _, kv := range q.Attributes {
				match = match && s.Attr(kv.Key) == kv.Value
			}
			if match {
				res.Traces = append(res.Traces, t)
				break
			}
		}
	}
	return res, nil
}

func (m memoryTraceStore) Trace(_ context.Context, id string, _, _ time.Time) (*telemetry.Trace, error) {
	for _, t := range m.traces {
		if t.TraceID == id {
			return &t, nil
		}
	}
	return nil, stores.ErrNotFound
}

type memoryLogStore struct{ logs []telemetry.LogRecord }

func (m memoryLogStore) CheckHealth(context.Context) (string, error) { return "ok", nil }

func (m memoryLogStore) SearchLogs(_ context.Context, q stores.LogSearch) (stores.LogSearchResult, error) {
	var res stores.LogSearchResult
	ids := map[string]bool{}
	for _, id := range q.TraceIDs {
		ids[id] = true
	}
	for _, l := range m.logs {
		if (q.SessionID != "" && l.Attributes.Value(schema.AttrSessionID) == q.SessionID) || ids[l.TraceID] {
			res.Records = append(res.Records, l)
		}
	}
	return res, nil
}

// Sessions is the session index over the records held.
func (m memoryLogStore) Sessions(_ context.Context, q stores.SessionQuery) (stores.SessionPage, error) {
	return stores.IndexSessions(m.logs, q), nil
}

// memoryMetricStore answers exemplar searches with the exemplars it holds
// whose series match every label asked for.
type memoryMetricStore struct{ exemplars []stores.Exemplar }

func (m memoryMetricStore) CheckHealth(context.Context) (string, error) { return "ok", nil }

func (m memoryMetricStore) Exemplars(_ context.Context, q stores.ExemplarSearch) ([]stores.Exemplar, error) {
	var out []stores.Exemplar
	for _, x := range m.exemplars {
		match := x.Series["__name__"] == q.Metric
		for _, kv := range q.Labels {
			match = match && x.Series[kv.Key] == kv.Value
		}
		if match {
			out = append(out, x)
		}
	}
	return out, nil
}

// histogramSeries is one series of the in-memory request-duration
// histogram: its labels and the observations (ms) it holds in the range.
type histogramSeries struct {
	labels map[string]string
	values []float64
}

// goldenHistograms is the request-duration histogram of the golden world's
// requests: the app's client spans per endpoint and status, and the backend
// server spans per service and route (edge serves /orders; nothing on the
// backend serves /profile or /items/{id}).
func goldenHistograms() []histogramSeries {
	client := func(endpoint, code, status string, values ...float64) histogramSeries {
		return histogramSeries{map[string]string{"span_kind": "SPAN_KIND_CLIENT", "url_template": endpoint, "http_response_status_code": code, "status_code": status,
			"service_version": "3.1.0", "os_version": "17.5", "device_model_identifier": "iPhone16,1", "network_connection_type": "wifi"}, values}
	}
	server := func(job, route, code, status string, values ...float64) histogramSeries {
		return histogramSeries{map[string]string{"span_kind": "SPAN_KIND_SERVER", "job": job, "http_route": route, "http_response_status_code": code, "status_code": status}, values}
	}
	return []histogramSeries{
		client("/orders", "502", "STATUS_CODE_ERROR", 800),
		client("/orders", "200", "STATUS_CODE_UNSET", 120, 140, 160),
		client("/profile", "200", "STATUS_CODE_UNSET", 300),
		client("/items/{id}", "", "STATUS_CODE_UNSET", 100),
		server("edge", "/orders", "502", "STATUS_CODE_ERROR", 600),
		server("edge", "/orders", "200", "STATUS_CODE_UNSET", 80, 90, 100),
		server("stock", "/reserve", "200", "STATUS_CODE_UNSET", 500),
	}
}

func matchesAll(l map[string]string, ms []stores.LabelMatch) bool {
	for _, m := range ms {
		ok := l[m.Name] == m.Value
		if m.Regex {
			ok = regexp.MustCompile("^(?:" + m.Value + ")$").MatchString(l[m.Name])
		}
		if ok == m.Not {
			return false
		}
	}
	return true
}

// Histogram groups the golden histogram's matching series; its quantiles
// are the observations' nearest ranks (a real store estimates them from
// buckets).
func (m memoryMetricStore) Histogram(_ context.Context, q stores.HistogramQuery) (stores.HistogramResult, error) {
	var res stores.HistogramResult
	if q.Metric != settings.DefaultRequestDurationMetric {
		return res, nil
	}
	type acc struct {
		g      *stores.HistogramGroup
		values []float64
	}
	byKey := map[string]*acc{}
	var order []string
	for _, s := range goldenHistograms() {
		if !matchesAll(s.labels, q.Match) {
			continue
		}
		key := ""
		for _, l := range q.GroupBy {
			key += s.labels[l] + "\x00"
		}
		a := byKey[key]
		if a == nil {
			a = &acc{g: &stores.HistogramGroup{Labels: map[string]string{}}}
			for _, l := range q.GroupBy {
				a.g.Labels[l] = s.labels[l]
			}
			byKey[key] = a
			order = append(order, key)
		}
		a.values = append(a.values, s.values...)
		for _, v := range s.values {
			a.g.Count++
			a.g.Sum += v
		}
		for _, set := range q.Errors {
			if matchesAll(s.labels, set) {
				a.g.Errors += float64(len(s.values))
				break
			}
		}
	}
	for _, k := range order {
		a := byKey[k]
		sort.Float64s(a.values)
		for _, phi := range q.Quantiles {
			i := int(math.Ceil(phi*float64(len(a.values)))) - 1
			a.g.Quantiles = append(a.g.Quantiles, a.values[min(max(i, 0), len(a.values)-1)])
		}
		res.Groups = append(res.Groups, *a.g)
	}
	return res, nil
}

// HistogramSeries groups the golden histogram's matching series like
// Histogram: every observation was made at t0, so a point has a value when
// its window holds t0, the group's nearest-rank quantile or mean.
func (m memoryMetricStore) HistogramSeries(ctx context.Context, q stores.HistogramSeriesQuery) (stores.HistogramSeriesResult, error) {
	var res stores.HistogramSeriesResult
	var phis []float64
	if q.Quantile > 0 {
		phis = []float64{q.Quantile}
	}
	h, err := m.Histogram(ctx, stores.HistogramQuery{Metric: q.Metric, Match: q.Match, GroupBy: q.GroupBy, Quantiles: phis, Start: q.Start, End: q.End})
	if err != nil {
		return res, err
	}
	for _, g := range h.Groups {
		s := stores.HistogramSeries{Labels: g.Labels}
		for t := q.Start; !t.After(q.End); t = t.Add(q.Step) {
			if !t0.After(t) && t0.After(t.Add(-q.Window)) {
				v := g.Sum / g.Count
				if q.Quantile > 0 {
					v = g.Quantiles[0]
				}
				s.Times, s.Values = append(s.Times, t), append(s.Values, v)
			}
		}
		if len(s.Times) > 0 {
			res.Series = append(res.Series, s)
		}
	}
	return res, nil
}

// goldenExemplars are the request-duration histogram's exemplars of the
// golden world: the failed POST /orders (trace 1), and one whose trace the
// store does not hold (sampled out).
func goldenExemplars() []stores.Exemplar {
	series := func(code string) map[string]string {
		return map[string]string{"__name__": settings.DefaultRequestDurationMetric + "_bucket", "url_template": "/orders", "span_kind": "SPAN_KIND_CLIENT", "http_response_status_code": code, "le": "1000"}
	}
	return []stores.Exemplar{
		{TraceID: gid(1, 32), SpanID: gid(0x11, 16), Value: 800, Time: t0.Add(time.Second), Series: series("502")},
		{TraceID: gid(7, 32), SpanID: gid(0x71, 16), Value: 950, Time: t0.Add(2 * time.Second), Series: series("200")},
	}
}

func goldenDatasource(t *testing.T) *Datasource {
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "stitch",
		JSONData: json.RawMessage(`{"traces":{"kind":"jaeger","url":"http://127.0.0.1:1"},"logs":{"kind":"victorialogs","url":"http://127.0.0.1:2"},"metrics":{"kind":"prometheus","url":"http://127.0.0.1:3"}}`)})
	require.NoError(t, err)
	ds := inst.(*Datasource)
	ds.traces = memoryTraceStore{goldenTraces()}
	ds.logs = memoryLogStore{goldenLogs()}
	ds.metrics = memoryMetricStore{goldenExemplars()}
	return ds
}

func TestGoldenResponses(t *testing.T) {
	ds := goldenDatasource(t)
	cases := map[string]string{
		"sessions":                              `{"queryType":"sessions"}`,
		"sessions_errors_only":                  `{"queryType":"sessions","errorsOnly":true}`,
		"session_timeline":                      `{"queryType":"sessionTimeline","sessionId":"` + goldenSession + `"}`,
		"trace_to_session":                      `{"queryType":"traceToSession","traceId":"` + gid(1, 32) + `"}`,
		"trace_to_session_not_found":            `{"queryType":"traceToSession","traceId":"` + gid(9, 32) + `"}`,
		"latency_by_endpoint":                   `{"queryType":"latencyBreakdown"}`,
		"error_cascades":                        `{"queryType":"errorCascades"}`,
		"session_waterfall_only":                `{"queryType":"sessionTimeline","sessionId":"` + goldenSession + `","frames":["waterfall"]}`,
		"propagation_health":                    `{"queryType":"propagationHealth"}`,
		"session_metrics_sessions":              `{"queryType":"sessionMetrics","metric":"sessions"}`,
		"session_metrics_by_endpoint":           `{"queryType":"sessionMetrics","metric":"serverLatencyP95","groupBy":"endpoint"}`,
		"session_metrics_client_p95_by_version": `{"queryType":"sessionMetrics","metric":"clientLatencyP95","groupBy":"appVersion"}`,
		"session_metrics_server_p95":            `{"queryType":"sessionMetrics","metric":"serverLatencyP95"}`,
		"session_metrics_network_by_endpoint":   `{"queryType":"sessionMetrics","metric":"networkLatencyP95","groupBy":"endpoint"}`,
		"exemplar_sessions":                     `{"queryType":"exemplarSessions","endpoint":"/orders"}`,
		"exemplar_sessions_errors":              `{"queryType":"exemplarSessions","endpoint":"/orders","errorsOnly":true,"minDurationMs":500}`,
		"latency_by_endpoint_device":            `{"queryType":"latencyBreakdown","groupBy":["endpoint","deviceModel"]}`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
				RefID: "A", JSON: json.RawMessage(raw), TimeRange: backend.TimeRange{From: t0.Add(-time.Minute), To: t0.Add(time.Minute)},
				Interval: 30 * time.Second, MaxDataPoints: 100,
			}}})
			require.NoError(t, err)
			dr := res.Responses["A"]
			experimental.CheckGoldenJSONResponse(t, "testdata/golden", name, &dr, *update)
		})
	}
}

// Invalid queries: an error naming the field, as a downstream (user) error.
// (Not golden files: the SDK's golden writer mangles error-only responses.)
func TestInvalidQueriesNameTheField(t *testing.T) {
	ds := goldenDatasource(t)
	cases := map[string]struct{ raw, field string }{
		"bad session id":            {`{"queryType":"sessionTimeline","sessionId":"nope"}`, "sessionId"},
		"no session id":             {`{"queryType":"sessionTimeline"}`, "sessionId: missing"},
		"bad limit":                 {`{"queryType":"sessions","limit":5000}`, "limit: must be between 1 and 1000"},
		"limit not number":          {`{"queryType":"sessions","limit":"ten"}`, "limit"},
		"negative minimum":          {`{"queryType":"sessions","minDurationMs":-1}`, "minDurationMs"},
		"bad trace id":              {`{"queryType":"traceToSession","traceId":"xyz"}`, "traceId"},
		"control in filter":         {`{"queryType":"sessions","appVersion":"1\n2"}`, "appVersion"},
		"bad groupBy":               {`{"queryType":"latencyBreakdown","groupBy":["password"]}`, "groupBy"},
		"groupBy twice":             {`{"queryType":"latencyBreakdown","groupBy":["endpoint","endpoint"]}`, "groupBy"},
		"no metric":                 {`{"queryType":"sessionMetrics"}`, "metric: missing"},
		"unknown metric":            {`{"queryType":"sessionMetrics","metric":"cpu"}`, "metric"},
		"metric groupBy":            {`{"queryType":"sessionMetrics","metric":"sessions","groupBy":"user"}`, "groupBy"},
		"server p95 by app version": {`{"queryType":"sessionMetrics","metric":"serverLatencyP95","groupBy":"appVersion"}`, "groupBy: serverLatencyP95 cannot be split by appVersion"},
		"network p95 ungrouped":     {`{"queryType":"sessionMetrics","metric":"networkLatencyP95"}`, "groupBy: networkLatencyP95 is per endpoint"},
		"unknown frame":             {`{"queryType":"sessionTimeline","sessionId":"` + goldenSession + `","frames":["graph"]}`, "frames"},
		"cascade limit":             {`{"queryType":"errorCascades","limit":0.5}`, "limit"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
				{RefID: "A", JSON: json.RawMessage(c.raw)},
				{RefID: "B", JSON: json.RawMessage(`{"queryType":"sessions"}`), TimeRange: backend.TimeRange{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}},
			}})
			require.NoError(t, err)
			require.Error(t, res.Responses["A"].Error)
			require.Contains(t, res.Responses["A"].Error.Error(), c.field)
			require.Equal(t, backend.ErrorSourceDownstream, res.Responses["A"].ErrorSource)
			require.NoError(t, res.Responses["B"].Error, "the other query still answers")
			require.Len(t, res.Responses["B"].Frames, 1)
		})
	}
}
