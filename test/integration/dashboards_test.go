//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/pkg/provisioning"
)

// The bundled dashboards and alert rules, run against the demo world over
// gRPC: every panel query and every rule query, as the files store them.

func repoFile(t *testing.T, parts ...string) string {
	t.Helper()
	root, err := pluginharness.ModuleRoot()
	require.NoError(t, err)
	return filepath.Join(append([]string{root}, parts...)...)
}

// worldVariables gives the dashboards' template variables values from the
// demo world: the error-cascade session and the seeded slow endpoint.
func worldVariables(t *testing.T, gt *demoworld.GroundTruth) map[string]string {
	t.Helper()
	require.NotEmpty(t, gt.Faults.Cascade.Sessions)
	require.NotEmpty(t, gt.Faults.SlowEndpoint.Requests)
	slow := gt.Request(gt.Faults.SlowEndpoint.Requests[0])
	require.NotNil(t, slow)
	// The data source variable names the instance under test (any uid works).
	return map[string]string{"session": gt.Faults.Cascade.Sessions[0], "endpoint": slow.URLTemplate, provisioning.DatasourceVariable: "stitch-under-test"}
}

// keptFrames applies a panel's filterFieldsByName transformations (include
// names or pattern) to frames as Grafana does: fields not matched go, and
// frames left without fields go.
func keptFrames(t *testing.T, p provisioning.Panel, frames data.Frames, vars map[string]string) data.Frames {
	t.Helper()
	for _, raw := range p.Transformations {
		tr := map[string]any{}
		require.NoError(t, jsonUnmarshal(raw, &tr))
		if tr["id"] != "filterFieldsByName" {
			continue
		}
		opts, _ := tr["options"].(map[string]any)
		inc, _ := opts["include"].(map[string]any)
		var names []string
		for _, n := range asSlice(inc["names"]) {
			names = append(names, n.(string))
		}
		var re *regexp.Regexp
		if pat, _ := inc["pattern"].(string); pat != "" {
			pat = provisioning.Substitute(map[string]any{"p": pat}, map[string]string{"endpoint": regexp.QuoteMeta(vars["endpoint"])})["p"].(string)
			pat = strings.TrimSuffix(strings.TrimPrefix(pat, "/"), "/")
			re = regexp.MustCompile(pat)
		}
		var out data.Frames
		for _, f := range frames {
			var kept []*data.Field
			for _, fl := range f.Fields {
				name := fl.Name
				if fl.Config != nil && fl.Config.DisplayNameFromDS != "" {
					name = fl.Config.DisplayNameFromDS
				}
				if slices.Contains(names, name) || (re != nil && re.MatchString(name)) {
					kept = append(kept, fl)
				}
			}
			if len(kept) > 0 {
				out = append(out, data.NewFrame(f.Name, kept...))
			}
		}
		frames = out
	}
	return frames
}

func hasTime(f *data.Frame) bool {
	for _, fl := range f.Fields {
		if fl.Type().Time() {
			return true
		}
	}
	return false
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func numericRows(f *data.Frame) bool {
	hasTime, hasNum := false, false
	for _, fl := range f.Fields {
		hasTime = hasTime || fl.Type().Time()
		hasNum = hasNum || fl.Type().Numeric()
	}
	return hasTime && hasNum && f.Rows() > 0
}

func TestDashboardQueriesAnswerOnTheDemoWorld(t *testing.T) {
	gt := sharedWorld(t)
	vars := worldVariables(t, gt)
	inst := newInstance(t, stackSettings(), nil)
	for _, name := range []string{"stitch-overview", "stitch-session-detail", "stitch-endpoint"} {
		d, err := provisioning.LoadDashboard(repoFile(t, "src", "dashboards", name+".json"))
		require.NoError(t, err)
		require.Empty(t, d.Validate())
		panels := map[int]provisioning.Panel{}
		for _, p := range d.AllPanels() {
			panels[p.ID] = p
		}
		qs, err := d.StitchQueries()
		require.NoError(t, err)
		require.NotEmpty(t, qs)
		for _, pq := range qs {
			t.Run(fmt.Sprintf("%s/%d-%s/%s", name, pq.PanelID, pq.PanelTitle, pq.RefID), func(t *testing.T) {
				model := provisioning.Substitute(pq.Model, vars)
				require.Empty(t, provisioning.VariablesIn(model), "every variable substituted")
				res, err := grafana.QueryData(testContext(t), inst, worldQuery(t, gt, model))
				require.NoError(t, err)
				r := res.Responses["A"]
				require.NoError(t, r.Error)
				require.NotEmpty(t, r.Frames)
				qt := pq.QueryType()
				if qt == "sessionMetrics" {
					ok := false
					for _, f := range r.Frames {
						ok = ok || numericRows(f)
					}
					assert.True(t, ok, "a numeric time series with points")
				}
				for _, want := range provisioning.ExpectedFramesOf(model) {
					f := frameByName(r.Frames, want)
					if assert.NotNil(t, f, "frame %s", want) {
						assert.Positive(t, f.Rows(), "frame %s has rows", want)
					}
				}
				p := panels[pq.PanelID]
				if i, ok := p.Options["frameIndex"].(float64); ok {
					require.Greater(t, len(r.Frames), int(i))
					assert.Equal(t, "timeline", r.Frames[int(i)].Name, "the table shows the timeline frame")
					assert.Positive(t, r.Frames[int(i)].Rows())
				}
				if len(p.Transformations) > 0 {
					kept := keptFrames(t, p, r.Frames, vars)
					if p.Type == "timeseries" {
						// Other series keep only their time field: no numeric field, nothing drawn.
						var drawn []*data.Frame
						for _, f := range kept {
							if numericRows(f) {
								drawn = append(drawn, f)
							}
						}
						require.Len(t, drawn, 1, "the $endpoint series")
					} else {
						require.NotEmpty(t, kept, "the panel's transformations keep a frame")
						assert.Positive(t, kept[0].Rows())
						if p.Type == "logs" {
							// The timeline keeps its shared text columns but no time field: the logs panel
							// only reads frames with a time field.
							var timed []*data.Frame
							for _, f := range kept {
								if hasTime(f) {
									timed = append(timed, f)
								}
							}
							kept = timed
						}
						if p.Type == "traces" || p.Type == "logs" || p.Type == "table" {
							require.Len(t, kept, 1, "one frame for a %s panel, got %d", p.Type, len(kept))
						}
						if p.Type == "traces" {
							assert.Equal(t, "waterfall", kept[0].Name)
						}
						if p.Type == "logs" {
							assert.Equal(t, "logs", kept[0].Name)
						}
					}
				}
			})
		}
	}
}

// rangeQuery builds a rule's Stitch query for an evaluation at now, with the
// rule's relative window and bucket interval.
func rangeQuery(t *testing.T, q provisioning.AlertQuery, now time.Time) backend.DataQuery {
	from, to := q.Window(now)
	dq, err := pluginharness.Query(q.RefID, q.Model, from, to)
	require.NoError(t, err)
	dq.Interval = q.Interval()
	return dq
}

func evaluateRule(t *testing.T, inst pluginharness.Instance, r provisioning.AlertRule, now time.Time) provisioning.Evaluation {
	t.Helper()
	results := map[string]data.Frames{}
	for _, q := range r.Data {
		if q.IsExpression() {
			continue
		}
		res, err := grafana.QueryData(testContext(t), inst, rangeQuery(t, q, now))
		require.NoError(t, err)
		resp := res.Responses[q.RefID]
		require.NoError(t, resp.Error)
		results[q.RefID] = resp.Frames
	}
	ev, err := r.Evaluate(results)
	require.NoError(t, err)
	return ev
}

// Each rule fires when evaluated just after the demo world ran (its seeded
// faults in the window) and stays quiet on a window long before, with no
// traffic at all.
func TestAlertRulesFireOnTheDemoWorld(t *testing.T) {
	gt := sharedWorld(t)
	vars := worldVariables(t, gt)
	inst := newInstance(t, stackSettings(), nil)
	f, err := provisioning.LoadAlertRules(repoFile(t, "provisioning", "alerting", "stitch-rules.yml"))
	require.NoError(t, err)
	require.Empty(t, f.Validate())

	endpoints := map[string]bool{}
	for _, r := range gt.Requests {
		endpoints[r.URLTemplate] = true
	}
	faultTime := gt.Run.Finished.Add(time.Minute)
	quietTime := gt.Run.Started.Add(-30 * 24 * time.Hour)
	// The quiet window really has no sessions.
	res, err := grafana.QueryData(testContext(t), inst, mustRangeQuery(t, map[string]any{"queryType": "sessions"}, quietTime.Add(-time.Hour), quietTime))
	require.NoError(t, err)
	if s := frameByName(res.Responses["A"].Frames, "sessions"); s != nil {
		require.Zero(t, s.Rows(), "no sessions 30 days before the world")
	}

	for _, g := range f.Groups {
		for _, r := range g.Rules {
			t.Run(r.UID, func(t *testing.T) {
				ev := evaluateRule(t, inst, r, faultTime)
				t.Logf("demo world window: %s; reduced %v", ev, ev.Nodes)
				want := provisioning.StateAlerting
				if r.UID == "stitch-new-cascade-signature" && cascadeSeenBefore(t, inst, faultTime) {
					// The world's cascade is new only if the stack did not see
					// it in the 24 hours before (a reused stack may have).
					want = provisioning.StateNormal
				}
				assert.Equal(t, want, ev.State, "fires on the seeded faults (new cascade: unless seen before)")
				switch r.UID {
				case "stitch-endpoint-server-p95":
					// The rule covers every app in the window: of the
					// run's own endpoints, only the slow one fires.
					var own []string
					for _, f := range ev.Firing() {
						if endpoints[strings.TrimPrefix(f, "endpoint=")] {
							own = append(own, f)
						}
					}
					assert.Equal(t, []string{"endpoint=" + vars["endpoint"]}, own, "only the seeded slow endpoint fires")
				case "stitch-propagation-coverage":
					require.NotEmpty(t, gt.Faults.StrippingHost.Requests)
					stripped := gt.Request(gt.Faults.StrippingHost.Requests[0])
					require.NotNil(t, stripped)
					assert.Contains(t, ev.Firing(), "endpoint="+stripped.URLTemplate, "the endpoint behind the traceparent-stripping host fires")
				}
				quiet := evaluateRule(t, inst, r, quietTime)
				t.Logf("quiet window: %s", quiet)
				assert.NotEqual(t, provisioning.StateAlerting, quiet.State, "quiet without traffic")
			})
		}
	}
}

// cascadeSeenBefore tells whether every cascade signature of the rule's
// range (30 min before at) was already in the stack in the 24 hours before
// that range: then the rule has nothing new to fire on.
func cascadeSeenBefore(t *testing.T, inst pluginharness.Instance, at time.Time) bool {
	t.Helper()
	signatures := func(from, to time.Time) map[string]string {
		res, err := grafana.QueryData(testContext(t), inst, mustRangeQuery(t, map[string]any{"queryType": "errorCascades", "limit": 1000}, from, to))
		require.NoError(t, err)
		require.NoError(t, res.Responses["A"].Error)
		out := map[string]string{}
		if f := frameByName(res.Responses["A"].Frames, "cascades"); f != nil {
			sig, root := column(t, f, "signature"), column(t, f, "rootCause")
			for i := 0; i < f.Rows(); i++ {
				out[sig.At(i).(string)] = root.At(i).(string)
			}
		}
		return out
	}
	rangeFrom := at.Add(-30 * time.Minute)
	recent := signatures(rangeFrom, at)
	require.NotEmpty(t, recent, "the world's cascade is in the rule's range")
	before := signatures(rangeFrom.Add(-24*time.Hour), rangeFrom)
	for sig := range recent {
		if _, ok := before[sig]; !ok {
			return false // at least one signature is new
		}
	}
	return true
}

func mustRangeQuery(t *testing.T, model map[string]any, from, to time.Time) backend.DataQuery {
	q, err := pluginharness.Query("A", model, from, to)
	require.NoError(t, err)
	return q
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
