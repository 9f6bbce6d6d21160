package victorialogs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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

func testStore(t *testing.T, h http.HandlerFunc) *Store {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	js, _ := json.Marshal(map[string]any{"logs": map[string]any{"kind": "victorialogs", "url": srv.URL}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: js})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	return New(c)
}

func TestSessionPipeline(t *testing.T) {
	q := stores.SessionQuery{
		Match:       []telemetry.KV{{Key: "service.name", Value: "shop"}},
		RecordMatch: []telemetry.KV{{Key: "network.connection.type", Value: "wifi"}},
		ErrorsOnly:  true, MinDuration: 1500 * time.Millisecond,
	}
	assert.Equal(t, `"device.model.identifier":* AND "session.id":* AND "service.name":="shop"`+
		` | stats by ("session.id") min(_time) as first, max(_time) as last, count() as records, count() if ("error.type":*) as errors,`+
		` min("service.name") as service, min("service.version") as version, min("os.version") as os, min("device.model.identifier") as model,`+
		` min("network.connection.type") as network, count() if ("network.connection.type":="wifi") as matched`+
		` | math (last - first) as duration | filter matched:>0 | filter errors:>0 | filter duration:>=1500000000`,
		SessionPipeline(q, nil))
	with := SessionPipeline(stores.SessionQuery{}, []string{"0af7651916cd43dd8448eb211c80319c"})
	assert.Contains(t, with, `AND "session.id":in("0af7651916cd43dd8448eb211c80319c") | stats`)
}

func TestSessionPipelineKeepsHostileValuesInLiterals(t *testing.T) {
	for _, v := range hostile {
		p := SessionPipeline(stores.SessionQuery{Match: []telemetry.KV{{Key: "service.version", Value: v}}}, nil)
		i := strings.Index(p, `"service.version":=`)
		require.GreaterOrEqual(t, i, 0, p)
		got, rest := unquoteAt(t, p[i+len(`"service.version":=`):])
		assert.Equal(t, v, got)
		assert.True(t, strings.HasPrefix(rest, " | stats by ("), "the filter ends at its literal: %q", rest)
	}
}

func sessionLine(id string, first time.Time, errs, total int) string {
	return fmt.Sprintf(`{"session.id":%q,"first":%q,"last":%q,"records":"3","errors":"%d","service":"shop","version":"1.0","os":"17.5","model":"iPhone16,1","network":"wifi","duration":"1000000000","total":"%d"}`,
		id, first.Format(time.RFC3339Nano), first.Add(time.Second).Format(time.RFC3339Nano), errs, total)
}

// A restriction to many sessions goes in chunks: their totals add up and
// their pages merge into one page in the order asked.
func TestSessionsMergesChunksExactly(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var (
		mu      sync.Mutex
		queries []string
	)
	st := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		mu.Lock()
		queries = append(queries, q)
		chunk := len(queries)
		mu.Unlock()
		if !strings.Contains(q, "| total_stats count() as total | sort by (first desc") {
			http.Error(w, "unexpected query "+q, http.StatusBadRequest)
			return
		}
		// Each chunk answers its own two latest sessions and its total.
		for i := range 2 {
			fmt.Fprintln(w, sessionLine(fmt.Sprintf("%032x", chunk*10+i), t0.Add(time.Duration(chunk*10+i)*time.Minute), i, 150))
		}
	})
	ids := make([]string, 450)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1000)
	}
	page, err := st.Sessions(context.Background(), stores.SessionQuery{Sessions: ids, Limit: 3, Start: t0, End: t0.Add(time.Hour)})
	require.NoError(t, err)
	assert.Len(t, queries, 3, "3 chunks of at most 200 sessions, one query each")
	assert.Equal(t, 450, page.Total, "the chunks' counts add up")
	require.Len(t, page.Rows, 3)
	for i := 1; i < len(page.Rows); i++ {
		assert.True(t, page.Rows[i-1].First.After(page.Rows[i].First), "latest first")
	}
	assert.Equal(t, "shop", page.Rows[0].Service)
	assert.Equal(t, time.Second, page.Rows[0].Last.Sub(page.Rows[0].First))

	none, err := st.Sessions(context.Background(), stores.SessionQuery{Sessions: []string{}, Limit: 3})
	require.NoError(t, err)
	assert.Zero(t, none.Total, "no candidate sessions: nothing matches")
}

func TestSessionsRefusesAnswersThatAreNotSessionRows(t *testing.T) {
	for name, body := range map[string]string{
		"bad id":          `{"session.id":"x","first":"2026-11-25T10:00:00Z","last":"2026-11-25T10:00:00Z","records":"1","errors":"0","total":"1"}`,
		"bad time":        `{"session.id":"0af7651916cd43dd8448eb211c80319c","first":"yesterday","last":"2026-11-25T10:00:00Z","records":"1","errors":"0","total":"1"}`,
		"bad count":       `{"session.id":"0af7651916cd43dd8448eb211c80319c","first":"2026-11-25T10:00:00Z","last":"2026-11-25T10:00:00Z","records":"many","errors":"0","total":"1"}`,
		"no total":        `{"session.id":"0af7651916cd43dd8448eb211c80319c","first":"2026-11-25T10:00:00Z","last":"2026-11-25T10:00:00Z","records":"1","errors":"0"}`,
		"two totals":      sessionLine("0af7651916cd43dd8448eb211c80319c", time.Unix(0, 0), 0, 2) + "\n" + sessionLine("1af7651916cd43dd8448eb211c80319c", time.Unix(0, 0), 0, 3),
		"not JSON at all": `<html>login</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			st := testStore(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, body) })
			_, err := st.Sessions(context.Background(), stores.SessionQuery{Limit: 10})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "VictoriaLogs")
		})
	}
}

func TestSessionCountsScaleSampledSessions(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	var asked []string
	st := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		asked = append(asked, q)
		if strings.Contains(q, "count() as records") {
			fmt.Fprintln(w, `{"stitch.sampling.rate":"0.5","records":"10"}`)
			fmt.Fprintln(w, `{"stitch.sampling.rate":"1","records":"10"}`)
			return
		}
		fmt.Fprintln(w, `{"_time":"2026-11-25T10:01:30Z","sessions":"10","error_sessions":"4","s0":"6","e0":"2"}`)
	})
	got, err := st.SessionCounts(context.Background(), stores.SessionCountQuery{Start: t0, End: t0.Add(5 * time.Minute), Step: time.Minute})
	require.NoError(t, err)
	require.Len(t, asked, 2)
	assert.Contains(t, asked[1], "_time:60000ms offset 30000ms", "buckets start at the range's start")
	assert.Contains(t, asked[1], `rate:="0.5" AND "session.id":string_range("", "8000000000000000`)
	require.Len(t, got.Buckets, 1)
	assert.True(t, got.Weighted)
	assert.Equal(t, 16.0, got.Buckets[0].Sessions, "4 unsampled-rate sessions + 6 sampled at 1/2 count twice")
	assert.Equal(t, 6.0, got.Buckets[0].ErrorSessions)
}
