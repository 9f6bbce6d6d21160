//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net"
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

	"github.com/stitch-observability/stitch/internal/stack"
	"github.com/stitch-observability/stitch/pkg/plugin"
)

func details(t *testing.T, res *backend.CheckHealthResult) map[string]plugin.StoreHealth {
	t.Helper()
	var d plugin.HealthDetails
	require.NoError(t, json.Unmarshal(res.JSONDetails, &d), "details are JSON: %s", res.JSONDetails)
	out := map[string]plugin.StoreHealth{}
	for _, s := range d.Stores {
		out[s.Role] = s
	}
	return out
}

func TestHealthAllStoresOK(t *testing.T) {
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, stackSettings(), nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	d := details(t, res)
	require.Len(t, d, 3)
	for _, role := range []string{"traces", "logs", "metrics"} {
		assert.True(t, d[role].OK, "%s: %s", role, d[role].Message)
		assert.Contains(t, res.Message, role+" (")
	}
	assert.Equal(t, "jaeger", d["traces"].Kind)
	assert.Equal(t, strings.TrimPrefix(theStack.JaegerURL(), "http://"), d["traces"].Host)
	assert.Contains(t, d["logs"].Message, "LogsQL ok")
	assert.Contains(t, d["metrics"].Message, "PromQL ok")
}

// A store stopped while the others run: the check fails, names that store,
// and still reports the others as ok.
func TestHealthOneStoreStopped(t *testing.T) {
	ctx := testContext(t)
	ports, err := stack.FreePorts()
	require.NoError(t, err)
	dir := t.TempDir()
	logs, err := stack.Start(ctx, stack.Options{Dir: dir, Ports: ports, Only: []string{"victorialogs"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = logs.Stop(nil) })

	settings := stackSettings()
	settings["logs"] = storeJSON("victorialogs", logs.VictoriaLogsURL())
	inst := newInstance(t, settings, nil)

	res, err := grafana.CheckHealth(ctx, inst)
	require.NoError(t, err)
	require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)

	require.NoError(t, logs.Stop(nil))
	res, err = grafana.CheckHealth(ctx, inst)
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	d := details(t, res)
	assert.False(t, d["logs"].OK)
	assert.Contains(t, d["logs"].Message, "connection refused")
	assert.Contains(t, d["logs"].Message, fmt.Sprintf("127.0.0.1:%d", ports.VictoriaLogs))
	assert.True(t, d["traces"].OK, d["traces"].Message)
	assert.True(t, d["metrics"].OK, d["metrics"].Message)
	assert.Contains(t, res.Message, "logs (victorialogs, 127.0.0.1:")
	assert.Contains(t, res.Message, "error")
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestHealthWrongPort(t *testing.T) {
	settings := stackSettings()
	settings["metrics"] = storeJSON("prometheus", fmt.Sprintf("http://127.0.0.1:%d", closedPort(t)))
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, settings, nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	d := details(t, res)
	assert.False(t, d["metrics"].OK)
	assert.Contains(t, d["metrics"].Message, "connection refused")
	assert.True(t, d["traces"].OK)
	assert.True(t, d["logs"].OK)
}

// A URL that reaches a real server but the wrong API: each store says it got
// something that is not its API.
func TestHealthWrongURL(t *testing.T) {
	settings := map[string]any{
		// Prometheus' API where Jaeger's should be, and the reverse.
		"traces":  storeJSON("jaeger", theStack.PrometheusURL()),
		"logs":    storeJSON("victorialogs", theStack.JaegerURL()+"/nope"),
		"metrics": storeJSON("prometheus", theStack.VictoriaLogsURL()),
	}
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, settings, nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	d := details(t, res)
	t.Log(res.Message)
	for role, h := range d {
		assert.False(t, h.OK, "%s should fail: %s", role, h.Message)
		assert.Contains(t, h.Message, role+" store (")
	}
}

// fakeStore answers every request with a fixed status and body: for what real
// servers cannot be made to do on demand (an HTML login page, a 401).
func fakeStore(t *testing.T, status int, contentType, body string) (*httptest.Server, *headerLog) {
	t.Helper()
	hl := &headerLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hl.add(r.Header)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		// Echo the credentials back, as some misbehaving proxies do.
		fmt.Fprint(w, strings.ReplaceAll(body, "{{auth}}", r.Header.Get("Authorization")+" "+r.Header.Get("X-Scope-OrgID")))
	}))
	t.Cleanup(srv.Close)
	return srv, hl
}

type headerLog struct {
	mu      sync.Mutex
	headers []http.Header
}

func (h *headerLog) add(hd http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.headers = append(h.headers, hd.Clone())
}

func (h *headerLog) all() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.headers...)
}

func TestHealthStoreAnsweringHTML(t *testing.T) {
	srv, _ := fakeStore(t, http.StatusOK, "text/html", "<!DOCTYPE html><html><head><title>Sign in</title></head><body>login</body></html>")
	settings := stackSettings()
	settings["traces"] = storeJSON("jaeger", srv.URL)
	settings["logs"] = storeJSON("victorialogs", srv.URL)
	settings["metrics"] = storeJSON("prometheus", srv.URL)
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, settings, nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	t.Log(res.Message)
	for role, h := range details(t, res) {
		assert.False(t, h.OK, role)
		assert.Contains(t, h.Message, "HTML page", role)
	}
}

func TestHealthStoreAnswering401(t *testing.T) {
	srv, _ := fakeStore(t, http.StatusUnauthorized, "text/plain", "bad credentials {{auth}}")
	settings := stackSettings()
	settings["metrics"] = storeJSON("prometheus", srv.URL)
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, settings, nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	d := details(t, res)
	assert.Contains(t, d["metrics"].Message, "401")
	assert.Contains(t, d["metrics"].Message, "unauthorized")
	assert.True(t, d["traces"].OK)
}

// A canary secret in every secure field is sent to the stores (so secrets are
// really read from secure data) and never appears in a message, a detail or a
// log line — even when the store echoes it back in an error body.
func TestCanarySecretNeverLeaks(t *testing.T) {
	const canary = "canary-5ecret-7f3a9c"
	srv, hl := fakeStore(t, http.StatusInternalServerError, "text/plain", "upstream failed; you sent {{auth}}")
	settings := map[string]any{
		"traces":  map[string]any{"kind": "tempo", "url": srv.URL, "auth": "bearer", "tenant": "team-a", "timeoutSeconds": 5},
		"logs":    map[string]any{"kind": "loki", "url": srv.URL, "auth": "basic", "basicAuthUser": "stitch", "timeoutSeconds": 5},
		"metrics": map[string]any{"kind": "prometheus", "url": srv.URL, "auth": "bearer", "timeoutSeconds": 5},
	}
	secure := map[string]string{
		"tracesBearerToken":       canary,
		"logsBasicAuthPassword":   canary,
		"metricsBearerToken":      canary,
		"tracesBasicAuthPassword": canary, // present but unused: still never shown
	}
	inst := newInstance(t, settings, secure)
	ctx := testContext(t)
	res, err := grafana.CheckHealth(ctx, inst)
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)

	// The secrets did reach the stores, as credentials.
	var sawBearer, sawBasic bool
	for _, h := range hl.all() {
		sawBearer = sawBearer || h.Get("Authorization") == "Bearer "+canary
		if user, pw, ok := (&http.Request{Header: h}).BasicAuth(); ok && user == "stitch" && pw == canary {
			sawBasic = true
		}
	}
	assert.True(t, sawBearer, "bearer token from secureJsonData sent")
	assert.True(t, sawBasic, "basic auth password from secureJsonData sent")

	// Queries and resources too.
	q := mustQuery(t, "A", map[string]any{"queryType": "sessions"})
	qr, err := grafana.QueryData(ctx, inst, q)
	require.NoError(t, err)
	rr, err := grafana.CallResource(ctx, inst, http.MethodGet, "stores", nil)
	require.NoError(t, err)

	time.Sleep(200 * time.Millisecond) // let the plugin's log lines arrive
	everything := res.Message + string(res.JSONDetails) + string(rr.Body) + grafana.Logs()
	for _, r := range qr.Responses {
		if r.Error != nil {
			everything += r.Error.Error()
		}
	}
	assert.NotContains(t, everything, canary)
	assert.Contains(t, res.Message, "[redacted]", "the echoed secret was found and redacted")
	if os.Getenv("STITCH_DEBUG") != "" {
		t.Log(everything)
	}
}

func TestHealthInvalidSettingsNameTheField(t *testing.T) {
	settings := stackSettings()
	settings["logs"] = map[string]any{"kind": "elasticsearch", "url": theStack.VictoriaLogsURL()}
	res, err := grafana.CheckHealth(testContext(t), newInstance(t, settings, nil))
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	assert.Contains(t, res.Message, "logs.kind")
	assert.Contains(t, res.Message, "victorialogs or loki")
}
