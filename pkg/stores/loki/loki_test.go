package loki

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

// lokiDouble is a test double of Loki's query_range API (Loki cannot run
// here): documented parameters in, documented streams body out, 400 for any
// other shape.
func lokiDouble(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
		_, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
		limit, err3 := strconv.Atoi(q.Get("limit"))
		if r.URL.Path != "/loki/api/v1/query_range" || q.Get("query") == "" || err1 != nil || err2 != nil || err3 != nil ||
			limit < 1 || limit > 5000 || (q.Get("direction") != "backward" && q.Get("direction") != "forward") {
			http.Error(w, "parse error", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "success",
			"data":   map[string]any{"resultType": "streams", "result": []any{}, "stats": map[string]any{}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckHealthAgainstLokiDouble(t *testing.T) {
	raw, _ := json.Marshal(map[string]any{"logs": map[string]any{"kind": "loki", "url": lokiDouble(t).URL}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	st := New(c)
	st.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	detail, err := st.CheckHealth(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "LogQL ok", detail)
}

func TestCheckHealthLokiError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "parse error at line 1, col 2: syntax error")
	}))
	defer srv.Close()
	raw, _ := json.Marshal(map[string]any{"logs": map[string]any{"kind": "loki", "url": srv.URL}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	_, err = New(c).CheckHealth(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "answered 400: parse error")
}
