//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
)

// The engine's ground-truth suite: one demo world sent to the real stack,
// then every query over gRPC checked against what the world recorded.

var (
	engineWorldOnce sync.Once
	engineWorld     *demoworld.GroundTruth
	otherWorld      *demoworld.GroundTruth
	engineWorldErr  error
)

// otherApp is the variant of the second world every run loads beside its
// own: another app of the same shape (its own app service, versions and
// app-facing hosts, the same backends and faults), as a real store always
// holds other apps' data.
const otherApp = "kiosk"

// sharedWorld runs one small world for all engine tests of this run, with a
// fresh seed so its IDs never collide with data already in a reused stack.
// A second, different world (otherWorld: another seed, another app) is
// sent into the same time window before any assertion, so every test
// proves it finds its own world among others' data.
func sharedWorld(t testing.TB) *demoworld.GroundTruth {
	t.Helper()
	engineWorldOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		seed := time.Now().UnixNano() % 1_000_000_000
		fmt.Printf("engine world: seed %d\n", seed)
		gt, err := demoworld.Run(ctx, demoworld.Config{Seed: seed, Sessions: 16}, worldTargets(), os.Stdout)
		if err != nil {
			engineWorldErr = err
			return
		}
		// The other app's world is sent while this one's arrival is proven.
		var (
			other    *demoworld.GroundTruth
			otherErr error
			sent     = make(chan struct{})
			otherOut pluginharness.SyncBuffer
		)
		go func() {
			defer close(sent)
			other, otherErr = demoworld.Run(ctx, demoworld.Config{Seed: seed + 1, Sessions: 8, Variant: otherApp}, worldTargets(), &otherOut)
			if otherErr == nil {
				_, otherErr = demoworld.ProveArrival(ctx, other, worldTargets(), &otherOut)
			}
		}()
		_, err = demoworld.ProveArrival(ctx, gt, worldTargets(), os.Stdout)
		<-sent
		if err != nil {
			engineWorldErr = fmt.Errorf("proof of arrival: %w", err)
			return
		}
		if otherErr != nil {
			engineWorldErr = fmt.Errorf("the other app's world: %w\n%s", otherErr, otherOut.String())
			return
		}
		fmt.Printf("other app's world: %s, seed %d, %d sessions, app %s, sent into the same window\n",
			other.Run.ID, other.Seed, len(other.Sessions), other.App.ServiceName)
		engineWorld, otherWorld = gt, other
	})
	require.NoError(t, engineWorldErr)
	return engineWorld
}

// worldRange covers the run with room for device clock skew (≤ 5 min).
func worldRange(gt *demoworld.GroundTruth) (time.Time, time.Time) {
	return gt.Run.Started.Add(-10 * time.Minute), gt.Run.Finished.Add(10 * time.Minute)
}

func worldQuery(t testing.TB, gt *demoworld.GroundTruth, model map[string]any) backend.DataQuery {
	from, to := worldRange(gt)
	q, err := pluginharness.Query("A", model, from, to)
	require.NoError(t, err)
	return q
}

func column(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	fl, _ := f.FieldByName(name)
	require.NotNil(t, fl, "frame %s has column %s", f.Name, name)
	return fl
}

// linkStats counts client-request → backend-trace links for recall/precision.
type linkStats struct {
	mu                            sync.Mutex
	expected, found, wrong, extra int
}

func TestSessionTimelineMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	checkTimelines(t, gt, newInstance(t, stackSettings(), nil))
}

// checkTimelines checks every session's timeline against the ground truth,
// through the stores inst is configured with.
func checkTimelines(t *testing.T, gt *demoworld.GroundTruth, inst pluginharness.Instance) {
	ctx := testContext(t)
	var links linkStats
	checked := 0

	for _, sess := range gt.Sessions {
		var reqs []*demoworld.RequestTruth
		for _, r := range gt.Requests {
			if r.SessionID == sess.ID {
				reqs = append(reqs, r)
			}
		}
		t.Run(sess.ID, func(t *testing.T) {
			res, err := grafana.QueryData(ctx, inst, worldQuery(t, gt, map[string]any{"queryType": "sessionTimeline", "sessionId": sess.ID}))
			require.NoError(t, err)
			r := res.Responses["A"]
			require.NoError(t, r.Error)
			tl, wf, logs := frameByName(r.Frames, "timeline"), frameByName(r.Frames, "waterfall"), frameByName(r.Frames, "logs")
			require.NotNil(t, tl)
			require.NotNil(t, wf)
			require.NotNil(t, logs)

			// Index what came back.
			clientRows := map[string]int{} // client span ID → timeline row
			layer, spanID, traceIDs, body := column(t, tl, "layer"), column(t, tl, "spanId"), column(t, tl, "traceId"), column(t, tl, "body")
			for i := 0; i < tl.Rows(); i++ {
				if layer.At(i) == "client" {
					clientRows[spanID.At(i).(string)] = i
				}
			}
			parentOf, wfTrace := map[string]string{}, map[string]string{}
			wfSpan, wfParent, wfTags := column(t, wf, "spanID"), column(t, wf, "parentSpanID"), column(t, wf, "tags")
			for i := 0; i < wf.Rows(); i++ {
				parentOf[wfSpan.At(i).(string)] = wfParent.At(i).(string)
				var tags []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				}
				require.NoError(t, json.Unmarshal(wfTags.At(i).(json.RawMessage), &tags))
				for _, tg := range tags {
					if tg.Key == "trace.id" {
						wfTrace[wfSpan.At(i).(string)] = tg.Value.(string)
					}
				}
			}
			logTraces := map[string]int{}
			logTrace := column(t, logs, "traceId")
			for i := 0; i < logs.Rows(); i++ {
				logTraces[logTrace.At(i).(string)]++
			}

			expectedClients := map[string]bool{}
			for _, req := range reqs {
				for _, at := range req.Attempts {
					if !at.Exported {
						continue
					}
					expectedClients[at.ClientSpanID] = true
					row, ok := clientRows[at.ClientSpanID]
					if !assert.True(t, ok, "request %s attempt %s: client span in the timeline", req.ID, at.ClientSpanID) {
						continue
					}
					assert.Equal(t, req.TraceID, traceIDs.At(row))
					switch at.Propagation {
					case demoworld.PropagationPropagated:
						links.mu.Lock()
						links.expected++
						links.mu.Unlock()
						// Some backend span of the caused trace nests under the client span.
						nested := false
						for span, parent := range parentOf {
							if parent == at.ClientSpanID && wfTrace[span] == at.BackendTraceID {
								nested = true
							}
						}
						links.mu.Lock()
						if nested {
							links.found++
						}
						links.mu.Unlock()
						assert.True(t, nested, "request %s: backend trace %s nested under its client span", req.ID, at.BackendTraceID)
						assert.Empty(t, body.At(row), "a propagated request reports nothing missing")
					case demoworld.PropagationStripped:
						assert.Contains(t, body.At(row), "no backend trace", "stripped request %s says so", req.ID)
						assert.Contains(t, body.At(row), req.ServerAddress)
					case demoworld.PropagationSampledOut:
						assert.Contains(t, body.At(row), "sampled out", "sampled-out request %s says so", req.ID)
					}
				}
			}
			// Every log record of the session's traces is there: the
			// backends' and the app's own exported ones.
			want := map[string]int{}
			for _, l := range gt.BackendLogs {
				if l.SessionID == sess.ID && l.TraceID != "" {
					want[l.TraceID]++
				}
			}
			for _, l := range gt.DeviceLogs {
				if l.SessionID == sess.ID && l.TraceID != "" && l.Exported {
					want[l.TraceID]++
				}
			}
			for trace, n := range want {
				assert.Equal(t, n, logTraces[trace], "log records of trace %s", trace)
			}
			// Nothing from another session.
			for id := range clientRows {
				if !expectedClients[id] {
					links.mu.Lock()
					links.extra++
					links.mu.Unlock()
					t.Errorf("client span %s is not one of this session's requests", id)
				}
			}
			checked++
		})
	}
	precision := 1.0
	if links.found+links.extra > 0 {
		precision = float64(links.found) / float64(links.found+links.extra)
	}
	recall := 0.0
	if links.expected > 0 {
		recall = float64(links.found) / float64(links.expected)
	}
	t.Logf("LINKS: %d sessions, %d client→backend links expected, %d found: recall %.3f, precision %.3f",
		checked, links.expected, links.found, recall, precision)
	assert.Positive(t, links.expected)
}

func TestTraceToSessionFindsEveryBackendTrace(t *testing.T) {
	gt := sharedWorld(t)
	checkTraceToSession(t, gt, newInstance(t, stackSettings(), nil))
}

// checkTraceToSession finds the session of every propagated backend trace,
// through the stores inst is configured with.
func checkTraceToSession(t *testing.T, gt *demoworld.GroundTruth, inst pluginharness.Instance) {
	ctx := testContext(t)
	n := 0
	for _, req := range gt.Requests {
		for _, at := range req.Attempts {
			if at.Propagation != demoworld.PropagationPropagated || at.BackendTraceID == "" {
				continue
			}
			res, err := grafana.QueryData(ctx, inst, worldQuery(t, gt, map[string]any{"queryType": "traceToSession", "traceId": at.BackendTraceID}))
			require.NoError(t, err)
			f := frameByName(res.Responses["A"].Frames, "session")
			require.NotNil(t, f, "trace %s", at.BackendTraceID)
			require.Equal(t, 1, f.Rows(), "trace %s: %s", at.BackendTraceID, noticesOf(res.Responses["A"].Frames))
			assert.Equal(t, req.SessionID, column(t, f, "sessionId").At(0), "trace %s", at.BackendTraceID)
			n++
		}
	}
	t.Logf("traceToSession: %d backend traces, each found its session", n)
	assert.Positive(t, n)

	// A stripping host's trace carries no session: a notice says so.
	for _, id := range gt.Faults.StrippingHost.Requests {
		req := gt.Request(id)
		for _, at := range req.Attempts {
			if at.BackendTraceID == "" {
				continue
			}
			res, err := grafana.QueryData(ctx, inst, worldQuery(t, gt, map[string]any{"queryType": "traceToSession", "traceId": at.BackendTraceID}))
			require.NoError(t, err)
			f := frameByName(res.Responses["A"].Frames, "session")
			require.NotNil(t, f)
			assert.Equal(t, 0, f.Rows())
			assert.Contains(t, noticesOf(res.Responses["A"].Frames), "no session is recorded")
			return
		}
	}
}

func TestSessionsListMatchesGroundTruth(t *testing.T) {
	gt := sharedWorld(t)
	checkSessionsList(t, gt, newInstance(t, stackSettings(), nil))
}

// checkSessionsList checks the sessions list of the run's app (the
// appService filter) and a pushed-down version filter against the ground
// truth, through the stores inst is configured with.
func checkSessionsList(t *testing.T, gt *demoworld.GroundTruth, inst pluginharness.Instance) {
	res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName, "limit": 1000}))
	require.NoError(t, err)
	r := res.Responses["A"]
	require.NoError(t, r.Error)
	f := frameByName(r.Frames, "sessions")
	require.NotNil(t, f)
	// The log store counts every session: the list is never cut below
	// the limit, and its total is the store's.
	t.Logf("sessions listed: %d; notices: %s", f.Rows(), noticesOf(r.Frames))
	rows := map[string]int{}
	ids, apps := column(t, f, "sessionId"), column(t, f, "appService")
	for i := 0; i < f.Rows(); i++ {
		rows[ids.At(i).(string)] = i
		assert.Equal(t, gt.App.ServiceName, apps.At(i), "only the app asked for")
	}
	for _, s := range gt.Sessions {
		exported := false
		for _, req := range gt.Requests {
			for _, at := range req.Attempts {
				exported = exported || (req.SessionID == s.ID && at.Exported)
			}
		}
		if !exported {
			continue // nothing of it left the device
		}
		i, ok := rows[s.ID]
		if !assert.True(t, ok, "session %s listed", s.ID) {
			continue
		}
		assert.Equal(t, s.AppVersion, column(t, f, "appVersion").At(i), s.ID)
		assert.Equal(t, s.DeviceModel, column(t, f, "deviceModel").At(i), s.ID)
		assert.Equal(t, s.OSVersion, column(t, f, "osVersion").At(i), s.ID)
	}
	// Filters push down: one version of the app only.
	v := gt.Sessions[0].AppVersion
	res, err = grafana.QueryData(testContext(t), inst, worldQuery(t, gt, map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName, "appVersion": v}))
	require.NoError(t, err)
	f = frameByName(res.Responses["A"].Frames, "sessions")
	require.NotNil(t, f)
	require.Positive(t, f.Rows())
	for i := 0; i < f.Rows(); i++ {
		assert.Equal(t, v, column(t, f, "appVersion").At(i))
		assert.Equal(t, gt.App.ServiceName, column(t, f, "appService").At(i))
	}
}
