package provisioning

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

func fp(v float64) *float64 { return &v }

func series(name string, labels data.Labels, vals ...*float64) *data.Frame {
	ts := make([]time.Time, len(vals))
	for i := range ts {
		ts[i] = time.Unix(int64(60*i), 0)
	}
	return data.NewFrame(name, data.NewField("time", nil, ts), data.NewField("value", labels, vals))
}

func TestReduceModes(t *testing.T) {
	s := []Series{{Values: []float64{1, math.NaN(), 5, 2}}}
	cases := []struct {
		reducer, mode string
		want          float64
	}{
		{"max", "dropNN", 5}, {"min", "dropNN", 1}, {"last", "dropNN", 2}, {"sum", "dropNN", 8},
		{"mean", "dropNN", 8.0 / 3}, {"count", "dropNN", 3}, {"count", "strict", 4},
		{"max", "replaceNN", 9}, {"max", "strict", math.NaN()},
	}
	for _, c := range cases {
		got, err := Reduce(s, c.reducer, c.mode, 9)
		if err != nil {
			t.Fatal(err)
		}
		if g := got[0].Value; !(g == c.want || math.IsNaN(g) && math.IsNaN(c.want)) {
			t.Errorf("%s/%s = %v, want %v", c.reducer, c.mode, g, c.want)
		}
	}
	empty, _ := Reduce([]Series{{}}, "max", "dropNN", 0)
	if !math.IsNaN(empty[0].Value) {
		t.Errorf("max of no points = %v, want NaN", empty[0].Value)
	}
	if _, err := Reduce(s, "median", "strict", 0); err == nil {
		t.Error("unknown reducer accepted")
	}
}

func TestThreshold(t *testing.T) {
	in := []Number{{Value: 1}, {Value: 5}, {Value: math.NaN()}}
	check := func(typ string, params []float64, want ...float64) {
		t.Helper()
		for i, n := range Threshold(in, typ, params) {
			if n.Value != want[i] {
				t.Errorf("%s %v on %v = %v, want %v", typ, params, in[i].Value, n.Value, want[i])
			}
		}
	}
	check("gt", []float64{2}, 0, 1, 0)
	check("lt", []float64{2}, 1, 0, 0)
	check("within_range", []float64{0, 2}, 1, 0, 0)
	check("outside_range", []float64{0, 2}, 0, 1, 0)
}

func rule(t *testing.T, yamlText string) AlertRule {
	t.Helper()
	f, err := ParseAlertRules([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	return f.Groups[0].Rules[0]
}

const p95Rule = `
apiVersion: 1
groups:
  - name: g
    folder: f
    interval: 1m
    rules:
      - uid: r
        title: r
        condition: C
        annotations: {summary: s, description: d, runbook_url: 'https://example.com/runbooks#r', __dashboardUid__: d1}
        data:
          - refId: A
            relativeTimeRange: {from: 900, to: 0}
            datasourceUid: ${STITCH_DATASOURCE_UID}
            model: {refId: A, queryType: sessionMetrics, metric: serverLatencyP95, groupBy: endpoint, intervalMs: 60000}
          - refId: B
            datasourceUid: __expr__
            model: {refId: B, type: reduce, expression: A, reducer: max, settings: {mode: dropNN}}
          - refId: C
            datasourceUid: __expr__
            model: {refId: C, type: threshold, expression: B, conditions: [{evaluator: {type: gt, params: [2000]}}]}
`

func TestEvaluateMultiDimensional(t *testing.T) {
	r := rule(t, p95Rule)
	ev, err := r.Evaluate(map[string]data.Frames{"A": {
		series("serverLatencyP95", data.Labels{"endpoint": "/v1/search"}, fp(100), nil, fp(3500)),
		series("serverLatencyP95", data.Labels{"endpoint": "/v1/orders"}, fp(300), fp(400)),
		series("serverLatencyP95", data.Labels{"endpoint": "/v1/idle"}, nil, nil),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.State != StateAlerting || strings.Join(ev.Firing(), ",") != `endpoint=/v1/search` {
		t.Errorf("got %s, firing %v; want only /v1/search", ev, ev.Firing())
	}
	if got := ev.Nodes["B"][0].Value; got != 3500 {
		t.Errorf("reduced %v, want 3500", got)
	}
	if iv := r.Data[0].Interval(); iv != time.Minute {
		t.Errorf("interval %v", iv)
	}
	from, to := r.Data[0].Window(time.Unix(1000, 0))
	if from != time.Unix(100, 0) || to != time.Unix(1000, 0) {
		t.Errorf("window %v..%v", from, to)
	}
}

func TestEvaluateQuietAndNoData(t *testing.T) {
	r := rule(t, p95Rule)
	ev, err := r.Evaluate(map[string]data.Frames{"A": {series("serverLatencyP95", data.Labels{"endpoint": "/v1/orders"}, fp(300))}})
	if err != nil || ev.State != StateNormal {
		t.Errorf("got %s, %v; want Normal", ev, err)
	}
	// The backend's "no data" answer: one empty series.
	ev, err = r.Evaluate(map[string]data.Frames{"A": {series("serverLatencyP95", nil)}})
	if err != nil || ev.State != StateNormal || len(ev.Firing()) != 0 {
		t.Errorf("empty series: got %s, %v; want Normal, nothing firing", ev, err)
	}
	ev, err = r.Evaluate(map[string]data.Frames{"A": nil})
	if err != nil || ev.State != StateNoData {
		t.Errorf("no frames: got %s, %v; want NoData", ev, err)
	}
	// A table is not a time series: errorCascades cannot feed a rule.
	table := data.NewFrame("cascades", data.NewField("count", nil, []int64{3}))
	if _, err := r.Evaluate(map[string]data.Frames{"A": {table}}); err == nil {
		t.Error("a table without a time field was evaluated")
	}
}

func TestValidateRejects(t *testing.T) {
	bad := map[string]string{
		"unknown metric":      strings.Replace(p95Rule, "serverLatencyP95", "p95", 1),
		"unknown queryType":   strings.Replace(p95Rule, "queryType: sessionMetrics", "queryType: cascadeCount", 1),
		"other datasource":    strings.Replace(p95Rule, "datasourceUid: ${STITCH_DATASOURCE_UID}", "datasourceUid: prometheus", 1),
		"pinned uid":          strings.Replace(p95Rule, "datasourceUid: ${STITCH_DATASOURCE_UID}", "datasourceUid: stitch", 1),
		"relative runbook":    strings.Replace(p95Rule, "'https://example.com/runbooks#r'", "/d/x/y", 1),
		"templated runbook":   strings.Replace(p95Rule, "'https://example.com/runbooks#r'", "'https://example.com/?e={{ $labels.endpoint }}'", 1),
		"no dashboard":        strings.Replace(p95Rule, "__dashboardUid__: d1", "x: d1", 1),
		"condition missing":   strings.Replace(p95Rule, "condition: C", "condition: D", 1),
		"math expression":     strings.Replace(p95Rule, "type: threshold", "type: math", 1),
		"no runbook":          strings.Replace(p95Rule, "runbook_url:", "x:", 1),
		"bad interval":        strings.Replace(p95Rule, "interval: 1m", "interval: 15s", 1),
		"empty time range":    strings.Replace(p95Rule, "from: 900", "from: 0", 1),
		"template variable":   strings.Replace(p95Rule, "groupBy: endpoint", "groupBy: $dim", 1),
		"input not earlier":   strings.Replace(p95Rule, "expression: B,", "expression: C,", 1),
		"unknown reduce mode": strings.Replace(p95Rule, "mode: dropNN", "mode: fancy", 1),
	}
	for name, text := range bad {
		f, err := ParseAlertRules([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(f.Validate()) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	f, _ := ParseAlertRules([]byte(p95Rule))
	if errs := f.Validate(); len(errs) != 0 {
		t.Errorf("valid rule rejected: %v", errs)
	}
}

func TestDashboardValidateRejects(t *testing.T) {
	base := `{"__inputs":[{"name":"DS_STITCH","type":"datasource","pluginId":"stitch-sessions-datasource"}],"uid":"u","title":"t","schemaVersion":39,
	"templating":{"list":[{"name":"datasource","type":"datasource","query":"stitch-sessions-datasource"},{"name":"session","type":"query","datasource":{"type":"stitch-sessions-datasource","uid":"${datasource}"},"query":{"attribute":"sessionId"}}]},
	"panels":[{"id":1,"type":"table","title":"p","datasource":{"type":"stitch-sessions-datasource","uid":"${datasource}"},"targets":[{"refId":"A","queryType":"sessionTimeline","sessionId":"$session"}]}]}`
	d, err := ParseDashboard([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if errs := d.Validate(); len(errs) != 0 {
		t.Fatalf("valid dashboard rejected: %v", errs)
	}
	for name, repl := range map[string][2]string{
		"old schema":         {`"schemaVersion":39`, `"schemaVersion":16`},
		"foreign datasource": {`"uid":"${datasource}"},"targets"`, `"uid":"prom"},"targets"`},
		"pinned uid":         {`"uid":"${datasource}"},"targets"`, `"uid":"stitch"},"targets"`},
		"no import input":    {`"name":"DS_STITCH"`, `"name":"DS_OTHER"`},
		"no ds variable":     {`{"name":"datasource","type":"datasource","query":"stitch-sessions-datasource"},`, ``},
		"ds variable type":   {`"query":"stitch-sessions-datasource"}`, `"query":"prometheus"}`},
		"unknown queryType":  {`"queryType":"sessionTimeline"`, `"queryType":"sessionTimelines"`},
		"undefined variable": {`"sessionId":"$session"`, `"sessionId":"$sess"`},
		"unknown attribute":  {`"attribute":"sessionId"`, `"attribute":"userId"`},
		"no panel id":        {`"id":1,`, ``},
	} {
		d, err := ParseDashboard([]byte(strings.Replace(base, repl[0], repl[1], 1)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(d.Validate()) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	dup, _ := ParseDashboard([]byte(strings.Replace(base, `"panels":[`, `"panels":[{"id":1,"type":"text","title":"x"},`, 1)))
	if len(dup.Validate()) == 0 {
		t.Error("duplicate panel id accepted")
	}
}

func TestSubstitute(t *testing.T) {
	m := map[string]any{"sessionId": "$session", "endpoint": "${endpoint}", "x": []any{"[[session]]", "${session:raw}"}, "n": 3.0}
	got := Substitute(m, map[string]string{"session": "abc", "endpoint": "/v1/search"})
	if got["sessionId"] != "abc" || got["endpoint"] != "/v1/search" || got["x"].([]any)[0] != "abc" || got["x"].([]any)[1] != "abc" || got["n"] != 3.0 {
		t.Errorf("got %v", got)
	}
	if m["sessionId"] != "$session" {
		t.Error("Substitute changed its input")
	}
	if v := VariablesIn(m); strings.Join(v, ",") != "endpoint,session" {
		t.Errorf("VariablesIn = %v", v)
	}
}
