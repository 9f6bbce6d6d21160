package tempo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// tempoDouble is a test double of Tempo's HTTP API (Tempo cannot run here):
// it answers /api/echo and /api/search in the documented formats, and 400 for
// any request shape the docs don't describe, so a drifting adapter fails.
func tempoDouble(t *testing.T, now time.Time) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Scope-OrgID") != "tenant-1" {
			http.Error(w, "no org id", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/echo":
			fmt.Fprint(w, "echo")
		case "/api/search":
			q := r.URL.Query()
			start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
			end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
			limit, err3 := strconv.Atoi(q.Get("limit"))
			// Tempo: start/end in unix seconds, search window at most 168h.
			if q.Get("q") == "" || err1 != nil || err2 != nil || err3 != nil || end < start || end-start > 168*3600 || end > now.Unix()+1 || limit < 1 {
				http.Error(w, "invalid search request", http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"traces": []any{}, "metrics": map[string]any{"inspectedBytes": "0"}})
		default:
			http.Error(w, "404 page not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newStore(t *testing.T, url string) *Store {
	raw, _ := json.Marshal(map[string]any{"traces": map[string]any{"kind": "tempo", "url": url, "tenant": "tenant-1"}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Traces)
	require.NoError(t, err)
	return New(c)
}

func TestCheckHealthAgainstTempoDouble(t *testing.T) {
	now := time.Now()
	st := newStore(t, tempoDouble(t, now).URL)
	st.now = func() time.Time { return now }
	detail, err := st.CheckHealth(context.Background())
	require.NoError(t, err)
	assert.Contains(t, detail, "TraceQL search ok")
}

func TestCheckHealthNotTempo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"success"}`) }))
	defer srv.Close()
	_, err := newStore(t, srv.URL).CheckHealth(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "traces store (tempo at")
}
