package loki

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// A tenant may have lower limits than Loki's defaults; Loki then answers 400
// with the limit in the text. The adapter reads the limit back, remembers it
// and asks again within it, instead of failing the query.

// defaultMaxQueryLength is Loki's max_query_length default (30d1h): a
// longer query is refused.
const defaultMaxQueryLength = 721 * time.Hour

var (
	// Loki 3.x (pkg/validation ErrMaxEntriesLimit): "max entries limit per
	// query exceeded, limit > max_entries_limit_per_query (%d > %d)"; older
	// releases said "max_entries_limit".
	reMaxEntries = regexp.MustCompile(`max entries limit per query exceeded, limit > max_entries_limit(?:_per_query)? \(\d+ > (\d+)\)`)
	// Loki (pkg/validation ErrQueryTooLong): "the query time range exceeds
	// the limit (query length: %s, limit: %s)", the limit a Prometheus
	// duration (30d1h).
	reQueryTooLong = regexp.MustCompile(`the query time range exceeds the limit \(query length: [^,]*, limit: ([0-9a-zµ.]+)\)`)
	// Loki's refusal of a metric query whose result (or, for an
	// aggregation its query frontend cannot shard, an intermediate result)
	// has more series than the tenant's max_query_series (500 by
	// default), answered 400: "maximum of series (%d) reached for a single
	// query" (logqlmodel's series limit error); releases since mid-2025 say
	// "maximum number of series (%d) reached for a single query" and add
	// advice after a ";". Both are read.
	reMaxSeries = regexp.MustCompile(`maximum (?:number )?of series \((\d+)\) reached for a single query`)
)

// defaultMaxQuerySeries is Loki's max_query_series default.
const defaultMaxQuerySeries = 500

// maxSeriesRefusal reads Loki's refusal of a metric query over too many
// series: the tenant's limit, or 0 when err is not that refusal.
func maxSeriesRefusal(err error) int {
	var se *storehttp.Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		return 0
	}
	m := reMaxSeries.FindStringSubmatch(se.Msg)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 0 {
		return 0
	}
	if n == 0 {
		return -1 // a limit of 0 series: nothing can be asked
	}
	return n
}

// tenantLimits are the limits this Loki showed for the tenant; zero means
// Loki's default. They only ever go down.
type tenantLimits struct {
	maxEntries     storehttp.LearnedLimit
	maxQueryLength storehttp.LearnedLimit // time.Duration
	maxSeries      storehttp.LearnedLimit
}

func (l *tenantLimits) series() int { return int(l.maxSeries.Or(defaultMaxQuerySeries)) }

func (l *tenantLimits) entries() int { return int(l.maxEntries.Or(maxEntriesPerQuery)) }

func (l *tenantLimits) queryLength() time.Duration {
	return time.Duration(l.maxQueryLength.Or(int64(defaultMaxQueryLength)))
}

// learn reads a Loki 400 naming a lower tenant limit and lowers the
// adapter's to it; false when the error names none, or none lower.
func (l *tenantLimits) learn(err error) bool {
	var se *storehttp.Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		return false
	}
	if m := reMaxEntries.FindStringSubmatch(se.Msg); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		return err == nil && n > 0 && l.maxEntries.Lower(n)
	}
	if m := reQueryTooLong.FindStringSubmatch(se.Msg); m != nil {
		d, ok := parseLokiDuration(m[1])
		return ok && d >= time.Minute && l.maxQueryLength.Lower(int64(d))
	}
	return false
}

// parseLokiDuration reads a Prometheus duration (30d1h, 4w) or a Go one.
func parseLokiDuration(s string) (time.Duration, bool) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	return 0, false
}

// queryWindow is one piece of a log query's range: [start, end], end
// included (Loki's own end is exclusive; the adapter adds 1 ns).
type queryWindow struct{ start, end time.Time }

// splitQueryRange cuts [start, end] into consecutive windows no longer than
// maxLen, oldest first (log queries run forward). Past maxWindows the oldest
// part is left out and clamped says so: a session's logs are the recent ones.
func splitQueryRange(start, end time.Time, maxLen time.Duration, maxWindows int) (windows []queryWindow, clamped bool) {
	// Loki measures a range in whole milliseconds, so the 1 ns added to a
	// window's end to include it is not counted against the limit.
	n := int((end.Sub(start) + maxLen - 1) / maxLen)
	if n < 1 {
		n = 1
	}
	if n > maxWindows {
		start, clamped, n = end.Add(-time.Duration(maxWindows)*maxLen), true, maxWindows
	}
	for i := 0; i < n; i++ {
		ws := start.Add(time.Duration(i) * maxLen)
		we := ws.Add(maxLen - 1) // the next window starts 1 ns later
		if i == n-1 {
			we = end
		}
		windows = append(windows, queryWindow{start: ws, end: we})
	}
	return windows, clamped
}
