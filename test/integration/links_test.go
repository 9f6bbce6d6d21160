//go:build integration

package integration

import (
	"encoding/json"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
)

// fieldLinks are a frame field's data links as Grafana receives them over
// gRPC (field config travels in the Arrow schema's metadata).
func fieldLinks(t *testing.T, f *data.Frame, field string) []map[string]any {
	t.Helper()
	fl := column(t, f, field)
	require.NotNil(t, fl.Config, "%s.%s has no config", f.Name, field)
	raw, err := json.Marshal(fl.Config.Links)
	require.NoError(t, err)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// The links a user clicks, as they come back over gRPC from a data source
// whose stores have Grafana data sources chosen for links: each span opens
// its own trace in the trace store's data source and its logs in the log
// store's, log lines open their trace and their session, and session rows
// open the timeline and the session-detail dashboard.
func TestFramesCarryLinksToTheStoresDataSources(t *testing.T) {
	gt := sharedWorld(t)
	settings := stackSettings()
	settings["traces"].(map[string]any)["linkDatasourceUid"] = "jaeger-ds"
	settings["logs"].(map[string]any)["linkDatasourceUid"] = "victorialogs-ds"
	inst := newInstance(t, settings, nil)
	sid := gt.Faults.Cascade.Sessions[0]

	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessionTimeline", "sessionId": sid}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)

	w := frameByName(r.Frames, "waterfall")
	require.NotNil(t, w)
	traceLinks := fieldLinks(t, w, "traceID")
	require.Len(t, traceLinks, 1)
	assert.Equal(t, "Open trace in Jaeger", traceLinks[0]["title"])
	assert.Equal(t, map[string]any{"datasourceUid": "jaeger-ds", "query": map[string]any{"queryType": "", "query": "${__value.raw}"}}, traceLinks[0]["internal"])
	spanLinks := fieldLinks(t, w, "spanID")
	require.Len(t, spanLinks, 1)
	assert.Equal(t, map[string]any{"datasourceUid": "victorialogs-ds", "query": map[string]any{"expr": `trace_id:="${__data.fields.traceID}" span_id:="${__value.raw}"`}}, spanLinks[0]["internal"])

	// The waterfall's rows carry the real trace IDs the links need: every
	// backend trace of the session's requests is among them.
	traceIDs := map[string]bool{}
	ids := column(t, w, "traceID")
	for i := 0; i < w.Rows(); i++ {
		traceIDs[ids.At(i).(string)] = true
	}
	n := 0
	for _, req := range gt.Requests {
		for _, at := range req.Attempts {
			if req.SessionID == sid && at.Propagation == demoworld.PropagationPropagated && at.BackendTraceID != "" {
				assert.True(t, traceIDs[at.BackendTraceID], "trace %s of the session is a row's trace ID", at.BackendTraceID)
				n++
			}
		}
	}
	assert.Positive(t, n)

	logs := frameByName(r.Frames, "logs")
	require.NotNil(t, logs)
	logLinks := fieldLinks(t, logs, "traceId")
	require.Len(t, logLinks, 2)
	assert.Equal(t, map[string]any{"datasourceUid": inst.UID, "query": map[string]any{"queryType": "sessionTimeline", "sessionId": sid}}, logLinks[1]["internal"])

	res, err = grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName, "limit": 5}))
	require.NoError(t, err)
	sessions := frameByName(res.Responses["A"].Frames, "sessions")
	require.NotNil(t, sessions)
	sl := fieldLinks(t, sessions, "sessionId")
	require.Len(t, sl, 2)
	assert.Equal(t, "/d/stitch-session-detail/stitch-session-detail?var-session=${__value.raw}&var-datasource="+inst.UID+"&${__url_time_range}", sl[1]["url"])
}

// exemplarSessions goes from the request-duration histogram's exemplars in
// Prometheus (written by the collector's span metrics) through their traces
// to sessions: every session it returns truly made a request to the
// endpoint, as the ground truth records.
func TestExemplarSessionsAreSessionsThatCalledTheEndpoint(t *testing.T) {
	gt := sharedWorld(t)
	slow := gt.Request(gt.Faults.SlowEndpoint.Requests[0])
	require.NotNil(t, slow)
	called := map[string]bool{}
	for _, r := range gt.Requests {
		if r.URLTemplate == slow.URLTemplate {
			called[r.SessionID] = true
		}
	}
	inst := newInstance(t, stackSettings(), nil)
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{
		"queryType": "exemplarSessions", "endpoint": slow.URLTemplate, "minDurationMs": 1000,
	}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "sessions")
	require.NotNil(t, f)
	require.Positive(t, f.Rows(), "the slow endpoint's exemplars lead to sessions; notices: %s", noticesOf(r.Frames))
	ids := column(t, f, "sessionId")
	for i := 0; i < f.Rows(); i++ {
		sid := ids.At(i).(string)
		// Another world in the same window may add its own sessions;
		// every session of this run must have called the endpoint.
		if gt.Session(sid) != nil {
			assert.True(t, called[sid], "session %s never called %s", sid, slow.URLTemplate)
		}
	}
	t.Logf("exemplarSessions %s: %d sessions; notices: %s", slow.URLTemplate, f.Rows(), noticesOf(r.Frames))
}
