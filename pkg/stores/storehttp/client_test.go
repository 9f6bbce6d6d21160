package storehttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
)

func client(t *testing.T, url string, extra map[string]any, secure map[string]string) *Client {
	t.Helper()
	store := map[string]any{"kind": "prometheus", "url": url, "timeoutSeconds": 1}
	for k, v := range extra {
		store[k] = v
	}
	raw, _ := json.Marshal(map[string]any{"metrics": store})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw, DecryptedSecureJSONData: secure})
	require.NoError(t, err)
	c, err := New(s.Metrics)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// How each failure is classified: the store's HTTP status decides the error
// source (Grafana's SLOs count plugin errors against the plugin), and every
// message names the store.
func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		ctype      string
		body       string
		wantSource backend.ErrorSource
		wantMsg    string
	}{
		{"401", 401, "text/plain", "no", backend.ErrorSourceDownstream, "unauthorized"},
		{"403", 403, "text/plain", "no", backend.ErrorSourceDownstream, "forbidden"},
		{"404 html", 404, "text/html", "<html><body>nope</body></html>", backend.ErrorSourceDownstream, "HTML page"},
		{"400 with store message", 400, "application/json", `{"error":"bad LogsQL"}`, backend.ErrorSourceDownstream, "bad LogsQL"},
		{"500", 500, "text/plain", "boom\n\tinside", backend.ErrorSourceDownstream, "boom inside"},
		{"503 empty", 503, "text/plain", "", backend.ErrorSourceDownstream, "(empty body)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			})
			_, err := client(t, url, nil, nil).Get(context.Background(), "/api/v1/query", nil, "")
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, c.status, se.StatusCode)
			assert.Equal(t, c.wantSource, se.ErrorSource())
			assert.Contains(t, err.Error(), c.wantMsg)
			assert.Contains(t, err.Error(), "metrics store (prometheus at 127.0.0.1:")
			assert.Contains(t, err.Error(), fmt.Sprintf("answered %d", c.status))
		})
	}
}

func TestHTMLWith200IsNotTheAPI(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!DOCTYPE html><html><head></head><body>Sign in</body></html>")
	})
	var out map[string]any
	err := client(t, url, nil, nil).GetJSON(context.Background(), "/api/v1/query", nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "an HTML page instead of Prometheus' HTTP API JSON")
}

func TestGarbageIsNotTheAPI(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "\x00\x01garbage") })
	var out map[string]any
	err := client(t, url, nil, nil).GetJSON(context.Background(), "/x", nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not Prometheus' HTTP API JSON")
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = client(t, "http://"+addr, nil, nil).Get(context.Background(), "/x", nil, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
}

func TestSlowStoreTimesOut(t *testing.T) {
	release := make(chan struct{})
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	_, err := client(t, url, nil, nil).Get(context.Background(), "/x", nil, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 1s")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.True(t, se.TimedOut)
	assert.Less(t, time.Since(start), 10*time.Second, "the store's timeout setting bounds the call")
}

func TestCancellationStopsTheCall(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := client(t, url, map[string]any{"timeoutSeconds": 30}, nil).Get(ctx, "/x", nil, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request cancelled")
}

func TestAuthAndTenantHeadersSent(t *testing.T) {
	got := make(chan http.Header, 1)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		fmt.Fprint(w, `{}`)
	})
	c := client(t, url, map[string]any{"auth": "bearer", "tenant": "team-7"}, map[string]string{"metricsBearerToken": "tok"})
	_, err := c.Get(context.Background(), "/x", nil, "")
	require.NoError(t, err)
	h := <-got
	assert.Equal(t, "Bearer tok", h.Get("Authorization"))
	assert.Equal(t, "team-7", h.Get("X-Scope-OrgID"))
}

func TestURLJoinsBasePath(t *testing.T) {
	c := client(t, "http://127.0.0.1:9/prefix/", nil, nil)
	assert.Equal(t, "http://127.0.0.1:9/prefix/api/v1/query?query=up", c.URL("/api/v1/query", map[string][]string{"query": {"up"}}))
}

// The SDK reads an error's source through its own ErrorWithSource type; a
// store error must be recognised by every SDK helper, also when the engine
// wrapped it, and still be found as an *Error.
func TestSDKSeesTheErrorSource(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr
	}()
	cases := []struct {
		name string
		url  string
		want backend.ErrorSource
	}{
		{"401", serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }), backend.ErrorSourceDownstream},
		{"500", serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }), backend.ErrorSourceDownstream},
		{"405 (a request Stitch should not send)", serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(405) }), backend.ErrorSourcePlugin},
		{"connection refused", refused, backend.ErrorSourceDownstream},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := client(t, c.url, nil, nil).Get(context.Background(), "/x", nil, "")
			require.Error(t, err)
			for name, e := range map[string]error{"bare": err, "wrapped": fmt.Errorf("trace search: %w", fmt.Errorf("outer: %w", err))} {
				assert.Equal(t, c.want == backend.ErrorSourceDownstream, backend.IsDownstreamError(e), name)
				assert.Equal(t, c.want == backend.ErrorSourcePlugin, backend.IsPluginError(e), name)
				assert.Equal(t, c.want, backend.ErrorResponseWithErrorSource(e).ErrorSource, name)
				var se *Error
				require.ErrorAs(t, e, &se, name)
				assert.Equal(t, c.want, se.ErrorSource(), name)
			}
		})
	}
}

// A store that echoes the request's credentials in its error body never gets
// them into the message.
func TestErrorNeverCarriesTheSecret(t *testing.T) {
	const secret = "canary-secret-0042"
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprintf(w, "bad request, headers: Authorization=%s", r.Header.Get("Authorization"))
	})
	c := client(t, url, map[string]any{"auth": "bearer"}, map[string]string{"metricsBearerToken": secret})
	_, err := c.Get(context.Background(), "/x", nil, "")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "Authorization=Bearer [redacted]")
}
