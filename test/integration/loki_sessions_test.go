//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/loki"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/stores/victorialogs"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// The Loki session index against the VictoriaLogs one on the shared world:
// the Loki adapter's metric queries, answered by the Loki double from the
// same VictoriaLogs records, give the same totals, members and rows as
// VictoriaLogs' own stats by (session.id) — also when Loki's
// max_query_series makes the adapter split the session-ID space.

func logStoreClient(t *testing.T, kind, url string) *storehttp.Client {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"logs": storeJSON(kind, url)})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// sessionRowText is a row compared field by field (times as instants).
func sessionRowText(r stores.SessionRow) string {
	return fmt.Sprintf("%s first=%d last=%d records=%d errors=%d %s|%s|%s|%s|%s", r.SessionID, r.First.UnixNano(), r.Last.UnixNano(),
		r.Records, r.Errors, r.Service, r.Version, r.OSVersion, r.DeviceModel, r.NetworkType)
}

func sessionRowsText(rows []stores.SessionRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = sessionRowText(r)
	}
	return out
}

func TestLokiSessionIndexMatchesVictoriaLogs(t *testing.T) {
	gt := sharedWorld(t)
	ctx := testContext(t)
	from, to := worldRange(gt)
	vl := victorialogs.New(logStoreClient(t, "victorialogs", theStack.VictoriaLogsURL()))
	app := []telemetry.KV{{Key: schema.AttrServiceName, Value: gt.App.ServiceName}}
	base := stores.SessionQuery{Start: from, End: to, Match: app, Limit: 1000}

	all, err := vl.Sessions(ctx, base)
	require.NoError(t, err)
	require.GreaterOrEqual(t, all.Total, 4, "the world's sessions are indexed")
	// Values of the world to filter on.
	one := all.Rows[0]
	durations := make([]time.Duration, 0, len(all.Rows))
	var someIDs []string
	for i, r := range all.Rows {
		durations = append(durations, r.Last.Sub(r.First))
		if i%3 == 0 {
			someIDs = append(someIDs, r.SessionID)
		}
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	with := func(f func(q *stores.SessionQuery)) stores.SessionQuery { q := base; f(&q); return q }
	cases := []struct {
		name string
		q    stores.SessionQuery
	}{
		{"the app's sessions", base},
		{"every app", with(func(q *stores.SessionQuery) {
			q.Match = nil
			q.Start, q.End = gt.Run.Started.Add(-time.Minute), gt.Run.Finished.Add(time.Minute)
		})},
		{"errors only", with(func(q *stores.SessionQuery) { q.ErrorsOnly = true })},
		{"a resource filter", with(func(q *stores.SessionQuery) {
			q.Match = append(q.Match, telemetry.KV{Key: schema.AttrServiceVersion, Value: one.Version}, telemetry.KV{Key: schema.AttrDeviceModelIdentifier, Value: one.DeviceModel})
		})},
		{"a record-level filter", with(func(q *stores.SessionQuery) {
			q.RecordMatch = []telemetry.KV{{Key: schema.AttrNetworkConnectionType, Value: one.NetworkType}}
		})},
		{"by errors", with(func(q *stores.SessionQuery) { q.Order = stores.OrderByErrors })},
		{"by errors, cut", with(func(q *stores.SessionQuery) { q.Order = stores.OrderByErrors; q.Limit = 3 })},
		{"by duration", with(func(q *stores.SessionQuery) { q.Order = stores.OrderByDuration })},
		{"by duration, cut", with(func(q *stores.SessionQuery) { q.Order = stores.OrderByDuration; q.Limit = 4 })},
		// Halfway between two sessions' durations: VictoriaLogs subtracts
		// timestamps in float64 (256 ns apart at today's epoch), so a
		// minimum equal to a session's duration is not decided alike.
		{"min duration", with(func(q *stores.SessionQuery) {
			k := len(durations) / 2
			for k+1 < len(durations) && durations[k+1]-durations[k] < time.Millisecond {
				k++
			}
			q.MinDuration = (durations[k] + durations[min(k+1, len(durations)-1)]) / 2
		})},
		{"by start, cut", with(func(q *stores.SessionQuery) { q.Limit = 5 })},
		{"given sessions", with(func(q *stores.SessionQuery) { q.Sessions = someIDs; q.Limit = 2 })},
	}
	for _, maxSeries := range []int{lokiMaxSeries, 3} {
		t.Run(fmt.Sprintf("max_query_series=%d", maxSeries), func(t *testing.T) {
			d := newLokiDouble(t, theStack.VictoriaLogsURL())
			d.maxSeries = maxSeries
			t.Cleanup(func() { d.check(t) })
			lk := loki.New(logStoreClient(t, "loki", d.URL))
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// The stack is live (other worlds may arrive while the
					// two adapters are asked): an attempt counts when
					// VictoriaLogs answered the same before and after Loki.
					for attempt := 1; ; attempt++ {
						want, err := vl.Sessions(ctx, c.q)
						require.NoError(t, err)
						got, err := lk.Sessions(ctx, c.q)
						require.NoError(t, err)
						again, err := vl.Sessions(ctx, c.q)
						require.NoError(t, err)
						stable := want.Total == again.Total && assert.ObjectsAreEqual(sessionRowsText(want.Rows), sessionRowsText(again.Rows))
						same := want.Total == got.Total && len(got.Warnings) == 0 && assert.ObjectsAreEqual(sessionRowsText(want.Rows), sessionRowsText(got.Rows))
						if (stable && same) || attempt == 3 {
							assert.True(t, stable, "VictoriaLogs' answer kept changing")
							assert.Empty(t, got.Warnings)
							assert.Equal(t, want.Total, got.Total, "total")
							assert.Equal(t, sessionRowsText(want.Rows), sessionRowsText(got.Rows), "rows, in order")
							t.Logf("%d sessions, %d rows (attempt %d)", got.Total, len(got.Rows), attempt)
							return
						}
						t.Logf("attempt %d: VictoriaLogs stable %v, same answer %v (total %d/%d, warnings %q); asking again", attempt, stable, same, want.Total, got.Total, got.Warnings)
						time.Sleep(2 * time.Second)
					}
				})
			}
			if maxSeries < all.Total {
				d.mu.Lock()
				refused := d.served["max_query_series refusal"]
				d.mu.Unlock()
				assert.Positive(t, refused, "Loki's max_query_series made the adapter split")
			}
		})
	}
}
