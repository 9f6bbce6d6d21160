package provisioning

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// A small evaluator of the alert rule expression forms the bundled rules use
// — reduce (last, max, min, mean, sum, count; modes strict, dropNN,
// replaceNN) and threshold (gt, lt, within_range, outside_range) — following
// Grafana's server-side expressions: a reduce turns each series into one
// number, labels kept; a threshold turns each number into 1 (condition met)
// or 0. NaN stands for "no value", as in Grafana.

// Reducers are the reduce functions this evaluator knows.
var Reducers = []string{"last", "max", "min", "mean", "sum", "count"}

// Series is one labelled time series.
type Series struct {
	Labels data.Labels
	Values []float64 // NaN for a null point
}

// Number is one labelled value (a reduced series, an alert instance).
type Number struct {
	Labels data.Labels
	Value  float64
}

// SeriesFromFrames reads time series from frames: every numeric field of a
// frame with a time field is one series, labelled with the field's labels
// (the data plane's timeseries-multi and timeseries-wide forms).
func SeriesFromFrames(frames data.Frames) ([]Series, error) {
	var out []Series
	for _, f := range frames {
		if f == nil || len(f.Fields) == 0 {
			continue
		}
		hasTime := false
		for _, fl := range f.Fields {
			if fl.Type().Time() {
				hasTime = true
			}
		}
		if !hasTime {
			return nil, fmt.Errorf("frame %q has no time field: not a time series", f.Name)
		}
		for _, fl := range f.Fields {
			if !fl.Type().Numeric() {
				continue
			}
			s := Series{Labels: fl.Labels, Values: make([]float64, fl.Len())}
			for i := range s.Values {
				v, err := fl.NullableFloatAt(i)
				if err != nil {
					return nil, err
				}
				if v == nil {
					s.Values[i] = math.NaN()
				} else {
					s.Values[i] = *v
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

type reduceMode struct {
	mode        string
	replaceWith float64
}

func reduceSettings(model map[string]any) (reduceMode, error) {
	m := reduceMode{mode: "strict"}
	settings, _ := model["settings"].(map[string]any)
	if s, _ := settings["mode"].(string); s != "" {
		m.mode = s
	}
	switch m.mode {
	case "strict", "dropNN":
	case "replaceNN":
		v, ok := toFloat(settings["replaceWithValue"])
		if !ok {
			return m, fmt.Errorf("reduce mode replaceNN needs settings.replaceWithValue")
		}
		m.replaceWith = v
	default:
		return m, fmt.Errorf("reduce mode %q is not strict, dropNN or replaceNN", m.mode)
	}
	return m, nil
}

// Reduce reduces each series to one number.
func Reduce(series []Series, reducer string, mode string, replaceWith float64) ([]Number, error) {
	if !slices.Contains(Reducers, reducer) {
		return nil, fmt.Errorf("unknown reducer %q", reducer)
	}
	out := make([]Number, 0, len(series))
	for _, s := range series {
		vals := make([]float64, 0, len(s.Values))
		nonNumber := false
		for _, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				switch mode {
				case "dropNN":
					continue
				case "replaceNN":
					v = replaceWith
				default:
					nonNumber = true
				}
			}
			vals = append(vals, v)
		}
		var r float64
		switch {
		case reducer == "count":
			r = float64(len(vals))
		case nonNumber:
			r = math.NaN()
		case reducer == "sum":
			for _, v := range vals {
				r += v
			}
		case len(vals) == 0:
			r = math.NaN()
		case reducer == "last":
			r = vals[len(vals)-1]
		case reducer == "max":
			r = slices.Max(vals)
		case reducer == "min":
			r = slices.Min(vals)
		case reducer == "mean":
			for _, v := range vals {
				r += v
			}
			r /= float64(len(vals))
		}
		out = append(out, Number{Labels: s.Labels, Value: r})
	}
	return out, nil
}

func thresholdSettings(model map[string]any) (string, []float64, error) {
	conds, _ := model["conditions"].([]any)
	if len(conds) != 1 {
		return "", nil, fmt.Errorf("threshold needs exactly one condition, has %d", len(conds))
	}
	c, _ := conds[0].(map[string]any)
	ev, _ := c["evaluator"].(map[string]any)
	typ, _ := ev["type"].(string)
	raw, _ := ev["params"].([]any)
	params := make([]float64, 0, len(raw))
	for _, p := range raw {
		v, ok := toFloat(p)
		if !ok {
			return "", nil, fmt.Errorf("threshold param %v is not a number", p)
		}
		params = append(params, v)
	}
	need := map[string]int{"gt": 1, "lt": 1, "within_range": 2, "outside_range": 2}
	n, ok := need[typ]
	if !ok {
		return "", nil, fmt.Errorf("threshold type %q is not gt, lt, within_range or outside_range", typ)
	}
	if len(params) < n {
		return "", nil, fmt.Errorf("threshold %s needs %d params, has %d", typ, n, len(params))
	}
	return typ, params[:n], nil
}

// Threshold is 1 where the number meets the condition, 0 elsewhere (NaN never does).
func Threshold(nums []Number, typ string, params []float64) []Number {
	out := make([]Number, len(nums))
	for i, n := range nums {
		v, met := n.Value, false
		switch typ {
		case "gt":
			met = v > params[0]
		case "lt":
			met = v < params[0]
		case "within_range":
			met = v > params[0] && v < params[1]
		case "outside_range":
			met = v < params[0] || v > params[1]
		}
		out[i] = Number{Labels: n.Labels, Value: 0}
		if met {
			out[i].Value = 1
		}
	}
	return out
}

// Alert states of an evaluation.
const (
	StateNormal   = "Normal"
	StateAlerting = "Alerting"
	StateNoData   = "NoData"
)

// Evaluation is a rule's result: the condition node's value per series.
type Evaluation struct {
	// State is Alerting when any instance's condition is non-zero, NoData
	// when the datasource queries returned no series, Normal otherwise.
	State     string
	Instances []Number
	// Nodes holds every expression node's numbers, by refId.
	Nodes map[string][]Number
}

// Firing lists the label sets of the firing instances.
func (e Evaluation) Firing() []string {
	var out []string
	for _, n := range e.Instances {
		if n.Value != 0 && !math.IsNaN(n.Value) {
			out = append(out, n.Labels.String())
		}
	}
	sort.Strings(out)
	return out
}

// Evaluate runs the rule's expression nodes, in order, on the frames its
// datasource queries returned (by refId).
func (r AlertRule) Evaluate(results map[string]data.Frames) (Evaluation, error) {
	ev := Evaluation{Nodes: map[string][]Number{}}
	series := map[string][]Series{}
	anySeries := false
	for _, d := range r.Data {
		if d.IsExpression() {
			continue
		}
		s, err := SeriesFromFrames(results[d.RefID])
		if err != nil {
			return ev, fmt.Errorf("node %s: %w", d.RefID, err)
		}
		series[d.RefID] = s
		anySeries = anySeries || len(s) > 0
	}
	for _, d := range r.Data {
		if !d.IsExpression() {
			continue
		}
		typ, _ := d.Model["type"].(string)
		input, _ := d.Model["expression"].(string)
		switch typ {
		case "reduce":
			in, ok := series[input]
			if !ok {
				return ev, fmt.Errorf("node %s: reduce needs a time series input, %q is not one", d.RefID, input)
			}
			m, err := reduceSettings(d.Model)
			if err != nil {
				return ev, fmt.Errorf("node %s: %w", d.RefID, err)
			}
			red, _ := d.Model["reducer"].(string)
			nums, err := Reduce(in, red, m.mode, m.replaceWith)
			if err != nil {
				return ev, fmt.Errorf("node %s: %w", d.RefID, err)
			}
			ev.Nodes[d.RefID] = nums
		case "threshold":
			in, ok := ev.Nodes[input]
			if !ok {
				return ev, fmt.Errorf("node %s: threshold needs a reduced input, %q is not one", d.RefID, input)
			}
			t, params, err := thresholdSettings(d.Model)
			if err != nil {
				return ev, fmt.Errorf("node %s: %w", d.RefID, err)
			}
			ev.Nodes[d.RefID] = Threshold(in, t, params)
		default:
			return ev, fmt.Errorf("node %s: expression type %q is not evaluated here", d.RefID, typ)
		}
	}
	cond, ok := ev.Nodes[r.Condition]
	if !ok {
		return ev, fmt.Errorf("condition %q is not an expression node", r.Condition)
	}
	ev.Instances = cond
	switch {
	case !anySeries:
		ev.State = StateNoData
	case len(ev.Firing()) > 0:
		ev.State = StateAlerting
	default:
		ev.State = StateNormal
	}
	return ev, nil
}

// String shows an evaluation for test logs.
func (e Evaluation) String() string {
	var parts []string
	for _, n := range e.Instances {
		parts = append(parts, fmt.Sprintf("%s=%g", n.Labels.String(), n.Value))
	}
	return e.State + " [" + strings.Join(parts, " ") + "]"
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	default:
		return 0, false
	}
}
