package frames

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linksOf renders a field's links as Grafana receives them.
func linksOf(t *testing.T, f *data.Frame, field string) []map[string]any {
	t.Helper()
	fl, _ := f.FieldByName(field)
	require.NotNil(t, fl, field)
	if fl.Config == nil {
		return nil
	}
	raw, err := json.Marshal(fl.Config.Links)
	require.NoError(t, err)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func internal(l map[string]any) (uid string, query map[string]any) {
	in, _ := l["internal"].(map[string]any)
	q, _ := in["query"].(map[string]any)
	u, _ := in["datasourceUid"].(string)
	return u, q
}

func TestLinksFollowTheConfiguredStoreKinds(t *testing.T) {
	tl := fixture(45 * time.Second)
	for _, c := range []struct {
		links              Links
		traceQuery         map[string]any
		spanLogsExpr       string
		traceTitle, logsTo string
	}{
		{
			links:        Links{Stitch: "stitch-a", Traces: Target{Kind: "tempo", UID: "tempo-1"}, Logs: Target{Kind: "loki", UID: "loki-1"}},
			traceQuery:   map[string]any{"queryType": "traceql", "query": "${__value.raw}"},
			spanLogsExpr: `{service_name=~".+"} | trace_id="${__data.fields.traceID}" | span_id="${__value.raw}"`,
			traceTitle:   "Open trace in Tempo", logsTo: "loki-1",
		},
		{
			links:        Links{Stitch: "stitch-a", Traces: Target{Kind: "jaeger", UID: "jaeger-1"}, Logs: Target{Kind: "victorialogs", UID: "vl-1"}},
			traceQuery:   map[string]any{"queryType": "", "query": "${__value.raw}"},
			spanLogsExpr: `trace_id:="${__data.fields.traceID}" span_id:="${__value.raw}"`,
			traceTitle:   "Open trace in Jaeger", logsTo: "vl-1",
		},
	} {
		t.Run(c.links.Traces.Kind+"+"+c.links.Logs.Kind, func(t *testing.T) {
			w := Waterfall(tl, c.links)
			traceLinks := linksOf(t, w, "traceID")
			require.Len(t, traceLinks, 1)
			assert.Equal(t, c.traceTitle, traceLinks[0]["title"])
			uid, q := internal(traceLinks[0])
			assert.Equal(t, c.links.Traces.UID, uid)
			assert.Equal(t, c.traceQuery, q)

			spanLinks := linksOf(t, w, "spanID")
			require.Len(t, spanLinks, 1)
			uid, q = internal(spanLinks[0])
			assert.Equal(t, c.logsTo, uid)
			assert.Equal(t, c.spanLogsExpr, q["expr"])

			// The timeline table: trace → trace and its logs; span → its logs.
			tt := Timeline(tl, c.links)
			assert.Len(t, linksOf(t, tt, "traceId"), 2)
			sl := linksOf(t, tt, "spanId")
			require.Len(t, sl, 1)
			_, q = internal(sl[0])
			assert.Contains(t, q["expr"], "${__data.fields.traceId}", "the timeline's own column name")

			// A log line: its trace, and the session's timeline in Stitch.
			ll := linksOf(t, Logs(tl, c.links), "traceId")
			require.Len(t, ll, 2)
			uid, q = internal(ll[1])
			assert.Equal(t, "stitch-a", uid)
			assert.Equal(t, map[string]any{"queryType": "sessionTimeline", "sessionId": sid}, q)
		})
	}
}

func TestNoStoreLinksUnlessConfigured(t *testing.T) {
	tl := fixture(0)
	l := Links{Stitch: "stitch-a", Traces: Target{Kind: "tempo"}, Logs: Target{Kind: "loki"}}
	w := Waterfall(tl, l)
	assert.Empty(t, linksOf(t, w, "traceID"), "no data source chosen: no link")
	assert.Empty(t, linksOf(t, w, "spanID"))
	ll := linksOf(t, Logs(tl, l), "traceId")
	require.Len(t, ll, 1, "only the way back to the session")
	assert.Equal(t, "Open session timeline", ll[0]["title"])
}

func TestSessionRowsLinkToTheirTimelineAndDashboard(t *testing.T) {
	f := Sessions("sessions", nil, Links{Stitch: "stitch-a"})
	ls := linksOf(t, f, "sessionId")
	require.Len(t, ls, 2)
	uid, q := internal(ls[0])
	assert.Equal(t, "stitch-a", uid)
	assert.Equal(t, "${__value.raw}", q["sessionId"])
	assert.Equal(t, "/d/stitch-session-detail/stitch-session-detail?var-session=${__value.raw}&var-datasource=stitch-a&${__url_time_range}", ls[1]["url"])
}
