package jaeger

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// testdata/search_session.json is what Jaeger v1.76.0 answered to
// /api/traces?service=…&tags={"session.id":…} for one OTLP span.
func TestToTracesFromRecordedJaegerAnswer(t *testing.T) {
	raw, err := os.ReadFile("testdata/search_session.json")
	require.NoError(t, err)
	var env struct {
		Data []jsonTrace `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &env))
	traces, err := toTraces(env.Data)
	require.NoError(t, err)
	require.Len(t, traces, 1)
	s := traces[0].Spans[0]
	assert.Equal(t, "00f7651916cd43dd8448eb211c80319c", s.TraceID)
	assert.Equal(t, "00f067aa0ba902b7", s.SpanID)
	assert.Equal(t, telemetry.KindClient, s.Kind)
	assert.Equal(t, telemetry.StatusError, s.StatusCode)
	assert.Equal(t, "bad gateway", s.StatusMessage)
	assert.Equal(t, "probe", s.ScopeName)
	assert.Equal(t, "probe-app", s.Service)
	assert.Equal(t, "iPhone15,2", s.Resource.Value("device.model.identifier"))
	assert.Equal(t, "502", s.Attributes.Value("http.response.status_code"))
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", s.Attr("session.id"))
	assert.Equal(t, 5*time.Millisecond, s.Duration)
	require.Len(t, s.Events, 1)
	assert.Equal(t, "retry", s.Events[0].Name)
	assert.Equal(t, "1", s.Events[0].Attributes.Value("n"))
	_, hasKind := s.Attributes.Get("span.kind")
	assert.False(t, hasKind, "model fields are not repeated as attributes")
}

func TestNormalizeIDPadsDroppedZeros(t *testing.T) {
	assert.Equal(t, "000000000000000000000000000000ab", normalizeID("AB", 32))
	assert.Equal(t, "00000000000000ab", normalizeID("ab", 16))
}

func TestTagsParamEscapesValues(t *testing.T) {
	p, err := tagsParam([]telemetry.KV{{Key: "session.id", Value: `x","service.name":"y`}})
	require.NoError(t, err)
	var back map[string]string
	require.NoError(t, json.Unmarshal([]byte(p), &back))
	assert.Equal(t, map[string]string{"session.id": `x","service.name":"y`}, back, "a value cannot add a filter")
	_, err = tagsParam([]telemetry.KV{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}})
	assert.Error(t, err)
}

// A test double of Jaeger's query API for what a real Jaeger cannot be made
// to do on demand: one service's search failing while the others answer.
func TestSearchTracesFansOutAndMerges(t *testing.T) {
	raw, err := os.ReadFile("testdata/search_session.json")
	require.NoError(t, err)
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/services":
			w.Write([]byte(`{"data":["a","b","broken"],"total":3}`))
		case "/api/traces":
			mu.Lock()
			asked = append(asked, r.URL.Query().Get("service"))
			mu.Unlock()
			var tags map[string]string
			if json.Unmarshal([]byte(r.URL.Query().Get("tags")), &tags) != nil || r.URL.Query().Get("start") == "" || r.URL.Query().Get("limit") == "" {
				http.Error(w, "bad request", 400)
				return
			}
			if r.URL.Query().Get("service") == "broken" {
				http.Error(w, "storage failure", 500)
				return
			}
			w.Write(raw)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	js, _ := json.Marshal(map[string]any{"traces": map[string]any{"kind": "jaeger", "url": srv.URL}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: js})
	require.NoError(t, err)
	c, err := storehttp.New(s.Traces)
	require.NoError(t, err)
	st := New(c)

	res, err := st.SearchTraces(context.Background(), stores.TraceSearch{
		Attributes: []telemetry.KV{{Key: "session.id", Value: "0af7651916cd43dd8448eb211c80319c"}},
		Start:      time.Now().Add(-time.Hour), End: time.Now(), Limit: 10,
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "b", "broken"}, asked)
	require.Len(t, res.Traces, 1, "the same trace from two services is merged")
	assert.Len(t, res.Traces[0].Spans, 1)
	assert.True(t, res.Complete)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], `service "broken"`)
}

// No attribute key or value can add, drop or change a filter of Jaeger's
// tags parameter: the JSON object decodes back to exactly the input.
func FuzzTagsParam(f *testing.F) {
	for _, v := range []string{`x","service.name":"y`, `\"`, "}{", "new\nline", "ü", ""} {
		f.Add("session.id", v)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		p, err := tagsParam([]telemetry.KV{{Key: key, Value: value}})
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]string
		if err := json.Unmarshal([]byte(p), &back); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		// JSON replaces invalid UTF-8 with U+FFFD; compare with that.
		roundTrip := func(s string) string {
			b, _ := json.Marshal(s)
			var out string
			_ = json.Unmarshal(b, &out)
			return out
		}
		wantKey, wantValue := roundTrip(key), roundTrip(value)
		if len(back) != 1 || back[wantKey] != wantValue {
			t.Fatalf("%q %q -> %v", key, value, back)
		}
	})
}

// An app-only search asks only the app's services: each unknown service is
// probed once (a one-trace search whose own spans tell its side), a service
// with nothing in the window is left out, and later searches probe nothing
// they already know.
func TestAppOnlySearchAsksOnlyTheAppsServices(t *testing.T) {
	app, err := os.ReadFile("testdata/search_session.json") // service probe-app, device resource
	require.NoError(t, err)
	backendTrace := []byte(`{"data":[{"traceID":"00000000000000000000000000000001","spans":[{"traceID":"00000000000000000000000000000001",
		"spanID":"0000000000000001","operationName":"GET","references":[],"startTime":1,"duration":1,"tags":[],"logs":[],"processID":"p1"}],
		"processes":{"p1":{"serviceName":"svc-b","tags":[]}}}]}`)
	var mu sync.Mutex
	probes, searches := map[string]int{}, map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/services":
			w.Write([]byte(`{"data":["idle","probe-app","svc-b"],"total":3}`))
		case "/api/traces":
			q := r.URL.Query()
			svc := q.Get("service")
			mu.Lock()
			if q.Get("tags") == "" {
				probes[svc]++
			} else {
				searches[svc]++
			}
			mu.Unlock()
			switch svc {
			case "probe-app":
				w.Write(app)
			case "svc-b":
				w.Write(backendTrace)
			default:
				w.Write([]byte(`{"data":[]}`))
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	js, _ := json.Marshal(map[string]any{"traces": map[string]any{"kind": "jaeger", "url": srv.URL}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: js})
	require.NoError(t, err)
	c, err := storehttp.New(s.Traces)
	require.NoError(t, err)
	st := New(c)

	q := stores.TraceSearch{Attributes: []telemetry.KV{{Key: "session.id", Value: "0af7651916cd43dd8448eb211c80319c"}},
		Start: time.Now().Add(-time.Hour), End: time.Now(), Limit: 10, AppOnly: true}
	for range 3 {
		res, err := st.SearchTraces(context.Background(), q)
		require.NoError(t, err)
		require.Len(t, res.Traces, 1)
	}
	assert.Equal(t, map[string]int{"probe-app": 3}, searches, "only the app's service is searched")
	assert.Equal(t, 1, probes["probe-app"], "a known service is not probed again")
	assert.Equal(t, 1, probes["svc-b"])
	assert.Equal(t, 3, probes["idle"], "a service with nothing in the window stays unknown")

	q.AppOnly = false
	_, err = st.SearchTraces(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"probe-app": 4, "svc-b": 1, "idle": 1}, searches, "without AppOnly every service is searched")
}

// A tag value decodes to what unmarshalling its JSON into a string gives,
// or, for a value that is not a string, to its JSON text.
func FuzzTagValue(f *testing.F) {
	for _, s := range []string{`"plain"`, `"esc\"aped\\n"`, `"\u00e9"`, "\"bad \xff utf8\"", `12.5`, `true`, `null`, ` 7 `, `"ctl` + "\x01" + `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v tagValue
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return // not JSON at all
		}
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			want = strings.TrimSpace(raw)
		}
		if string(v) != want {
			t.Fatalf("%q: got %q want %q", raw, v, want)
		}
	})
}
