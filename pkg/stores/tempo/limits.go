package tempo

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// A tenant may have lower limits than Tempo's defaults. Tempo's query
// frontend then answers 400 with the limit in the text (the same wording in
// 2.x and 3.x); the adapter reads the limit back, remembers it, and asks
// again within it instead of failing the query.

// limitKind names the Tempo limit a refusal is about.
type limitKind int

const (
	limitNone limitKind = iota
	// limitSearchTraces: "limit %d exceeds max limit %d" (search max_limit).
	limitSearchTraces
	// limitSpansPerSpanSet: "spans per span set exceeds %d. received %d"
	// (search max_spans_per_span_set).
	limitSpansPerSpanSet
	// limitSearchDuration: "range specified by start and end exceeds %s.
	// received start=%d end=%d" (search max_duration).
	limitSearchDuration
	// limitMetricsDuration: "metrics query time range exceeds the maximum
	// allowed duration of %s" (metrics max_duration: 3h in Tempo 2.6–2.10,
	// 24h from 3.0).
	limitMetricsDuration
)

// refusal is a limit read from a Tempo 400.
type refusal struct {
	kind limitKind
	n    int64         // a count limit
	d    time.Duration // a duration limit
}

// goDuration matches a Go duration as Tempo prints it (168h0m0s, 30m0s).
const goDuration = `((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s))+)`

var (
	reSearchMaxLimit  = regexp.MustCompile(`\blimit \d+ exceeds max limit (\d+)`)
	reSpansPerSpanSet = regexp.MustCompile(`spans per span set exceeds (\d+)\. received \d+`)
	// Older Tempo put the asked range in parentheses before "exceeds".
	reSearchDuration  = regexp.MustCompile(`range specified by start and end (?:\([^)]*\) )?exceeds ` + goDuration)
	reMetricsDuration = regexp.MustCompile(`exceeds the maximum allowed duration of ` + goDuration)
)

// readRefusal reads the limit out of a Tempo 400, if it names one.
func readRefusal(err error) (refusal, bool) {
	var se *storehttp.Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		return refusal{}, false
	}
	count := func(re *regexp.Regexp, kind limitKind) (refusal, bool) {
		m := re.FindStringSubmatch(se.Msg)
		if m == nil {
			return refusal{}, false
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n < 1 {
			return refusal{}, false
		}
		return refusal{kind: kind, n: n}, true
	}
	duration := func(re *regexp.Regexp, kind limitKind) (refusal, bool) {
		m := re.FindStringSubmatch(se.Msg)
		if m == nil {
			return refusal{}, false
		}
		d, err := time.ParseDuration(m[1])
		if err != nil || d < time.Second {
			return refusal{}, false
		}
		return refusal{kind: kind, d: d}, true
	}
	if r, ok := count(reSearchMaxLimit, limitSearchTraces); ok {
		return r, true
	}
	if r, ok := count(reSpansPerSpanSet, limitSpansPerSpanSet); ok {
		return r, true
	}
	if r, ok := duration(reMetricsDuration, limitMetricsDuration); ok {
		return r, true
	}
	if r, ok := duration(reSearchDuration, limitSearchDuration); ok {
		return r, true
	}
	return refusal{}, false
}

// tenantLimits are the limits this Tempo showed for the tenant; zero means
// Tempo's default applies. They only ever go down.
type tenantLimits struct {
	searchTraces  storehttp.LearnedLimit
	spansPerSet   storehttp.LearnedLimit
	searchWindow  storehttp.LearnedLimit // time.Duration
	metricsWindow storehttp.LearnedLimit // time.Duration
}

func (l *tenantLimits) maxSearchTraces() int { return int(l.searchTraces.Or(maxSearchLimit)) }
func (l *tenantLimits) spansPerSpanSet() int { return int(l.spansPerSet.Or(spansPerSpanSet)) }
func (l *tenantLimits) searchWindowLen() time.Duration {
	return time.Duration(l.searchWindow.Or(int64(maxSearchWindow)))
}
func (l *tenantLimits) metricsWindowLen() time.Duration {
	return time.Duration(l.metricsWindow.Or(int64(maxMetricsWindow)))
}
