package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// The session index against fakeLoki: an in-memory Loki that evaluates
// exactly the LogQL shapes the adapter sends, with Loki's documented
// semantics (range (t − R, t], log query end exclusive, anchored label
// regexes, answers as vector/matrix/streams, timestamps in seconds at
// millisecond precision, max_query_series refused with Loki's 400 text).
// Any other shape fails the test.

type fakeRecord struct {
	ts     time.Time
	labels map[string]string // stream labels and structured metadata alike
}

type fakeLoki struct {
	t         *testing.T
	records   []fakeRecord
	maxSeries int
	mu        sync.Mutex
	queries   []string
	refusals  int
	logQs     int
	// noLines answers every log query with no line (lines counted but not
	// yet queryable).
	noLines bool
	// maxQueryLength, when set, is the tenant's max_query_length: a longer
	// query (or metric range) is refused with Loki's 400.
	maxQueryLength time.Duration
}

// tooLong refuses a query longer than the tenant's max_query_length.
func (l *fakeLoki) tooLong(w http.ResponseWriter, length time.Duration) bool {
	if l.maxQueryLength == 0 || length <= l.maxQueryLength {
		return false
	}
	l.mu.Lock()
	l.refusals++
	l.mu.Unlock()
	http.Error(w, fmt.Sprintf("the query time range exceeds the limit (query length: %s, limit: %s)", length, model.Duration(l.maxQueryLength)), http.StatusBadRequest)
	return true
}

var (
	reMetric   = regexp.MustCompile(`^sum by \(([a-z_, ]+)\) \(count_over_time\((.*) \[(\d+)ms\]\)\)$`)
	reSelector = regexp.MustCompile(`^\{service_name(=~|=)("(?:[^"\\]|\\.)*")\}`)
)

type fakeFilter struct {
	name, op, value string
	re              *regexp.Regexp
}

func (f fakeFilter) match(labels map[string]string) bool {
	v := labels[f.name]
	switch f.op {
	case "=":
		return v == f.value
	case "!=":
		return v != f.value
	case "!~":
		return !f.re.MatchString(v)
	default:
		return f.re.MatchString(v)
	}
}

// parseLogQuery reads `{service_name=…} | name op "v" …`.
func parseLogQuery(q string) ([]fakeFilter, error) {
	m := reSelector.FindStringSubmatch(q)
	if m == nil {
		return nil, fmt.Errorf("selector of %q", q)
	}
	v, err := strconv.Unquote(m[2])
	if err != nil {
		return nil, err
	}
	if m[1] == "=~" && v != ".+" {
		return nil, fmt.Errorf("selector regex %q", v)
	}
	sel := fakeFilter{name: "service_name", op: m[1], value: v}
	if m[1] == "=~" {
		sel.re = regexp.MustCompile("^(?:" + v + ")$")
	}
	filters := []fakeFilter{sel}
	rest := q[len(m[0]):]
	reFilter := regexp.MustCompile(`^ \| ([a-zA-Z_][a-zA-Z0-9_]*)(!=|!~|=~|=)`)
	for rest != "" {
		fm := reFilter.FindStringSubmatch(rest)
		if fm == nil {
			return nil, fmt.Errorf("filter %q", rest)
		}
		rest = rest[len(fm[0]):]
		lit, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("literal %q: %v", rest, err)
		}
		rest = rest[len(lit):]
		val, _ := strconv.Unquote(lit)
		f := fakeFilter{name: fm[1], op: fm[2], value: val}
		if f.op == "!=" && val != "" {
			return nil, fmt.Errorf("!= with a value")
		}
		if f.op == "=~" || f.op == "!~" {
			if f.re, err = regexp.Compile("^(?:" + val + ")$"); err != nil {
				return nil, err
			}
		}
		filters = append(filters, f)
	}
	return filters, nil
}

func (l *fakeLoki) matching(filters []fakeFilter, after, upTo time.Time) []fakeRecord {
	var out []fakeRecord
	for _, r := range l.records {
		if !r.ts.After(after) || r.ts.After(upTo) {
			continue
		}
		ok := true
		for _, f := range filters {
			ok = ok && f.match(r.labels)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func nsParam(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	return time.Unix(0, n), err
}

func secs(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (l *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	l.queries = append(l.queries, r.URL.Path+" "+q.Get("query"))
	l.mu.Unlock()
	fail := func(format string, args ...any) {
		l.t.Errorf("fake Loki: "+format, args...)
		http.Error(w, "unexpected request", http.StatusBadRequest)
	}
	answer := func(data map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}
	switch r.URL.Path {
	case queryRangePath:
		if q.Has("direction") { // a log query
			filters, err := parseLogQuery(q.Get("query"))
			start, err1 := nsParam(q.Get("start"))
			end, err2 := nsParam(q.Get("end"))
			limit, err3 := strconv.Atoi(q.Get("limit"))
			if err != nil || err1 != nil || err2 != nil || err3 != nil || len(q) != 5 {
				fail("log query %v: %v", q, err)
				return
			}
			if l.tooLong(w, end.Sub(start).Truncate(time.Millisecond)) {
				return
			}
			l.mu.Lock()
			l.logQs++
			l.mu.Unlock()
			recs := l.matching(filters, start.Add(-1), end.Add(-1))
			sort.Slice(recs, func(i, j int) bool { return recs[i].ts.Before(recs[j].ts) })
			if q.Get("direction") == "backward" {
				for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
					recs[i], recs[j] = recs[j], recs[i]
				}
			}
			if l.noLines {
				recs = nil
			}
			var result []map[string]any
			for _, rec := range recs[:min(limit, len(recs))] {
				result = append(result, map[string]any{
					"stream": map[string]string{"service_name": rec.labels["service_name"]},
					"values": [][]any{{strconv.FormatInt(rec.ts.UnixNano(), 10), "line", map[string]any{}}},
				})
			}
			answer(map[string]any{"resultType": "streams", "result": result})
			return
		}
		start, err1 := nsParam(q.Get("start"))
		end, err2 := nsParam(q.Get("end"))
		step, err3 := parseLokiDurationParam(q.Get("step"))
		if err1 != nil || err2 != nil || err3 != nil || len(q) != 4 || end.Sub(start)/step > 11000 {
			fail("range query %v", q)
			return
		}
		// Each point counts (t − R, t]; the adapter's R is the step, so a
		// record falls in one point: the first at or after it.
		m := reMetric.FindStringSubmatch(q.Get("query"))
		if m == nil || m[3] != strconv.FormatInt(step.Milliseconds(), 10) {
			fail("range query %q: the range is not the step", q.Get("query"))
			return
		}
		if l.tooLong(w, end.Sub(start)+step) {
			return
		}
		filters, err := parseLogQuery(m[2])
		if err != nil {
			fail("range query %q: %v", q.Get("query"), err)
			return
		}
		by := strings.Split(m[1], ", ")
		series := map[string]map[string]string{}
		counts := map[string]map[int]int{}
		for _, rec := range l.matching(filters, start.Add(-step), end) {
			k := int((rec.ts.Sub(start) + step - 1) / step)
			labels := map[string]string{}
			for _, b := range by {
				if v := rec.labels[b]; v != "" {
					labels[b] = v
				}
			}
			key := fmt.Sprint(labels)
			series[key] = labels
			if counts[key] == nil {
				counts[key] = map[int]int{}
			}
			counts[key][k]++
		}
		points := map[string][][]any{}
		for key, byK := range counts {
			ks := make([]int, 0, len(byK))
			for k := range byK {
				ks = append(ks, k)
			}
			sort.Ints(ks)
			for _, k := range ks {
				points[key] = append(points[key], []any{secs(start.Add(time.Duration(k) * step)), strconv.Itoa(byK[k])})
			}
		}
		if l.refuseSeries(w, len(series)) {
			return
		}
		var result []map[string]any
		for k, labels := range series {
			result = append(result, map[string]any{"metric": labels, "values": points[k]})
		}
		answer(map[string]any{"resultType": "matrix", "result": result})
	case queryPath:
		t, err := nsParam(q.Get("time"))
		if err != nil || len(q) != 2 {
			fail("instant query %v", q)
			return
		}
		groups, ok := l.evalMetric(w, q.Get("query"), t, fail)
		if !ok || l.refuseSeries(w, len(groups)) {
			return
		}
		var result []map[string]any
		for _, g := range groups {
			result = append(result, map[string]any{"metric": g.labels, "value": []any{secs(t), strconv.Itoa(g.n)}})
		}
		answer(map[string]any{"resultType": "vector", "result": result})
	default:
		fail("path %s", r.URL.Path)
	}
}

func parseLokiDurationParam(s string) (time.Duration, error) {
	ms, ok := strings.CutSuffix(s, "ms")
	if !ok {
		return 0, fmt.Errorf("step %q", s)
	}
	n, err := strconv.Atoi(ms)
	return time.Duration(n) * time.Millisecond, err
}

func (l *fakeLoki) refuseSeries(w http.ResponseWriter, n int) bool {
	if n <= l.maxSeries {
		return false
	}
	l.mu.Lock()
	l.refusals++
	l.mu.Unlock()
	http.Error(w, fmt.Sprintf("maximum of series (%d) reached for a single query", l.maxSeries), http.StatusBadRequest)
	return true
}

type fakeGroup struct {
	labels map[string]string
	n      int
}

func (l *fakeLoki) evalMetric(w http.ResponseWriter, query string, t time.Time, fail func(string, ...any)) (map[string]*fakeGroup, bool) {
	m := reMetric.FindStringSubmatch(query)
	if m == nil {
		fail("metric query %q", query)
		return nil, false
	}
	filters, err := parseLogQuery(m[2])
	if err != nil {
		fail("metric query %q: %v", query, err)
		return nil, false
	}
	ms, _ := strconv.ParseInt(m[3], 10, 64)
	if l.tooLong(w, time.Duration(ms)*time.Millisecond) {
		return nil, false
	}
	by := strings.Split(m[1], ", ")
	groups := map[string]*fakeGroup{}
	for _, rec := range l.matching(filters, t.Add(-time.Duration(ms)*time.Millisecond), t) {
		labels := map[string]string{}
		for _, b := range by {
			if v := rec.labels[b]; v != "" {
				labels[b] = v
			}
		}
		key := fmt.Sprint(labels)
		if groups[key] == nil {
			groups[key] = &fakeGroup{labels: labels}
		}
		groups[key].n++
	}
	return groups, true
}

// A world of sessions of two apps, each with device records (and backend
// records without a device model), errors and network changes.
func fakeWorld(seed int64, sessions int, start time.Time, span time.Duration) []fakeRecord {
	rng := rand.New(rand.NewSource(seed))
	var recs []fakeRecord
	for i := 0; i < sessions; i++ {
		id := fmt.Sprintf("%032x", rng.Uint64()<<1|1)
		if i%5 == 0 { // shared prefixes, so a split must go deeper
			id = "ab" + id[2:]
		}
		app := "stitch-ios"
		if i%7 == 3 {
			app = "other-app"
		}
		version := []string{"1.0", "1.1", `2.0"} | x`}[rng.Intn(3)]
		model := []string{"iPhone15,2", "iPhone14,7"}[rng.Intn(2)]
		begin := start.Add(time.Duration(rng.Int63n(int64(span))))
		if i%4 == 0 { // starts in the same step as another: a tie to break
			begin = start.Add(span / 3).Add(time.Duration(i) * time.Millisecond)
		}
		n := 1 + rng.Intn(8)
		at := begin
		for j := 0; j < n; j++ {
			labels := map[string]string{
				"service_name": app, "service_version": version, "os_version": "17.4",
				"device_model_identifier": model, "session_id": id,
				"network_connection_type": []string{"wifi", "cell"}[rng.Intn(2)],
			}
			if rng.Intn(4) == 0 {
				labels["error_type"] = "timeout"
			}
			recs = append(recs, fakeRecord{ts: at, labels: labels})
			// a backend record of the session: no device model
			recs = append(recs, fakeRecord{ts: at.Add(time.Millisecond), labels: map[string]string{"service_name": "api", "session_id": id, "error_type": "x"}})
			at = at.Add(time.Duration(rng.Int63n(int64(10 * time.Minute))))
		}
	}
	return recs
}

// referenceSessions is the index computed from the records directly:
// what VictoriaLogs' stats by (session.id) gives.
func referenceSessions(recs []fakeRecord, q stores.SessionQuery) stores.SessionPage {
	byID := map[string]*stores.SessionRow{}
	matched := map[string]bool{}
	for _, r := range recs {
		l := r.labels
		if r.ts.Before(q.Start) || r.ts.After(q.End) || l["device_model_identifier"] == "" || l["session_id"] == "" {
			continue
		}
		ok := true
		for _, m := range q.Match {
			name, _ := LabelName(m.Key)
			ok = ok && l[name] == m.Value
		}
		if !ok {
			continue
		}
		id := l["session_id"]
		if q.Sessions != nil && !contains(q.Sessions, id) {
			continue
		}
		row := byID[id]
		if row == nil {
			row = &stores.SessionRow{SessionID: id, First: r.ts, Last: r.ts}
			byID[id] = row
		}
		row.Records++
		if l["error_type"] != "" {
			row.Errors++
		}
		if r.ts.Before(row.First) {
			row.First = r.ts
		}
		if r.ts.After(row.Last) {
			row.Last = r.ts
		}
		least := func(cur *string, v string) {
			if v != "" && (*cur == "" || v < *cur) {
				*cur = v
			}
		}
		least(&row.Service, l["service_name"])
		least(&row.Version, l["service_version"])
		least(&row.OSVersion, l["os_version"])
		least(&row.DeviceModel, l["device_model_identifier"])
		least(&row.NetworkType, l["network_connection_type"])
		all := true
		for _, m := range q.RecordMatch {
			name, _ := LabelName(m.Key)
			all = all && l[name] == m.Value
		}
		if all {
			matched[id] = true
		}
	}
	var page stores.SessionPage
	for id, row := range byID {
		if (q.ErrorsOnly && row.Errors == 0) || (len(q.RecordMatch) > 0 && !matched[id]) || row.Last.Sub(row.First) < q.MinDuration {
			continue
		}
		page.Rows = append(page.Rows, *row)
	}
	page.Total = len(page.Rows)
	stores.SortSessionRows(page.Rows, q.Order)
	if len(page.Rows) > q.Limit {
		page.Rows = page.Rows[:q.Limit]
	}
	return page
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func newFakeLoki(t *testing.T, recs []fakeRecord, maxSeries int) (*fakeLoki, *Store) {
	l := &fakeLoki{t: t, records: recs, maxSeries: maxSeries}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, newStore(t, srv.URL)
}

func TestSessionsMatchTheRecordsExactly(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	span := 2 * time.Hour
	recs := fakeWorld(7, 120, start.Add(time.Minute), span)
	var someIDs []string
	for i, r := range recs {
		if i%9 == 0 {
			someIDs = append(someIDs, r.labels["session_id"])
		}
	}
	app := []telemetry.KV{{Key: "service.name", Value: "stitch-ios"}}
	base := stores.SessionQuery{Start: start, End: start.Add(span + time.Hour), Match: app, Limit: 10}
	with := func(f func(q *stores.SessionQuery)) stores.SessionQuery { q := base; f(&q); return q }
	cases := map[string]stores.SessionQuery{
		"start":        base,
		"all apps":     with(func(q *stores.SessionQuery) { q.Match = nil; q.Limit = 15 }),
		"errors only":  with(func(q *stores.SessionQuery) { q.ErrorsOnly = true }),
		"by errors":    with(func(q *stores.SessionQuery) { q.Order = stores.OrderByErrors; q.Limit = 40 }),
		"by duration":  with(func(q *stores.SessionQuery) { q.Order = stores.OrderByDuration }),
		"min duration": with(func(q *stores.SessionQuery) { q.MinDuration = 20 * time.Minute; q.Order = stores.OrderByDuration }),
		"resource match": with(func(q *stores.SessionQuery) {
			q.Match = append(q.Match, telemetry.KV{Key: "service.version", Value: `2.0"} | x`})
		}),
		"record match": with(func(q *stores.SessionQuery) {
			q.RecordMatch = []telemetry.KV{{Key: "network.connection.type", Value: "wifi"}}
		}),
		"restricted":        with(func(q *stores.SessionQuery) { q.Sessions = someIDs; q.Order = stores.OrderByErrors }),
		"limit above total": with(func(q *stores.SessionQuery) { q.Limit = 1000 }),
		"a window inside": with(func(q *stores.SessionQuery) {
			q.Start = start.Add(40 * time.Minute)
			q.End = start.Add(80 * time.Minute)
		}),
		"restricted to none": with(func(q *stores.SessionQuery) { q.Sessions = []string{} }),
	}
	for _, maxSeries := range []int{500, 7} {
		for name, q := range cases {
			t.Run(fmt.Sprintf("%s/max_series=%d", name, maxSeries), func(t *testing.T) {
				l, s := newFakeLoki(t, recs, maxSeries)
				got, err := s.Sessions(context.Background(), q)
				require.NoError(t, err)
				want := referenceSessions(recs, q)
				assert.Empty(t, got.Warnings)
				assert.Equal(t, want.Total, got.Total, "total")
				assert.Equal(t, want.Rows, got.Rows, "rows")
				if maxSeries < 500 && want.Total > maxSeries {
					assert.Positive(t, l.refusals, "the split was exercised")
				}
			})
		}
	}
}

// The refinement reads only what a row needs: two log queries per row
// returned, and a few more for ties.
func TestSessionsRefineOnlyWhatTheLimitNeeds(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := fakeWorld(11, 300, start.Add(time.Minute), 6*time.Hour)
	l, s := newFakeLoki(t, recs, 500)
	q := stores.SessionQuery{Start: start, End: start.Add(7 * time.Hour), Limit: 5}
	got, err := s.Sessions(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, referenceSessions(recs, q), got)
	assert.LessOrEqual(t, l.logQs, 2*(5+3), "log queries: %d", l.logQs)
}

func TestSessionQueriesAreExactLogQL(t *testing.T) {
	sq, err := buildSessionQueries(stores.SessionQuery{
		Match:       []telemetry.KV{{Key: "service.name", Value: `ios"} | x`}, {Key: "service.version", Value: "1.0\n\\"}},
		RecordMatch: []telemetry.KV{{Key: "network.connection.type", Value: `wifi" or 1=1`}},
	})
	require.NoError(t, err)
	assert.Equal(t, `{service_name="ios\"} | x"} | device_model_identifier!="" | session_id!="" | service_version="1.0\n\\"`, sq.devices)
	assert.Equal(t, []string{`| network_connection_type="wifi\" or 1=1"`}, sq.recordMatch)
	q, err := sq.countQuery(partition{prefix: "a7"}, time.Hour+time.Nanosecond, `| error_type!=""`)
	require.NoError(t, err)
	assert.Equal(t, `sum by (session_id) (count_over_time({service_name="ios\"} | x"} | device_model_identifier!="" | session_id!="" | service_version="1.0\n\\" | error_type!="" | session_id=~"a7.*" [3600001ms]))`, q)
	q, err = sq.countQuery(partition{ids: []string{"5e55104d0c0ffee0000000000000a11c", "5e55104d0c0ffee0000000000000a11d"}}, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, `sum by (session_id) (count_over_time({service_name="ios\"} | x"} | device_model_identifier!="" | session_id!="" | service_version="1.0\n\\" | session_id=~"5e55104d0c0ffee0000000000000a11c|5e55104d0c0ffee0000000000000a11d" [60000ms]))`, q)

	all, err := buildSessionQueries(stores.SessionQuery{})
	require.NoError(t, err)
	assert.Equal(t, `{service_name=~".+"} | device_model_identifier!="" | session_id!=""`, all.devices)
	empty, err := buildSessionQueries(stores.SessionQuery{Match: []telemetry.KV{{Key: "service.name", Value: ""}}})
	require.NoError(t, err)
	assert.Equal(t, `{service_name=~".+"} | device_model_identifier!="" | session_id!="" | service_name=""`, empty.devices, "Loki refuses a selector matching the empty string")

	_, err = buildSessionQueries(stores.SessionQuery{Match: []telemetry.KV{{Key: "...", Value: "x"}}})
	assert.ErrorIs(t, err, ErrBadLabelName)
	_, err = LabelHexPrefixFilter("session_id", `a".*`)
	assert.Error(t, err)
	q, err = sq.countQuery(partition{prefix: "a7", rest: true}, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, `sum by (session_id) (count_over_time({service_name="ios\"} | x"} | device_model_identifier!="" | session_id!="" | service_version="1.0\n\\" | session_id=~"a7.*" | session_id!~"a7[0-9a-f].*" [60000ms]))`, q)
	parts, err := partition{prefix: "a7"}.split()
	require.NoError(t, err)
	require.Len(t, parts, 17)
	assert.Equal(t, partition{prefix: "a7f"}, parts[15])
	assert.Equal(t, partition{prefix: "a7", rest: true}, parts[16])
}

func TestSessionWindowSteps(t *testing.T) {
	end := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		span, step time.Duration
	}{{time.Hour, 360 * time.Millisecond}, {24 * time.Hour, 8640 * time.Millisecond}, {time.Minute, 10 * time.Millisecond}, {7*24*time.Hour + time.Nanosecond, 60481 * time.Millisecond}} {
		w := newSessionWindow(end.Add(-c.span), end)
		assert.Equal(t, c.step, w.step, "span %s", c.span)
		assert.LessOrEqual(t, w.steps, 11000, "Loki's points per series")
		assert.False(t, w.point(0).Add(-w.step).After(end.Add(-c.span)), "the steps cover the window")
		assert.Equal(t, end, w.point(w.steps-1))
		for _, k := range []int{0, w.steps / 2, w.steps - 1} {
			assert.Equal(t, k, w.bucket(secs(w.point(k))), "a millisecond answer maps back")
		}
	}
}

func TestSessionsMaxSeriesMessages(t *testing.T) {
	for msg, want := range map[string]int{
		"maximum of series (500) reached for a single query":                                                  500,
		"maximum number of series (300) reached for a single query; consider reducing query cardinality by …": 300,
		"max entries limit per query exceeded, limit > max_entries_limit_per_query (101 > 3)":                 0,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, msg, http.StatusBadRequest)
		}))
		_, err := newStore(t, srv.URL).metricQuery(context.Background(), queryPath, nil, "vector")
		assert.Equal(t, want, maxSeriesRefusal(err), msg)
		srv.Close()
	}
}

func TestSessionsFailOnBadAnswers(t *testing.T) {
	q := stores.SessionQuery{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Limit: 10}
	for name, c := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"5xx":            {http.StatusBadGateway, "upstream down", "502"},
		"garbage":        {http.StatusOK, "<html>login</html>", "HTML page"},
		"wrong type":     {http.StatusOK, `{"status":"success","data":{"resultType":"streams","result":[]}}`, "vector"},
		"bad session":    {http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"session_id":"x"},"value":[1,"2"]}]}}`, "session_id"},
		"bad count":      {http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"session_id":"5e55104d0c0ffee0000000000000a11c"},"value":[1,"2.5"]}]}}`, "count"},
		"unsplittable":   {http.StatusBadRequest, "maximum of series (0) reached for a single query", "maximum of series"},
		"parse error":    {http.StatusBadRequest, "parse error at line 1, col 5: syntax error", "parse error"},
		"missing value":  {http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"session_id":"5e55104d0c0ffee0000000000000a11c"}}]}}`, "without a value"},
		"truncated JSON": {http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[`, "not"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			_, err := newStore(t, srv.URL).Sessions(context.Background(), q)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := newStore(t, "http://127.0.0.1:1").Sessions(context.Background(), stores.SessionQuery{Start: q.Start, End: q.End})
	assert.ErrorContains(t, err, "limit")
}

// The session index against Loki's documented answers: counts by session
// (vector), extents by step (matrix), the first and last line of the row
// shown, its attributes; Limit 1 refines only the session that can be
// first.
func TestSessionsContract(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_sessions_records.json", "query_sessions_errors.json",
		"query_range_sessions_extent.json", "query_range_session_first.json", "query_range_session_last.json",
		"query_session_attributes.json")
	page, err := newStore(t, d.URL).Sessions(context.Background(), stores.SessionQuery{
		Start: contractStart, End: contractEnd, Limit: 1,
		Match: []telemetry.KV{{Key: "service.name", Value: "stitch-ios"}},
	})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Total)
	require.Len(t, page.Rows, 1)
	row := page.Rows[0]
	assert.Equal(t, contractSession, row.SessionID)
	assert.Equal(t, time.Date(2024, 5, 1, 9, 58, 0, 100e6, time.UTC), row.First.UTC(), "exact, not the step's end")
	assert.Equal(t, time.Date(2024, 5, 1, 10, 2, 30, 500e6, time.UTC), row.Last.UTC())
	assert.Equal(t, "cell", row.NetworkType, "the least network type, as VictoriaLogs' min()")
	contracttest.CheckGolden(t, "sessions_page.json", page)
}

func TestSessionsMaxSeriesContract(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_sessions_max_series.json")
	s := newStore(t, d.URL)
	sq, err := buildSessionQueries(stores.SessionQuery{})
	require.NoError(t, err)
	logQL, err := sq.countQuery(partition{}, contractEnd.Sub(contractStart))
	require.NoError(t, err)
	_, err = s.metricQuery(context.Background(), queryPath, url.Values{"query": {logQL}, "time": {strconv.FormatInt(contractEnd.UnixNano(), 10)}}, "vector")
	assert.Equal(t, 500, maxSeriesRefusal(err))
}

// Past the refinement budget the index still answers, at step precision
// for what it could not measure, and says so.
func TestSessionsPastTheRefinementBudgetWarn(t *testing.T) {
	defer func(n int) { maxRefinedSessions = n }(maxRefinedSessions)
	maxRefinedSessions = 0
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	// A week: steps of about a minute, and sessions minutes long.
	recs := fakeWorld(5, 60, start.Add(time.Hour), 6*24*time.Hour)
	_, s := newFakeLoki(t, recs, 500)
	q := stores.SessionQuery{Start: start, End: start.Add(7 * 24 * time.Hour), Limit: 5, MinDuration: 10 * time.Minute, Order: stores.OrderByDuration}
	got, err := s.Sessions(context.Background(), q)
	require.NoError(t, err)
	require.NotEmpty(t, got.Warnings)
	assert.Contains(t, got.Warnings[0], "step precision")
	want := referenceSessions(recs, q)
	assert.InDelta(t, want.Total, got.Total, float64(want.Total)/4+2, "close, not exact")
	for _, r := range got.Rows {
		assert.Positive(t, r.Records)
	}
}

// A device record with a malformed session ID fails the index, split or
// not: it never falls out of every part of a split unseen.
func TestSessionsMalformedSessionIDIsNotLostInASplit(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := fakeWorld(3, 40, start.Add(time.Minute), time.Hour)
	recs = append(recs, fakeRecord{ts: start.Add(30 * time.Minute), labels: map[string]string{
		"service_name": "stitch-ios", "device_model_identifier": "iPhone15,2", "session_id": "Session-1",
	}})
	q := stores.SessionQuery{Start: start, End: start.Add(2 * time.Hour), Limit: 10}
	for _, maxSeries := range []int{500, 7} {
		l, s := newFakeLoki(t, recs, maxSeries)
		_, err := s.Sessions(context.Background(), q)
		require.Error(t, err, "max_query_series %d", maxSeries)
		assert.Contains(t, err.Error(), "valid session_id")
		if maxSeries < 40 {
			assert.Positive(t, l.refusals)
		}
	}
}

// Lines Loki counted but did not return leave their rows at step precision,
// with a warning, not an error.
func TestSessionsCountedButUnreadLinesWarn(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := fakeWorld(9, 20, start.Add(time.Minute), time.Hour)
	l, s := newFakeLoki(t, recs, 500)
	l.noLines = true
	q := stores.SessionQuery{Start: start, End: start.Add(2 * time.Hour), Limit: 3}
	got, err := s.Sessions(context.Background(), q)
	require.NoError(t, err)
	want := referenceSessions(recs, q)
	assert.Equal(t, want.Total, got.Total)
	require.Len(t, got.Warnings, 1)
	assert.Contains(t, got.Warnings[0], "did not return")
	for i, r := range got.Rows {
		assert.Equal(t, want.Rows[i].SessionID, r.SessionID, "distinct steps still order")
		assert.WithinDuration(t, want.Rows[i].First, r.First, 720*time.Millisecond)
	}
}

// A tenant whose max_query_length is shorter than the range: the refusal
// is read, and the list asked again in windows within it, exactly.
func TestSessionsSplitTheRangeForMaxQueryLength(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := fakeWorld(13, 80, start.Add(time.Hour), 72*time.Hour)
	for _, q := range []stores.SessionQuery{
		{Start: start, End: start.Add(80 * time.Hour), Limit: 10},
		{Start: start, End: start.Add(80 * time.Hour), Limit: 10, Order: stores.OrderByDuration},
		{Start: start, End: start.Add(80 * time.Hour), Limit: 100, ErrorsOnly: true, MinDuration: 30 * time.Minute},
	} {
		l, s := newFakeLoki(t, recs, 500)
		l.maxQueryLength = 24 * time.Hour
		got, err := s.Sessions(context.Background(), q)
		require.NoError(t, err)
		assert.Equal(t, referenceSessions(recs, q), got)
		assert.Equal(t, 1, l.refusals, "one refusal teaches the limit")
		assert.Equal(t, 24*time.Hour, s.limits.queryLength())
	}
	_, s := newFakeLoki(t, recs, 500)
	_, err := s.Sessions(context.Background(), stores.SessionQuery{Start: start.Add(-400 * 24 * time.Hour), End: start, Limit: 10})
	assert.ErrorContains(t, err, "max_query_length")
}

func TestSessionWindowsTileTheRange(t *testing.T) {
	end := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	start := end.Add(-(72*time.Hour + 1500*time.Microsecond))
	ws := newSessionWindows(start, end, 24*time.Hour+time.Nanosecond)
	require.Len(t, ws, 4)
	assert.Equal(t, end, ws.end())
	assert.Equal(t, end.Add(-newSessionWindow(start, end).rng+1), ws.from())
	for i, w := range ws {
		assert.LessOrEqual(t, w.rng, 24*time.Hour)
		assert.Equal(t, w.rng, w.rng.Truncate(time.Millisecond), "a range of whole milliseconds")
		if i > 0 {
			assert.Equal(t, ws[i-1].end.Add(1), w.from(), "consecutive")
		}
	}
	assert.Len(t, newSessionWindows(start, end, 721*time.Hour), 1)
}
