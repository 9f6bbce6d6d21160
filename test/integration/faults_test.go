//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/pluginharness"
)

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// sendSession writes one tiny session to the stack's Jaeger over OTLP/HTTP
// JSON: an app client span and the backend server span it caused.
func sendSession(t *testing.T) (sessionID, traceID string) {
	t.Helper()
	sessionID, traceID = randomHex(t, 16), randomHex(t, 16)
	client, server := randomHex(t, 8), randomHex(t, 8)
	now := time.Now().UnixNano()
	body := fmt.Sprintf(`{"resourceSpans":[
{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fault-app"}},{"key":"device.model.identifier","value":{"stringValue":"iPhone15,2"}},{"key":"os.name","value":{"stringValue":"iOS"}}]},
 "scopeSpans":[{"spans":[{"traceId":"%[1]s","spanId":"%[2]s","name":"GET","kind":3,"startTimeUnixNano":"%[4]d","endTimeUnixNano":"%[5]d",
   "attributes":[{"key":"session.id","value":{"stringValue":"%[6]s"}},{"key":"url.template","value":{"stringValue":"/items/{id}"}}]}]}]},
{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fault-backend"}}]},
 "scopeSpans":[{"spans":[{"traceId":"%[1]s","spanId":"%[3]s","parentSpanId":"%[2]s","name":"GET /items/{id}","kind":2,"startTimeUnixNano":"%[7]d","endTimeUnixNano":"%[8]d",
   "attributes":[{"key":"session.id","value":{"stringValue":"%[6]s"}}]}]}]}]}`,
		traceID, client, server, now, now+int64(50*time.Millisecond), sessionID, now+int64(10*time.Millisecond), now+int64(40*time.Millisecond))
	resp, err := http.Post(theStack.JaegerOTLPHTTPURL()+"/v1/traces", "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return sessionID, traceID
}

func timelineQuery(t *testing.T, sessionID string) backend.DataQuery {
	q, err := pluginharness.Query("A", map[string]any{"queryType": "sessionTimeline", "sessionId": sessionID}, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	require.NoError(t, err)
	return q
}

func frameByName(fs data.Frames, name string) *data.Frame {
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func noticesOf(fs data.Frames) string {
	var out []string
	for _, f := range fs {
		if f.Meta != nil {
			for _, n := range f.Meta.Notices {
				out = append(out, n.Text)
			}
		}
	}
	return strings.Join(out, "\n")
}

// A log store that is down, too slow or answering garbage: the trace store's
// part of the timeline still comes back, with a notice naming the failure.
func TestTimelineSurvivesABrokenLogStore(t *testing.T) {
	sessionID, traceID := sendSession(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{\"_msg\": \x00garbage\n<<<"))
	}))
	t.Cleanup(garbage.Close)

	cases := map[string]struct{ url, want string }{
		"down":    {fmt.Sprintf("http://127.0.0.1:%d", closedPort(t)), "connection refused"},
		"slow":    {slow.URL, "no answer within 1s"},
		"garbage": {garbage.URL, "not VictoriaLogs' LogsQL JSON lines"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			settings := stackSettings()
			settings["logs"] = map[string]any{"kind": "victorialogs", "url": c.url, "timeoutSeconds": 1}
			inst := newInstance(t, settings, nil)
			var tl *data.Frame
			var res *backend.QueryDataResponse
			require.Eventually(t, func() bool {
				var err error
				res, err = grafana.QueryData(testContext(t), inst, timelineQuery(t, sessionID))
				require.NoError(t, err)
				r := res.Responses["A"]
				require.NoError(t, r.Error)
				tl = frameByName(r.Frames, "timeline")
				return tl != nil && tl.Rows() >= 2
			}, 15*time.Second, 500*time.Millisecond, "the spans arrive in Jaeger")
			notices := noticesOf(res.Responses["A"].Frames)
			assert.Contains(t, notices, "log search failed")
			assert.Contains(t, notices, c.want)
			wf := frameByName(res.Responses["A"].Frames, "waterfall")
			require.NotNil(t, wf)
			assert.Equal(t, 3, wf.Rows(), "session root + client span + server span")
			found := false
			for i := 0; i < tl.Rows(); i++ {
				found = found || tl.Fields[5].At(i) == traceID
			}
			assert.True(t, found)
		})
	}
}

// The trace store down: the query still answers (logs only) with a notice.
func TestTimelineSurvivesABrokenTraceStore(t *testing.T) {
	settings := stackSettings()
	settings["traces"] = map[string]any{"kind": "jaeger", "url": fmt.Sprintf("http://127.0.0.1:%d", closedPort(t)), "timeoutSeconds": 1}
	res, err := grafana.QueryData(testContext(t), newInstance(t, settings, nil), timelineQuery(t, randomHex(t, 16)))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	assert.Contains(t, noticesOf(r.Frames), "trace search failed")
	assert.Contains(t, noticesOf(r.Frames), "connection refused")
}
