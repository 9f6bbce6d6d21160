package provisioning

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
)

// The contract's names, from the packages that define them.
var (
	QueryTypes        = query.Types
	GroupByAttributes = correlation.GroupDimensions
	SessionMetrics    = correlation.Metrics
)

// ExpectedFrames are the frames each query type answers with; sessionMetrics
// answers one numeric frame per series (names vary), so it has none here.
var ExpectedFrames = map[string][]string{
	"sessions":          {"sessions"},
	"sessionTimeline":   {"timeline", "waterfall", "logs"},
	"traceToSession":    {"session"},
	"latencyBreakdown":  {"latency"},
	"errorCascades":     {"cascades"},
	"propagationHealth": {"propagationByHost", "propagationByService"},
}

// ExpectedFramesOf is the frames a query model answers with: a
// sessionTimeline's chosen frames, else ExpectedFrames of its type.
func ExpectedFramesOf(model map[string]any) []string {
	qt, _ := model["queryType"].(string)
	if fs, ok := model["frames"].([]any); ok && qt == "sessionTimeline" && len(fs) > 0 {
		var out []string
		for _, f := range fs {
			if s, ok := f.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return ExpectedFrames[qt]
}

// ValidateQuery checks a Stitch query model as a bundled file stores it: a
// known queryType and, for the fields this package knows, allowed values.
// Template variables ($name) are accepted wherever a string is.
func ValidateQuery(model map[string]any) error {
	qt, _ := model["queryType"].(string)
	if qt == "" {
		return fmt.Errorf("queryType missing")
	}
	if !slices.Contains(QueryTypes, qt) {
		return fmt.Errorf("unknown queryType %q; known: %s", qt, strings.Join(QueryTypes, ", "))
	}
	str := func(field string) (string, bool) {
		s, ok := model[field].(string)
		return s, ok
	}
	switch qt {
	case "sessionTimeline":
		if s, _ := str("sessionId"); s == "" {
			return fmt.Errorf("sessionTimeline: sessionId missing")
		}
		if fs, ok := model["frames"]; ok {
			list, ok := fs.([]any)
			if !ok {
				return fmt.Errorf("sessionTimeline: frames is not a list")
			}
			for _, f := range list {
				if s, _ := f.(string); !slices.Contains(query.TimelineFrames, s) {
					return fmt.Errorf("sessionTimeline: frame %v is not one of %s", f, strings.Join(query.TimelineFrames, ", "))
				}
			}
		}
	case "traceToSession":
		if s, _ := str("traceId"); s == "" {
			return fmt.Errorf("traceToSession: traceId missing")
		}
	case "latencyBreakdown":
		if g, ok := model["groupBy"]; ok {
			list, ok := g.([]any)
			if !ok {
				return fmt.Errorf("latencyBreakdown: groupBy is not a list")
			}
			for _, e := range list {
				if s, _ := e.(string); !slices.Contains(GroupByAttributes, s) {
					return fmt.Errorf("latencyBreakdown: groupBy %v is not one of %s", e, strings.Join(GroupByAttributes, ", "))
				}
			}
		}
	case "sessionMetrics":
		m, _ := str("metric")
		if !slices.Contains(SessionMetrics, m) {
			return fmt.Errorf("sessionMetrics: metric %q is not one of %s", m, strings.Join(SessionMetrics, ", "))
		}
		if g, ok := model["groupBy"]; ok && g != "" {
			if s, _ := g.(string); !slices.Contains(GroupByAttributes, s) {
				return fmt.Errorf("sessionMetrics: groupBy %v is not one of %s", g, strings.Join(GroupByAttributes, ", "))
			}
		}
	}
	if l, ok := model["limit"]; ok {
		n, isNum := l.(float64)
		if !isNum || n < 1 || n > 1000 || n != float64(int(n)) {
			return fmt.Errorf("%s: limit %v is not a whole number from 1 to 1000", qt, l)
		}
	}
	return nil
}
