//go:build integration

package integration

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
)

// The engine's ground-truth suite a second time, with the Tempo and Loki
// adapters: the same world, the same assertions (engine_world_test.go), over
// test doubles (tempo_double_test.go, loki_double_test.go) that answer the
// world's data from the stack's Jaeger and VictoriaLogs in Tempo's and Loki's
// formats, for exactly the request shapes the adapters send. A request the
// doubles refuse (an adapter that drifted) fails the test.

// tempoLokiInstance starts the two doubles and a plugin instance configured
// with them; when the test ends, each double's refusals fail it.
func tempoLokiInstance(t *testing.T) pluginharness.Instance {
	t.Helper()
	tempo := newTempoDouble(t, theStack.JaegerURL())
	loki := newLokiDouble(t, theStack.VictoriaLogsURL())
	// Registered after the servers' Close, so it runs before them.
	t.Cleanup(func() {
		tempo.check(t)
		loki.check(t)
	})
	return newInstance(t, map[string]any{
		"traces": storeJSON("tempo", tempo.URL),
		"logs":   storeJSON("loki", loki.URL),
	}, nil)
}

func TestTempoLokiSessionTimelineMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	checkTimelines(t, gt, tempoLokiInstance(t))
}

func TestTempoLokiTraceToSessionFindsEveryBackendTrace(t *testing.T) {
	gt := sharedWorld(t)
	checkTraceToSession(t, gt, tempoLokiInstance(t))
}

func TestTempoLokiSessionsListMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	inst := tempoLokiInstance(t)
	checkSessionsList(t, gt, inst)
	// The shared assertions excuse sessions missing from a capped list;
	// say how many of the world's sessions each store pair listed.
	jaegerListed, exported := worldSessionsListed(t, gt, newInstance(t, stackSettings(), nil))
	tempoListed, _ := worldSessionsListed(t, gt, inst)
	t.Logf("SESSIONS LIST: of the world's %d exported sessions, jaeger+victorialogs listed %d, tempo+loki listed %d", exported, jaegerListed, tempoListed)
}

// worldSessionsListed counts the world's sessions (those with something
// exported) in the sessions list of the world's app.
func worldSessionsListed(t *testing.T, gt *demoworld.GroundTruth, inst pluginharness.Instance) (listed, exported int) {
	t.Helper()
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName, "limit": 1000}))
	require.NoError(t, err)
	require.NoError(t, res.Responses["A"].Error)
	f := frameByName(res.Responses["A"].Frames, "sessions")
	require.NotNil(t, f)
	rows := map[string]bool{}
	ids := column(t, f, "sessionId")
	for i := 0; i < f.Rows(); i++ {
		rows[ids.At(i).(string)] = true
	}
	for _, s := range gt.Sessions {
		ok := false
		for _, req := range gt.Requests {
			for _, at := range req.Attempts {
				ok = ok || (req.SessionID == s.ID && at.Exported)
			}
		}
		if !ok {
			continue
		}
		exported++
		if rows[s.ID] {
			listed++
		}
	}
	return listed, exported
}

// The doubles themselves: the adapters' health checks pass through them (the
// health shapes: echo, a "{}" search without spss, an unfiltered backward
// LogQL query without the categorised-labels header), and request shapes the
// adapters do not send are refused with 400 and counted.
func TestTempoLokiDoublesAnswerOnlyTheAdaptersShapes(t *testing.T) {
	inst := tempoLokiInstance(t) // fails on any refusal by the adapters
	res, err := grafana.CheckHealth(testContext(t), inst)
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusOk, res.Status, res.Message)

	tempo := newTempoDouble(t, theStack.JaegerURL())
	loki := newLokiDouble(t, theStack.VictoriaLogsURL())
	now := time.Now()
	s, e := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), strconv.FormatInt(now.Unix(), 10)
	ns, ne := strconv.FormatInt(now.Add(-time.Hour).UnixNano(), 10), strconv.FormatInt(now.UnixNano(), 10)
	const sid = "0123456789abcdef0123456789abcdef"
	search := func(q string, extra ...string) string {
		v := url.Values{"q": {q}, "start": {s}, "end": {e}, "limit": {"20"}, "spss": {"100"}}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				v.Del(extra[i])
			} else {
				v.Set(extra[i], extra[i+1])
			}
		}
		return "/api/search?" + v.Encode()
	}
	logQL := func(q string, extra ...string) string {
		v := url.Values{"query": {q}, "start": {ns}, "end": {ne}, "limit": {"101"}, "direction": {"forward"}}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				v.Del(extra[i])
			} else {
				v.Set(extra[i], extra[i+1])
			}
		}
		return "/loki/api/v1/query_range?" + v.Encode()
	}
	get := func(base, path, accept string, header ...string) int {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	session := `{ span.session.id = "` + sid + `" }`
	lokiSession := `{service_name=~".+"} | session_id="` + sid + `"`

	// Shapes the adapters send are answered.
	for _, c := range []struct{ name, path, accept string }{
		{"session search", search(session), ""},
		{"filtered search", search(`{ resource.service.name = "gateway" && span.url.template = "/v1/orders" && span.http.response.status_code = 502 }`), ""},
		{"v2 trace, unknown", "/api/v2/traces/" + sid + "?start=" + s + "&end=" + e, "application/protobuf"},
	} {
		code := get(tempo.URL, c.path, c.accept)
		assert.Contains(t, []int{200, 404}, code, c.name)
	}
	assert.Equal(t, 200, get(loki.URL, logQL(lokiSession), "application/json", lokiFlagsHeader, lokiFlagCategorize))
	assert.Equal(t, 200, get(loki.URL, logQL(`{service_name=~".+"} | trace_id=~"`+sid+`|`+strings.Repeat("f", 32)+`"`), "application/json", lokiFlagsHeader, lokiFlagCategorize))

	// Drifted shapes are refused.
	tempoDrift := []struct{ name, path, accept string }{
		{"no start", search(session, "start", ""), ""},
		{"no limit", search(session, "limit", ""), ""},
		{"spss over 100", search(session, "spss", "101"), ""},
		{"unknown parameter", search(session, "tags", "x"), ""},
		{"range over 168h", search(session, "start", strconv.FormatInt(now.Add(-169*time.Hour).Unix(), 10)), ""},
		{"unspaced TraceQL", search(`{span.session.id="` + sid + `"}`), ""},
		{"regex match", search(`{ span.session.id =~ "` + sid + `" }`), ""},
		{"pipeline", search(`{ span.session.id != nil } | select(span.session.id)`), ""},
		{"two spansets", search(session + ` && ` + session), ""},
		{"or", search(`{ span.session.id = "a" || span.session.id = "b" }`), ""},
		{"event scope", search(`{ event.name = "x" }`), ""},
		{"v2 trace as JSON", "/api/v2/traces/" + sid, "application/json"},
		{"v2 trace, start only", "/api/v2/traces/" + sid + "?start=" + s, "application/protobuf"},
		{"v2 trace, bad ID", "/api/v2/traces/not-hex", "application/protobuf"},
		{"tag values", "/api/v2/search/tag/span.session.id/values?start=" + s + "&end=" + e, ""},
		{"metrics", "/api/metrics/query_range?q=%7B%7D&start=" + s + "&end=" + e + "&step=60", ""},
	}
	for _, c := range tempoDrift {
		assert.Equal(t, http.StatusBadRequest, get(tempo.URL, c.path, c.accept), "tempo: %s", c.name)
	}
	lokiDrift := []struct{ name, path string }{
		{"other selector", logQL(`{service_name="gateway"} | session_id="` + sid + `"`)},
		{"line filter", logQL(lokiSession + ` |= "x"`)},
		{"unquoted value", logQL(`{service_name=~".+"} | session_id=` + sid)},
		{"regex session", logQL(`{service_name=~".+"} | session_id=~"` + sid + `"`)},
		{"trace regex not IDs", logQL(`{service_name=~".+"} | trace_id=~".+"`)},
		{"limit over 5000", logQL(lokiSession, "limit", "5001")},
		{"backward search", logQL(lokiSession, "direction", "backward")},
		{"no direction", logQL(lokiSession, "direction", "")},
		{"extra parameter", logQL(lokiSession, "step", "60")},
		{"end before start", logQL(lokiSession, "end", ns, "start", ne)},
		{"instant query route", strings.Replace(logQL(lokiSession), "query_range", "query", 1)},
	}
	for _, c := range lokiDrift {
		assert.Equal(t, http.StatusBadRequest, get(loki.URL, c.path, "application/json", lokiFlagsHeader, lokiFlagCategorize), "loki: %s", c.name)
	}
	assert.Equal(t, http.StatusBadRequest, get(loki.URL, logQL(lokiSession), "application/json", lokiFlagsHeader, "something-else"), "loki: unknown encoding flag")

	tempo.mu.Lock()
	assert.Len(t, tempo.refused, len(tempoDrift), "every drifted Tempo request counted:\n%s", strings.Join(tempo.refused, "\n"))
	tempo.mu.Unlock()
	loki.mu.Lock()
	assert.Len(t, loki.refused, len(lokiDrift)+1, "every drifted Loki request counted:\n%s", strings.Join(loki.refused, "\n"))
	loki.mu.Unlock()
}
