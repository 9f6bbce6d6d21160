package scaleworld

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

var testEnd = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func plan(t *testing.T, n int, seed int64, run string) *World {
	t.Helper()
	w, err := Plan(Config{Sessions: n, Seed: seed, End: testEnd, RunID: run})
	require.NoError(t, err)
	return w
}

func TestPlanIsDeterministic(t *testing.T) {
	a, b := plan(t, 300, 7, "run-a"), plan(t, 300, 7, "run-a")
	ja, err := json.Marshal(a.Truth())
	require.NoError(t, err)
	jb, err := json.Marshal(b.Truth())
	require.NoError(t, err)
	assert.Equal(t, string(ja), string(jb), "same seed and run: same world")

	// Same OTLP too.
	ta, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(a.buildTraces(a.Sessions))
	tb, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(b.buildTraces(b.Sessions))
	assert.Equal(t, ta, tb)

	// Another seed: another world.
	c := plan(t, 300, 8, "run-a")
	assert.NotEqual(t, a.Truth().Aggregates.TotalRequests, c.Truth().Aggregates.TotalRequests)
}

func TestRunsOfOneSeedHaveDistinctIDsAndTheSameShape(t *testing.T) {
	a, b := plan(t, 500, 7, "run-a"), plan(t, 500, 7, "run-b")
	ids := map[string]bool{}
	for _, w := range []*World{a, b} {
		for _, s := range w.Sessions {
			require.NoError(t, schema.ValidSessionID(s.ID))
			require.False(t, ids[s.ID], "session ID %s repeats", s.ID)
			ids[s.ID] = true
			for _, r := range s.Requests {
				require.False(t, ids[r.TraceID.String()], "trace ID repeats")
				ids[r.TraceID.String()] = true
			}
		}
	}
	ta, tb := a.Truth(), b.Truth()
	assert.Equal(t, ta.Aggregates, tb.Aggregates, "the run changes the IDs only")
	for i := range ta.Sessions {
		assert.Equal(t, ta.Sessions[i].Start, tb.Sessions[i].Start)
	}
	// Default run IDs differ from one plan to the next.
	w1, err := Plan(Config{Sessions: 3, Seed: 1})
	require.NoError(t, err)
	w2, err := Plan(Config{Sessions: 3, Seed: 1})
	require.NoError(t, err)
	assert.NotEqual(t, w1.RunID, w2.RunID)
	assert.NotEqual(t, w1.Sessions[0].ID, w2.Sessions[0].ID)
}

func TestDistributionsAreSane(t *testing.T) {
	w := plan(t, 4000, 3, "r")
	tr := w.Truth()
	a := tr.Aggregates
	errShare := float64(a.SessionsWithError) / float64(a.TotalSessions)
	assert.InDelta(t, 0.25, errShare, 0.05, "20-30%% of sessions have a failed request")
	endShare := float64(a.SessionsWithEnd) / float64(a.TotalSessions)
	assert.Greater(t, endShare, 0.8)
	assert.Less(t, endShare, 0.95)
	mean := float64(a.TotalRequests) / float64(a.TotalSessions)
	assert.Greater(t, mean, 3.0)
	assert.Less(t, mean, 8.0)

	counts := map[int]int{}
	kinds := map[string]int{}
	for _, s := range w.Sessions {
		n := len(s.Requests)
		require.GreaterOrEqual(t, n, 1)
		require.LessOrEqual(t, n, 20)
		counts[n]++
		assert.False(t, s.Start.Before(w.WindowStart), "session starts in the window")
		assert.False(t, s.End.After(w.WindowEnd), "session ends in the window")
		for _, r := range s.Requests {
			kinds[r.Failure]++
			assert.False(t, r.Start.Before(s.Start))
			assert.False(t, r.ClientEnd().After(s.End))
			if r.HasServer {
				assert.False(t, r.ServerEnd().After(s.End))
				assert.True(t, r.ServerStart().After(r.Start), "the server span starts after the client's")
				if r.Failure != FailureTimeout {
					net := r.Client - r.Server
					assert.GreaterOrEqual(t, net, 6*time.Millisecond)
					assert.LessOrEqual(t, net, 1500*time.Millisecond)
				}
				for _, c := range r.Children {
					assert.LessOrEqual(t, c.Offset+c.Duration, r.Server, "children inside the server span")
				}
				assert.LessOrEqual(t, len(r.Children), 3)
			} else {
				assert.Equal(t, FailureConnectionLost, r.Failure)
			}
		}
	}
	assert.Greater(t, counts[1]+counts[2]+counts[3], counts[10]+counts[11]+counts[12], "skewed towards few requests")
	assert.Positive(t, counts[20]+counts[19]+counts[18], "some long sessions")
	assert.Positive(t, kinds[FailureServer])
	assert.Positive(t, kinds[FailureTimeout])
	assert.Positive(t, kinds[FailureConnectionLost])
	assert.Greater(t, kinds[FailureServer], kinds[FailureTimeout])

	// Sessions are spread over the window, not bunched.
	first, last := 0, 0
	for _, s := range w.Sessions {
		switch {
		case s.Start.Before(w.WindowStart.Add(15 * time.Minute)):
			first++
		case s.Start.After(w.WindowEnd.Add(-15 * time.Minute)):
			last++
		}
	}
	assert.Greater(t, first, 500)
	assert.Greater(t, last, 200)

	// Per-endpoint latency follows the endpoint: photos are slow, flags fast.
	photos, _ := a.Endpoint("POST /v2/photos")
	flags, _ := a.Endpoint("GET /v2/config/flags")
	assert.Greater(t, photos.Server.P50, 5*flags.Server.P50)
	for _, e := range a.Endpoints {
		assert.Positive(t, e.Requests, e.Endpoint)
		assert.LessOrEqual(t, e.Client.P50, e.Client.P95)
		assert.LessOrEqual(t, e.Client.P95, e.Client.P99)
		assert.Greater(t, e.Client.P50, e.Server.P50, "client = server + network")
	}
}

func TestTruthAggregatesMatchSessions(t *testing.T) {
	w := plan(t, 1500, 11, "r")
	tr := w.Truth()
	withErr, ended, reqs, failed := 0, 0, 0, 0
	client := map[string][]float64{}
	server := map[string][]float64{}
	for _, s := range tr.Sessions {
		hasErr := false
		for _, r := range s.Requests {
			reqs++
			if r.Error {
				failed++
				hasErr = true
			}
			client[r.Endpoint] = append(client[r.Endpoint], r.ClientMs)
			if r.ServerMs != nil {
				server[r.Endpoint] = append(server[r.Endpoint], *r.ServerMs)
			}
		}
		assert.Equal(t, hasErr, s.HasError)
		if hasErr {
			withErr++
		}
		if s.HasEnd {
			ended++
		}
	}
	a := tr.Aggregates
	assert.Equal(t, len(tr.Sessions), a.TotalSessions)
	assert.Equal(t, withErr, a.SessionsWithError)
	assert.Equal(t, ended, a.SessionsWithEnd)
	assert.Equal(t, reqs, a.TotalRequests)
	assert.Equal(t, failed, a.FailedRequests)
	for _, e := range a.Endpoints {
		c := slices.Clone(client[e.Endpoint])
		sort.Float64s(c)
		assert.Equal(t, len(c), e.Client.N)
		// Nearest rank by hand.
		assert.Equal(t, c[int(math.Ceil(0.95*float64(len(c))))-1], e.Client.P95, e.Endpoint)
		assert.Equal(t, c[int(math.Ceil(0.5*float64(len(c))))-1], e.Client.P50, e.Endpoint)
		s := slices.Clone(server[e.Endpoint])
		sort.Float64s(s)
		assert.Equal(t, s[int(math.Ceil(0.99*float64(len(s))))-1], e.Server.P99, e.Endpoint)
	}
	assert.Equal(t, 2.0, NearestRank([]float64{1, 2, 3, 4}, 0.5))
	assert.Equal(t, 95.0, NearestRank(oneTo100(), 0.95), "0.95*100 is 95, not a hair above")
	assert.Equal(t, 4.0, NearestRank([]float64{1, 2, 3, 4}, 0.99))

	// Expectations agree with the OTLP built for the stores.
	td := w.buildTraces(w.Sessions)
	ld := w.buildLogs(w.Sessions)
	total := 0
	for _, n := range tr.Expect.Spans {
		total += n
	}
	assert.Equal(t, total, td.SpanCount())
	total = 0
	for _, n := range tr.Expect.Logs {
		total += n
	}
	assert.Equal(t, total, ld.LogRecordCount())
	assert.Equal(t, a.TotalRequests, tr.Expect.Traces)
}

func TestTruthFileRoundTrip(t *testing.T) {
	w := plan(t, 50, 2, "r")
	tr := w.Truth()
	path, err := WriteTruth(tr, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, TruthFileName(tr.App, tr.RunID), filepath.Base(path))
	back, err := LoadTruth(path)
	require.NoError(t, err)
	for i := range tr.Endpoints {
		tr.Endpoints[i].spec = endpointSpec{}
	}
	assert.True(t, reflect.DeepEqual(tr, back), "loaded truth equals the written one")
}

// attrsOf turns a pdata map into strings.
func attrsOf(m pcommon.Map) map[string]string {
	out := map[string]string{}
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = v.AsString()
		return true
	})
	return out
}

// required are the schema's required attribute names for a signal and
// layer (condition-free reading: what every item of that kind carries).
func requireSchemaValues(t *testing.T, attrs map[string]string, raw pcommon.Map) {
	t.Helper()
	raw.Range(func(k string, v pcommon.Value) bool {
		if _, ok := schema.Default().Attribute(k); !ok {
			return true // backend conventions (http.route, service.instance.id)
		}
		var val any = v.AsString()
		switch v.Type() {
		case pcommon.ValueTypeInt:
			val = v.Int()
		case pcommon.ValueTypeDouble:
			val = v.Double()
		}
		assert.NoError(t, schema.Validate(k, val), "%s=%v", k, val)
		return true
	})
	for k := range attrs {
		assert.False(t, schema.Default().IsForbidden(k), "forbidden attribute %s", k)
	}
}

func TestEverySpanAndLogCarriesTheSchemasNames(t *testing.T) {
	w := plan(t, 400, 5, "r")
	td := w.buildTraces(w.Sessions)
	deviceResource := []string{schema.AttrServiceName, schema.AttrServiceVersion, schema.AttrOSName, schema.AttrOSVersion,
		schema.AttrDeviceModelIdentifier, schema.AttrStitchSchemaVersion, schema.AttrStitchConsent}
	clientSpan := []string{schema.AttrSessionID, schema.AttrHTTPRequestMethod, schema.AttrURLTemplate, schema.AttrServerAddress,
		schema.AttrStitchSamplingDecision, schema.AttrStitchSamplingReason, schema.AttrStitchSamplingRate, schema.AttrNetworkConnectionType}
	serverSpan := []string{schema.AttrSessionID, schema.AttrHTTPRequestMethod, attrHTTPRoute, schema.AttrHTTPResponseStatusCode}
	backendResource := []string{schema.AttrServiceName, schema.AttrServiceVersion, schema.AttrStitchSchemaVersion}
	serverKinds := 0
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		res := attrsOf(rs.Resource().Attributes())
		requireSchemaValues(t, res, rs.Resource().Attributes())
		device := res[schema.AttrServiceName] == w.App
		want := backendResource
		if device {
			want = deviceResource
			assert.Equal(t, "iOS", res[schema.AttrOSName])
			assert.Equal(t, schema.SchemaVersion, res[schema.AttrStitchSchemaVersion])
		}
		for _, k := range want {
			assert.Contains(t, res, k)
		}
		spans := rs.ScopeSpans().At(0).Spans()
		for j := range spans.Len() {
			s := spans.At(j)
			a := attrsOf(s.Attributes())
			requireSchemaValues(t, a, s.Attributes())
			require.NoError(t, schema.ValidSessionID(a[schema.AttrSessionID]))
			switch s.Kind() {
			case ptrace.SpanKindClient:
				if !device {
					continue // a backend's own client span (database, cache)
				}
				for _, k := range clientSpan {
					assert.Contains(t, a, k)
				}
				assert.Equal(t, "1", a[schema.AttrStitchSamplingRate])
				assert.Equal(t, "keep", a[schema.AttrStitchSamplingDecision])
				// The schema's error rule sees exactly the planned failures.
				sp := &telemetry.Span{}
				for k, v := range a {
					sp.Attributes = append(sp.Attributes, telemetry.KV{Key: k, Value: v})
				}
				if s.Status().Code() == ptrace.StatusCodeError {
					sp.StatusCode = telemetry.StatusError
				}
				assert.Equal(t, a[schema.AttrErrorType] != "", correlation.IsErrorRequest(sp))
			case ptrace.SpanKindServer:
				serverKinds++
				assert.False(t, device)
				for _, k := range serverSpan {
					assert.Contains(t, a, k)
				}
				assert.Equal(t, a[attrHTTPRoute], strings.SplitN(s.Name(), " ", 2)[1])
				assert.Equal(t, s.Status().Code() == ptrace.StatusCodeError, a[schema.AttrHTTPResponseStatusCode] >= "500")
				assert.False(t, s.ParentSpanID().IsEmpty())
			}
		}
	}
	assert.Positive(t, serverKinds)

	ld := w.buildLogs(w.Sessions)
	perSession := map[string][]plog.LogRecord{}
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		res := attrsOf(rl.Resource().Attributes())
		device := res[schema.AttrServiceName] == w.App
		recs := rl.ScopeLogs().At(0).LogRecords()
		for j := range recs.Len() {
			r := recs.At(j)
			a := attrsOf(r.Attributes())
			requireSchemaValues(t, a, r.Attributes())
			require.NoError(t, schema.ValidSessionID(a[schema.AttrSessionID]))
			if !device {
				assert.False(t, r.TraceID().IsEmpty(), "backend records carry the trace")
				continue
			}
			for _, k := range []string{schema.AttrStitchSamplingDecision, schema.AttrStitchSamplingReason, schema.AttrStitchSamplingRate, schema.AttrNetworkConnectionType} {
				assert.Contains(t, a, k)
			}
			switch r.EventName() {
			case schema.EventSessionStart:
				assert.Contains(t, a, schema.AttrStitchSessionStartReason)
				assert.Equal(t, schema.EventSessionStart, r.Body().Str())
			case schema.EventDeviceAppLifecycle:
				assert.Contains(t, a, schema.AttrIOSAppState)
			case schema.EventSessionEnd:
			case "":
				assert.Equal(t, plog.SeverityNumberError, r.SeverityNumber())
				assert.Contains(t, a, schema.AttrErrorType)
				assert.False(t, r.TraceID().IsEmpty())
				assert.False(t, r.SpanID().IsEmpty())
			default:
				t.Fatalf("unexpected event %q", r.EventName())
			}
			perSession[a[schema.AttrSessionID]] = append(perSession[a[schema.AttrSessionID]], r)
		}
	}
	for _, s := range w.Sessions {
		recs := perSession[s.ID]
		require.NotEmpty(t, recs)
		assert.Equal(t, schema.EventSessionStart, recs[0].EventName(), "session.start first")
		for i := 1; i < len(recs); i++ {
			assert.GreaterOrEqual(t, recs[i].Timestamp(), recs[i-1].Timestamp())
		}
		ends := 0
		for _, r := range recs {
			if r.EventName() == schema.EventSessionEnd {
				ends++
			}
		}
		if s.HasEnd {
			assert.Equal(t, 1, ends)
			assert.Equal(t, schema.EventSessionEnd, recs[len(recs)-1].EventName(), "session.end last")
		} else {
			assert.Zero(t, ends)
		}
		failed := 0
		for _, r := range s.Requests {
			if r.Failed() {
				failed++
			}
		}
		errs := 0
		for _, r := range recs {
			if r.SeverityNumber() == plog.SeverityNumberError {
				errs++
			}
		}
		assert.Equal(t, failed, errs, "one error record per failed request")
	}
}

func TestEndpointsAreValidTemplates(t *testing.T) {
	for _, e := range endpointsFor(DefaultApp) {
		assert.NoError(t, schema.Validate(schema.AttrURLTemplate, e.URLTemplate), e.URLTemplate)
		assert.NoError(t, schema.Validate(schema.AttrHTTPRequestMethod, e.Method))
		assert.NoError(t, schema.Validate(schema.AttrServerAddress, e.ServerAddress))
		assert.NoError(t, schema.Validate(schema.AttrServiceName, e.Service))
	}
	for _, app := range []string{"Scale.App_2", "x"} {
		assert.NoError(t, schema.Validate(schema.AttrServerAddress, serverAddress(app)), app)
	}
	_, err := Plan(Config{Sessions: 1, App: "bad name"})
	assert.Error(t, err)
	_, err = Plan(Config{Sessions: 0})
	assert.Error(t, err)
}

func TestNothingIsSharedWithTheDemoWorld(t *testing.T) {
	demo, err := demoworld.Plan(1, 40)
	require.NoError(t, err)
	gt := demo.GroundTruth()
	demoNames := map[string]bool{gt.App.ServiceName: true}
	demoHosts := map[string]bool{}
	demoTemplates := map[string]bool{}
	for _, s := range gt.Services {
		demoNames[s.Name] = true
		demoHosts[s.Host] = true
	}
	for _, r := range gt.Requests {
		demoTemplates[r.URLTemplate] = true
		demoHosts[r.ServerAddress] = true
	}
	for _, d := range gt.Devices {
		demoNames[d.AppVersion] = true
	}
	require.Greater(t, len(demoTemplates), 2)
	w := plan(t, 100, 1, "r")
	for _, svc := range append([]string{w.App}, w.Services...) {
		assert.False(t, demoNames[svc], "service %s is the demo world's", svc)
	}
	for _, e := range w.Endpoints {
		assert.False(t, demoTemplates[e.URLTemplate], "endpoint %s is the demo world's", e.URLTemplate)
		assert.False(t, demoHosts[e.ServerAddress], "host %s is the demo world's", e.ServerAddress)
	}
	for _, v := range appVersions {
		assert.False(t, demoNames[v.v], "app version %s is the demo world's", v.v)
	}
	assert.NotEqual(t, demoworld.AppServiceName, DefaultApp)
}

func TestHistogramsAreCumulativeAndComplete(t *testing.T) {
	w := plan(t, 600, 9, "r")
	series := w.histograms()
	md := w.buildMetrics(series)
	times := w.pointTimes()
	assert.Len(t, times, 61, "1h window: start + 60 minutes")
	assert.Equal(t, w.WindowStart, times[0])
	assert.Equal(t, w.WindowEnd, times[len(times)-1])
	assert.Equal(t, len(series)*len(times), md.DataPointCount())
	var final uint64
	exemplars := 0
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		assert.Equal(t, w.RunID, attrsOf(rm.Resource().Attributes())[attrServiceInstanceID])
		m := rm.ScopeMetrics().At(0).Metrics().At(0)
		assert.Equal(t, "stitch.requests.duration", m.Name())
		assert.Equal(t, "ms", m.Unit())
		dps := m.Histogram().DataPoints()
		for j := range dps.Len() {
			dp := dps.At(j)
			k := j % len(times)
			assert.Equal(t, ts(times[k]), dp.Timestamp())
			assert.Equal(t, ts(w.WindowStart), dp.StartTimestamp())
			assert.Equal(t, HistogramBounds, dp.ExplicitBounds().AsRaw())
			var n uint64
			for _, c := range dp.BucketCounts().AsRaw() {
				n += c
			}
			assert.Equal(t, dp.Count(), n)
			if k == 0 {
				assert.Zero(t, dp.Count(), "zero at the window's start")
			} else {
				assert.GreaterOrEqual(t, dp.Count(), dps.At(j-1).Count(), "cumulative")
			}
			if k == len(times)-1 {
				final += dp.Count()
			}
			for e := range dp.Exemplars().Len() {
				ex := dp.Exemplars().At(e)
				exemplars++
				assert.False(t, ex.TraceID().IsEmpty())
				assert.LessOrEqual(t, ex.Timestamp(), dp.Timestamp())
			}
		}
	}
	tr := w.Truth()
	assert.Equal(t, uint64(tr.Expect.Observations), final)
	assert.Equal(t, tr.Expect.HistogramSeries, len(series))
	assert.Positive(t, exemplars)
	assert.Equal(t, 0, bucketOf(5))
	assert.Equal(t, 1, bucketOf(5.001))
	assert.Equal(t, len(HistogramBounds), bucketOf(30000.5))
}

func TestBatches(t *testing.T) {
	w := plan(t, 700, 4, "r")
	b := batchSessions(w.Sessions, spanCount, 1000)
	n := 0
	for _, x := range b {
		n += len(x)
	}
	assert.Equal(t, len(w.Sessions), n)
	assert.Greater(t, len(b), 2)
	_, err := checkTargets(demoworld.Targets{JaegerOTLPHTTP: "http://example.com:4318", VictoriaLogs: "http://127.0.0.1:1", Prometheus: "http://127.0.0.1:2"}, false)
	assert.Error(t, err, "loopback only")
	tg, err := checkTargets(demoworld.Targets{JaegerOTLPHTTP: "http://127.0.0.1:4318/", VictoriaLogs: "http://127.0.0.1:1", Prometheus: "http://127.0.0.1:2"}, false)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:4318", tg.JaegerOTLPHTTP)
}

func oneTo100() []float64 {
	out := make([]float64, 100)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}
