package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

var _ stores.SessionIndex = (*Store)(nil)

// The session index over Loki's metric queries (Loki HTTP API docs, "Query
// logs at a single point in time" and "Query logs within a range of time";
// LogQL "Metric queries"). Sessions' doc says what is exact.
const (
	queryPath = "/loki/api/v1/query"
	// extentBuckets is the number of steps a window is cut into to place
	// extents; Loki refuses a query_range of more than 11,000 points per
	// series ("exceeded maximum resolution of 11,000 points per
	// timeseries").
	extentBuckets = 10000
	// minExtentStep keeps a step well above the millisecond Loki may round
	// its answer's timestamps to, so each point maps back to its step.
	minExtentStep = 10 * time.Millisecond
	// sessionIDsPerQuery bounds the session IDs one query filters on, as
	// traceIDsPerQuery does: a GET's URL stays within what proxies take.
	sessionIDsPerQuery = 100
	// attributeIDsPerQuery bounds the sessions whose attributes one query
	// groups (a session has one series per network type it used).
	attributeIDsPerQuery = 50
	// maxSessionWindows bounds the max_query_length windows a list is asked
	// in (13×30d1h: a year by default); a longer range is refused.
	maxSessionWindows = 13
	// queryConcurrency bounds the queries one call has in flight.
	queryConcurrency = 4
)

// maxRefinedSessions bounds the sessions whose extent one call reads with
// log queries (two each) beyond the rows it returns. A variable for tests.
var maxRefinedSessions = 1000

// Label names of the schema's attributes in Loki (LabelName).
var (
	labelSession     = mustLabel(schema.AttrSessionID)
	labelDeviceModel = mustLabel(schema.AttrDeviceModelIdentifier)
	labelErrorType   = mustLabel(schema.AttrErrorType)
	// rowLabels are the app attributes a row shows, in SessionRow's order;
	// each is the least value among the session's device records, as the
	// VictoriaLogs index takes it.
	rowLabels = []string{
		mustLabel(schema.AttrServiceName),
		mustLabel(schema.AttrServiceVersion),
		mustLabel(schema.AttrOSVersion),
		mustLabel(schema.AttrDeviceModelIdentifier),
		mustLabel(schema.AttrNetworkConnectionType),
	}
)

func mustLabel(attr string) string {
	l, err := LabelName(attr)
	if err != nil {
		panic(err)
	}
	return l
}

// sessionWindow is where a session query looks: metric queries evaluated at
// end over rng, query_range points every step back from end.
type sessionWindow struct {
	end   time.Time
	rng   time.Duration // whole milliseconds
	step  time.Duration // whole milliseconds
	steps int
}

func newSessionWindow(start, end time.Time) sessionWindow {
	w := sessionWindow{end: end}
	w.rng = (end.Sub(start) + time.Millisecond - 1).Truncate(time.Millisecond)
	if w.rng < time.Millisecond {
		w.rng = time.Millisecond
	}
	w.step = ((w.rng + extentBuckets - 1) / extentBuckets)
	w.step = (w.step + time.Millisecond - 1).Truncate(time.Millisecond)
	w.step = max(w.step, minExtentStep)
	w.steps = int((w.rng + w.step - 1) / w.step)
	return w
}

// sessionWindows are consecutive windows, oldest first, each within Loki's
// max_query_length, that tile (End − R, End]: counts add up across them,
// a session's extent runs from its first window to its last.
type sessionWindows []sessionWindow

// newSessionWindows cuts (end − R, end] into windows no longer than maxLen
// (whole milliseconds, so each range stays one).
func newSessionWindows(start, end time.Time, maxLen time.Duration) sessionWindows {
	all := newSessionWindow(start, end)
	maxLen = max(maxLen.Truncate(time.Millisecond), time.Millisecond)
	from := end.Add(-all.rng) // excluded
	var ws sessionWindows
	for wStart := from; wStart.Before(end); wStart = wStart.Add(maxLen) {
		wEnd := wStart.Add(maxLen)
		if wEnd.After(end) {
			wEnd = end
		}
		ws = append(ws, newSessionWindow(wStart, wEnd))
	}
	return ws
}

func (ws sessionWindows) from() time.Time { return ws[0].from() }
func (ws sessionWindows) end() time.Time  { return ws[len(ws)-1].end }

// step is the coarsest step of the windows.
func (ws sessionWindows) step() time.Duration {
	var step time.Duration
	for _, w := range ws {
		step = max(step, w.step)
	}
	return step
}

// from is the first instant the window holds.
func (w sessionWindow) from() time.Time { return w.end.Add(-w.rng + 1) }

// point is the evaluation time of step k (0 the oldest): it counts the
// records of (point − step, point].
func (w sessionWindow) point(k int) time.Time {
	return w.end.Add(-time.Duration(w.steps-1-k) * w.step)
}

// bucket maps an answer's timestamp (seconds) back to its step, or -1.
func (w sessionWindow) bucket(ts float64) int {
	d := ts*1e9 - float64(w.point(0).UnixNano())
	k := int(math.Round(d / float64(w.step)))
	if k < 0 || k >= w.steps {
		return -1
	}
	return k
}

// bounds is [lo, hi] of a step, clamped to the window.
func (w sessionWindow) bounds(k int) (time.Time, time.Time) {
	p := w.point(k)
	lo := p.Add(-w.step + 1)
	if f := w.from(); lo.Before(f) {
		lo = f
	}
	return lo, p
}

// partition is a part of the session-ID space one query covers: all of
// it, the IDs starting with a hex prefix, listed IDs, or (rest) the IDs
// that start with prefix but not with prefix and a hex digit: none, for
// valid IDs, but a malformed one is read there and fails the call rather
// than fall out of every part.
type partition struct {
	prefix string
	ids    []string
	rest   bool
}

func (p partition) filter() (string, error) {
	switch {
	case p.ids != nil:
		return LabelRegexFilter(labelSession, p.ids)
	case p.rest:
		f, err := LabelNotHexFilter(labelSession, p.prefix)
		if err != nil || p.prefix == "" {
			return f, err
		}
		pf, err := LabelHexPrefixFilter(labelSession, p.prefix)
		return pf + " " + f, err
	case p.prefix != "":
		return LabelHexPrefixFilter(labelSession, p.prefix)
	}
	return "", nil
}

// split cuts a partition 16 ways by the next hex digit of the session ID,
// and a 17th part for the rest.
func (p partition) split() ([]partition, error) {
	if p.rest {
		return nil, errors.New("the session IDs that are not hex exceed Loki's max_query_series")
	}
	if p.ids != nil {
		if len(p.ids) <= 1 {
			return nil, errors.New("one session's series exceed Loki's max_query_series")
		}
		half := len(p.ids) / 2
		return []partition{{ids: p.ids[:half]}, {ids: p.ids[half:]}}, nil
	}
	if len(p.prefix) >= 32 {
		return nil, errors.New("one session's series exceed Loki's max_query_series")
	}
	parts := make([]partition, 16, 17)
	for i := range parts {
		parts[i] = partition{prefix: p.prefix + strconv.FormatInt(int64(i), 16)}
	}
	return append(parts, partition{prefix: p.prefix, rest: true}), nil
}

// sessionQueries holds the LogQL pieces of one SessionQuery.
type sessionQueries struct {
	// devices selects the device records of sessions matching q.Match.
	devices string
	// recordMatch are q.RecordMatch's filters.
	recordMatch []string
}

// buildSessionQueries writes the log query of the device records of
// sessions whose resource matches every exact match: `{service_name=<app>}`
// (every stream, `{service_name=~".+"}`, without one), then
// `| device_model_identifier!="" | session_id!=""` and a label filter per
// other match (structured metadata). Values are quoted (Quote), names
// checked against Loki's grammar.
func buildSessionQueries(q stores.SessionQuery) (sessionQueries, error) {
	var sq sessionQueries
	selector := AllStreams
	var filters []string
	for _, f := range []string{labelDeviceModel, labelSession} {
		nf, err := LabelNotEmptyFilter(f)
		if err != nil {
			return sq, err
		}
		filters = append(filters, nf)
	}
	for _, m := range q.Match {
		name, err := LabelName(m.Key)
		if err != nil {
			return sq, err
		}
		if name == labelService && selector == AllStreams && m.Value != "" {
			if selector, err = StreamSelector(name, m.Value); err != nil {
				return sq, err
			}
			continue
		}
		f, err := LabelFilter(name, m.Value)
		if err != nil {
			return sq, err
		}
		filters = append(filters, f)
	}
	sq.devices = Query(selector, filters...)
	for _, m := range q.RecordMatch {
		name, err := LabelName(m.Key)
		if err != nil {
			return sq, err
		}
		f, err := LabelFilter(name, m.Value)
		if err != nil {
			return sq, err
		}
		sq.recordMatch = append(sq.recordMatch, f)
	}
	return sq, nil
}

// countQuery is `sum by (session_id) (count_over_time(<devices> <extra>
// <partition> [rng]))`.
func (sq sessionQueries) countQuery(p partition, rng time.Duration, extra ...string) (string, error) {
	filters := append([]string(nil), extra...)
	pf, err := p.filter()
	if err != nil {
		return "", err
	}
	if pf != "" {
		filters = append(filters, pf)
	}
	return CountBy([]string{labelSession}, Query(sq.devices, filters...), rng)
}

// sessionAgg is what the index knows of one session.
type sessionAgg struct {
	records, errors, matched int
	// Step bounds of the first and last record; exact once refined.
	firstLo, firstHi, lastLo, lastHi time.Time
	refined                          bool
}

func (a *sessionAgg) row(id string) stores.SessionRow {
	return stores.SessionRow{SessionID: id, First: a.firstHi, Last: a.lastHi, Records: a.records, Errors: a.errors}
}

// Sessions aggregates the device records of [q.Start, q.End] by session in
// Loki and returns the top q.Limit sessions in q.Order with the number that
// matched. The queries:
//
//   - records: sum by (session_id) (count_over_time(<devices> [R])), an
//     instant query at End; errors: the same with `| error_type!=""`;
//     record-level matches: the same with their label filters. A session
//     is a member when it has records (and errors, and matches, when asked).
//   - extent: the records query over query_range with [step] and step.
//   - refinement: `<devices> | session_id="<id>"`, limit=1, forward and
//     backward, for the sessions whose exact extent decides a row.
//   - attributes of the rows returned: sum by (session_id, service_name,
//     service_version, os_version, device_model_identifier,
//     network_connection_type) over the rows' IDs.
//
// Loki refuses a metric query over more sessions than max_query_series
// (500 by default): each refused query is asked again over the 16 parts of
// the session-ID space one more hex digit of prefix picks (`| session_id=~
// "<prefix>.*"`, and a 17th part for IDs that do not go on in hex there,
// so a malformed ID fails the call rather than vanish), until each part
// fits; the parts are disjoint, so their counts add up. Nothing is cut: a
// part that cannot be split fails the call.
//
// What is exact and what is not:
//   - Membership, Total, Records, Errors and the record-level matches are
//     exact: each is a count_over_time of the device records of the window
//     summed by session_id, read in full for every session (Loki answers a
//     metric query whole or refuses it). The window is (End − R, End] with
//     R = End − Start rounded up to a millisecond (Loki's range durations
//     are whole milliseconds and exclude their start): for a range of
//     whole milliseconds, every record of [Start, End] but one exactly at
//     Start; otherwise also those less than 1 ms before Start.
//   - A session's extent (First, Last) cannot be read from a metric query
//     (LogQL cannot unwrap a line's timestamp): a query_range of the same
//     count places the first and last record of every session in a step
//     (the window / 10000 rounded up to a millisecond, at least 10 ms:
//     360 ms for an hour, 8.64 s for a day, 60.48 s for a week). The rows
//     returned have their extent read exactly with one forward and one
//     backward log query each (limit=1).
//   - Orders by start, duration and errors (tie-broken by start) are
//     exact: every session whose step bounds may reach the Limit-th is
//     refined the same way before the cut (rankCandidates).
//   - MinDuration is decided by the bounds where they decide it, and by
//     the exact extent of the sessions whose bounds straddle it.
//   - Past maxRefinedSessions sessions to refine (ties over many steps), the
//     rest is ordered or filtered at step precision and a warning says so;
//     so is a session Loki counted but then returned no line of.
//
// A range longer than Loki's max_query_length (30d1h by default, or the
// tenant's lower limit read from a refusal) is asked in consecutive windows
// within it, whose counts add up.
func (s *Store) Sessions(ctx context.Context, q stores.SessionQuery) (stores.SessionPage, error) {
	// A refusal naming a lower tenant limit is remembered and the list
	// asked again within it: at most once per limit, as SearchLogs does.
	var (
		page stores.SessionPage
		err  error
	)
	for attempt := 0; attempt < 3; attempt++ {
		page, err = s.sessions(ctx, q)
		if err == nil || !s.limits.learn(err) {
			break
		}
	}
	return page, err
}

func (s *Store) sessions(ctx context.Context, q stores.SessionQuery) (stores.SessionPage, error) {
	var page stores.SessionPage
	if q.Limit <= 0 {
		return page, errors.New("session index query without a limit")
	}
	if !q.Start.Before(q.End) {
		return page, fmt.Errorf("session index query over an empty range %s..%s", q.Start, q.End)
	}
	sq, err := buildSessionQueries(q)
	if err != nil {
		return page, err
	}
	ws := newSessionWindows(q.Start, q.End, s.limits.queryLength())
	if len(ws) > maxSessionWindows {
		return page, backend.DownstreamError(fmt.Errorf("Loki queries at most %s at a time (max_query_length); a session list covers at most %d×%s, not %s",
			model.Duration(s.limits.queryLength()), maxSessionWindows, model.Duration(s.limits.queryLength()), q.End.Sub(q.Start).Round(time.Second)))
	}

	parts := []partition{{}}
	if q.Sessions != nil {
		parts = nil
		var ids []string
		seen := map[string]bool{}
		for _, id := range q.Sessions {
			if schema.ValidSessionID(id) != nil || seen[id] {
				continue // no session has it
			}
			seen[id] = true
			ids = append(ids, id)
		}
		n := min(sessionIDsPerQuery, s.limits.series())
		for i := 0; i < len(ids); i += n {
			parts = append(parts, partition{ids: ids[i:min(i+n, len(ids))]})
		}
		if len(parts) == 0 {
			return page, nil
		}
	}

	// Records first: its parts are those every other count fits in.
	records, parts, err := s.countSessions(ctx, sq, parts, ws, nil)
	if err != nil {
		return page, err
	}
	aggs := make(map[string]*sessionAgg, len(records))
	for id, n := range records {
		aggs[id] = &sessionAgg{records: n}
	}
	errorsFilter, err := LabelNotEmptyFilter(labelErrorType)
	if err != nil {
		return page, err
	}
	// Errors, matches and extents at once, over the parts records fit in.
	var errs, matched map[string]int
	g, gctx := errgroup.WithContext(ctx)
	safego.Go(g, func() (err error) {
		errs, _, err = s.countSessions(gctx, sq, parts, ws, []string{errorsFilter})
		return err
	})
	if len(sq.recordMatch) > 0 {
		safego.Go(g, func() (err error) {
			matched, _, err = s.countSessions(gctx, sq, parts, ws, sq.recordMatch)
			return err
		})
	}
	safego.Go(g, func() error { return s.placeExtents(gctx, sq, parts, ws, aggs) })
	if err := g.Wait(); err != nil {
		return page, err
	}
	for id, a := range aggs {
		a.errors, a.matched = errs[id], matched[id]
		if (q.ErrorsOnly && a.errors == 0) || (len(sq.recordMatch) > 0 && a.matched == 0) {
			delete(aggs, id)
		}
	}
	if len(aggs) == 0 {
		return page, nil
	}

	budget, unread := maxRefinedSessions, 0
	if q.MinDuration > 0 {
		var unsure []string
		for id, a := range aggs {
			switch {
			case a.lastLo.Sub(a.firstHi) >= q.MinDuration:
			case a.lastHi.Sub(a.firstLo) < q.MinDuration:
				delete(aggs, id)
			default:
				unsure = append(unsure, id)
			}
		}
		sort.Strings(unsure)
		if len(unsure) > budget {
			page.Warnings = append(page.Warnings, fmt.Sprintf("%d sessions last about the minimum duration to within Loki's %s step; %d were measured exactly, the others at step precision", len(unsure), ws.step(), budget))
			unsure = unsure[:budget]
		}
		missed, err := s.refineExtents(ctx, sq, ws, aggs, unsure)
		if err != nil {
			return page, err
		}
		unread += missed
		budget -= len(unsure)
		for id, a := range aggs {
			if a.lastHi.Sub(a.firstHi) < q.MinDuration {
				delete(aggs, id) // refined: exact; otherwise the bounds' best guess
			}
		}
	}
	page.Total = len(aggs)

	cands := rankCandidates(aggs, q.Order, q.Limit)
	var toRefine []string
	for _, id := range cands {
		if !aggs[id].refined {
			toRefine = append(toRefine, id)
		}
	}
	if len(toRefine) > max(budget, q.Limit) {
		page.Warnings = append(page.Warnings, fmt.Sprintf("%d sessions may rank in the first %d to within Loki's %s step; the order among them is at step precision", len(toRefine), q.Limit, ws.step()))
		// Refine the likeliest: rank by the bounds' guess first.
		rows := make([]stores.SessionRow, 0, len(toRefine))
		for _, id := range toRefine {
			rows = append(rows, aggs[id].row(id))
		}
		stores.SortSessionRows(rows, q.Order)
		toRefine = toRefine[:0]
		for _, r := range rows[:max(budget, q.Limit)] {
			toRefine = append(toRefine, r.SessionID)
		}
	}
	missed, err := s.refineExtents(ctx, sq, ws, aggs, toRefine)
	if err != nil {
		return page, err
	}
	if unread += missed; unread > 0 {
		page.Warnings = append(page.Warnings, fmt.Sprintf("Loki counted %d sessions whose lines it then did not return; their start and end are placed to within its %s step", unread, ws.step()))
	}
	for _, id := range cands {
		page.Rows = append(page.Rows, aggs[id].row(id))
	}
	stores.SortSessionRows(page.Rows, q.Order)
	if len(page.Rows) > q.Limit {
		page.Rows = page.Rows[:q.Limit]
	}
	if err := s.rowAttributes(ctx, sq, ws, page.Rows); err != nil {
		return page, err
	}
	return page, nil
}

// rankCandidates returns the sessions that may be among the first limit in
// order o given their exact counts and extent bounds: with k(s) ∈ [lo, hi]
// the order's key, θ the limit-th greatest lo, a session whose hi is below
// θ ranks after at least limit sessions. By errors (exact) the sessions
// above the limit-th's count are in, those below out, and the ones that tie
// with it compete on start. The candidates are the rows to refine.
func rankCandidates(aggs map[string]*sessionAgg, o stores.SessionOrder, limit int) []string {
	ids := make([]string, 0, len(aggs))
	for id := range aggs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	startLo := func(id string) int64 { return aggs[id].firstLo.UnixNano() }
	startHi := func(id string) int64 { return aggs[id].firstHi.UnixNano() }
	switch o {
	case stores.OrderByDuration:
		return byBounds(ids, limit,
			func(id string) int64 { a := aggs[id]; return int64(a.lastLo.Sub(a.firstHi)) },
			func(id string) int64 { a := aggs[id]; return int64(a.lastHi.Sub(a.firstLo)) })
	case stores.OrderByErrors:
		if len(ids) <= limit {
			return ids
		}
		byErr := append([]string(nil), ids...)
		sort.SliceStable(byErr, func(i, j int) bool { return aggs[byErr[i]].errors > aggs[byErr[j]].errors })
		cut := aggs[byErr[limit-1]].errors
		var above, tied []string
		for _, id := range byErr {
			switch e := aggs[id].errors; {
			case e > cut:
				above = append(above, id)
			case e == cut:
				tied = append(tied, id)
			}
		}
		return append(above, byBounds(tied, limit-len(above), startLo, startHi)...)
	default:
		return byBounds(ids, limit, startLo, startHi)
	}
}

// byBounds keeps the ids whose key may be among the limit greatest.
func byBounds(ids []string, limit int, lo, hi func(string) int64) []string {
	if len(ids) <= limit {
		return ids
	}
	los := make([]int64, len(ids))
	for i, id := range ids {
		los[i] = lo(id)
	}
	sort.Slice(los, func(i, j int) bool { return los[i] > los[j] })
	theta := los[limit-1]
	var out []string
	for _, id := range ids {
		if hi(id) >= theta {
			out = append(out, id)
		}
	}
	return out
}

// countSessions runs a per-session count over each part, splitting the
// parts Loki refuses for max_query_series, and returns the counts and the
// parts answered with at least one session.
func (s *Store) countSessions(ctx context.Context, sq sessionQueries, parts []partition, ws sessionWindows, extra []string) (map[string]int, []partition, error) {
	out := map[string]int{}
	var answered []partition
	var mu sync.Mutex
	err := s.eachPart(ctx, parts, func(ctx context.Context, p partition) error {
		counts := map[string]int{}
		for _, w := range ws {
			logQL, err := sq.countQuery(p, w.rng, extra...)
			if err != nil {
				return err
			}
			res, err := s.metricQuery(ctx, queryPath, url.Values{
				"query": {logQL},
				"time":  {strconv.FormatInt(w.end.UnixNano(), 10)},
			}, "vector")
			if err != nil {
				return err
			}
			for _, r := range res.Data.Result {
				n, _ := r.Value.count() // checked by metricQuery
				counts[r.Metric[labelSession]] += n
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range counts {
			out[id] += n
		}
		if len(counts) > 0 { // a part without sessions needs no other query
			answered = append(answered, p)
		}
		return nil
	})
	return out, answered, err
}

// placeExtents places each member's first and last record in a step
// with one query_range of the records count per part and window.
func (s *Store) placeExtents(ctx context.Context, sq sessionQueries, parts []partition, ws sessionWindows, aggs map[string]*sessionAgg) error {
	var mu sync.Mutex
	placed := map[string]bool{}
	err := s.eachPart(ctx, parts, func(ctx context.Context, p partition) error {
		type bounds struct{ firstLo, firstHi, lastLo, lastHi time.Time }
		found := map[string]*bounds{}
		for _, w := range ws {
			logQL, err := sq.countQuery(p, w.step)
			if err != nil {
				return err
			}
			res, err := s.metricQuery(ctx, queryRangePath, url.Values{
				"query": {logQL},
				"start": {strconv.FormatInt(w.point(0).UnixNano(), 10)},
				"end":   {strconv.FormatInt(w.end.UnixNano(), 10)},
				"step":  {stepParam(w.step)},
			}, "matrix")
			if err != nil {
				return err
			}
			for _, r := range res.Data.Result {
				id := r.Metric[labelSession]
				for _, v := range r.Values {
					if n, err := v.count(); err != nil || n == 0 {
						continue
					}
					k := w.bucket(v.t)
					if k < 0 {
						continue
					}
					lo, hi := w.bounds(k)
					b := found[id]
					if b == nil {
						b = &bounds{lo, hi, lo, hi}
						found[id] = b
					}
					if lo.Before(b.firstLo) {
						b.firstLo, b.firstHi = lo, hi
					}
					if hi.After(b.lastHi) {
						b.lastLo, b.lastHi = lo, hi
					}
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for id, b := range found {
			if a := aggs[id]; a != nil { // else not a member (or arrived after the counts)
				a.firstLo, a.firstHi, a.lastLo, a.lastHi = b.firstLo, b.firstHi, b.lastLo, b.lastHi
				placed[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id, a := range aggs {
		if !placed[id] { // counted, but not in the range answer: anywhere in the window
			a.firstLo, a.firstHi, a.lastLo, a.lastHi = ws.from(), ws.end(), ws.from(), ws.end()
		}
	}
	return nil
}

// stepParam renders a step in Prometheus' duration syntax (Loki's step
// takes it or seconds).
func stepParam(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// refineExtents reads the exact first and last device record of each
// session: one forward and one backward log query with limit=1 (over
// the windows from the oldest, and from the newest, until one has a
// line). missed
// counts the sessions Loki counted but returned no line for (lines not yet
// queryable, or gone): they keep their step bounds.
func (s *Store) refineExtents(ctx context.Context, sq sessionQueries, ws sessionWindows, aggs map[string]*sessionAgg, ids []string) (missed int, err error) {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(queryConcurrency)
	for _, id := range ids {
		a := aggs[id]
		if a == nil || a.refined {
			continue
		}
		f, err := LabelFilter(labelSession, id)
		if err != nil {
			return 0, err
		}
		logQL := Query(sq.devices, f)
		safego.Go(g, func() error {
			var ends [2]time.Time
			for i, dir := range []string{"forward", "backward"} {
				var recs []telemetry.LogRecord
				for j := range ws {
					w := ws[j]
					if dir == "backward" {
						w = ws[len(ws)-1-j]
					}
					qr, err := s.logQuery(gctx, logQL, w.from(), w.end, 1, dir)
					if err != nil {
						return err
					}
					if recs, err = toRecords(qr); err != nil {
						return s.client.NotTheAPI(queryRangePath, nil, err)
					}
					if len(recs) > 0 {
						break
					}
				}
				if len(recs) == 0 { // not readable as it was counted: keep the bounds
					mu.Lock()
					missed++
					mu.Unlock()
					return nil
				}
				ends[i] = recs[0].Time
			}
			mu.Lock()
			a.firstLo, a.firstHi, a.lastLo, a.lastHi, a.refined = ends[0], ends[0], ends[1], ends[1], true
			mu.Unlock()
			return nil
		})
	}
	err = g.Wait()
	return missed, err
}

// rowAttributes fills in each row's app attributes: the least value of
// each among the session's device records, from one count by the session
// and the attributes per group of rows.
func (s *Store) rowAttributes(ctx context.Context, sq sessionQueries, ws sessionWindows, rows []stores.SessionRow) error {
	if len(rows) == 0 {
		return nil
	}
	index := map[string]int{}
	var parts []partition
	for i := 0; i < len(rows); i += attributeIDsPerQuery {
		var ids []string
		for _, r := range rows[i:min(i+attributeIDsPerQuery, len(rows))] {
			index[r.SessionID] = len(index)
			ids = append(ids, r.SessionID)
		}
		parts = append(parts, partition{ids: ids})
	}
	least := make([][5]string, len(rows))
	var mu sync.Mutex
	err := s.eachPart(ctx, parts, func(ctx context.Context, p partition) error {
		pf, err := p.filter()
		if err != nil {
			return err
		}
		for _, w := range ws {
			logQL, err := CountBy(append([]string{labelSession}, rowLabels...), Query(sq.devices, pf), w.rng)
			if err != nil {
				return err
			}
			res, err := s.metricQuery(ctx, queryPath, url.Values{
				"query": {logQL},
				"time":  {strconv.FormatInt(w.end.UnixNano(), 10)},
			}, "vector")
			if err != nil {
				return err
			}
			mu.Lock()
			for _, r := range res.Data.Result {
				i, ok := index[r.Metric[labelSession]]
				if !ok {
					continue
				}
				for j, l := range rowLabels {
					if v := r.Metric[l]; v != "" && (least[i][j] == "" || v < least[i][j]) {
						least[i][j] = v
					}
				}
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range rows {
		a := least[index[rows[i].SessionID]]
		rows[i].Service, rows[i].Version, rows[i].OSVersion, rows[i].DeviceModel, rows[i].NetworkType = a[0], a[1], a[2], a[3], a[4]
	}
	return nil
}

// eachPart runs fn over the parts, a few at a time, in rounds: the parts
// Loki refuses for max_query_series are split (16 ways by one more hex
// digit of session-ID prefix, or a list of IDs in halves) and run in the
// next round. Nothing is cut: a part that cannot be split fails the call.
func (s *Store) eachPart(ctx context.Context, parts []partition, fn func(context.Context, partition) error) error {
	for len(parts) > 0 {
		var (
			mu      sync.Mutex
			refused []partition
		)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(queryConcurrency)
		for _, p := range parts {
			safego.Go(g, func() error {
				err := fn(gctx, p)
				n := maxSeriesRefusal(err)
				if n == 0 {
					return err
				}
				if n > 0 {
					s.limits.maxSeries.Lower(int64(n))
				}
				pieces, serr := p.split()
				if serr != nil || n < 0 {
					return fmt.Errorf("%w (%v)", err, serr)
				}
				mu.Lock()
				refused = append(refused, pieces...)
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		parts = refused
	}
	return nil
}

// The JSON of a metric query's answer (Loki HTTP API docs: resultType
// vector for an instant query, matrix for a range; each series' labels
// under "metric", samples as [<unix seconds>, "<value>"]).
type metricResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string         `json:"resultType"`
		Result     []metricSeries `json:"result"`
	} `json:"data"`
}

type metricSeries struct {
	Metric map[string]string `json:"metric"`
	Value  *sample           `json:"value"`
	Values []sample          `json:"values"`
}

type sample struct {
	t float64
	v string
}

func (p *sample) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	if len(parts) != 2 {
		return fmt.Errorf("a sample has %d elements, want 2", len(parts))
	}
	if err := json.Unmarshal(parts[0], &p.t); err != nil {
		return fmt.Errorf("sample timestamp: %w", err)
	}
	if err := json.Unmarshal(parts[1], &p.v); err != nil {
		return fmt.Errorf("sample value: %w", err)
	}
	return nil
}

// count reads a sample's value as a count of lines.
func (p sample) count() (int, error) {
	f, err := strconv.ParseFloat(p.v, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, fmt.Errorf("a count of lines is %q", p.v)
	}
	return int(f), nil
}

// metricQuery runs a metric query and checks its answer is of the type
// asked. A malformed answer is not Loki's API.
func (s *Store) metricQuery(ctx context.Context, path string, params url.Values, resultType string) (*metricResponse, error) {
	var res metricResponse
	if err := s.client.GetJSON(ctx, path, params, &res); err != nil {
		return nil, err
	}
	if res.Status != "success" || res.Data.ResultType != resultType {
		return nil, s.client.NotTheAPI(path, nil, fmt.Errorf("want status success with a %s, got %q/%q", resultType, res.Status, res.Data.ResultType))
	}
	for _, r := range res.Data.Result {
		if resultType == "vector" && r.Value == nil {
			return nil, s.client.NotTheAPI(path, nil, fmt.Errorf("a vector sample without a value: %v", r.Metric))
		}
		if schema.ValidSessionID(r.Metric[labelSession]) != nil {
			return nil, s.client.NotTheAPI(path, nil, fmt.Errorf("a series without a valid %s: %v", labelSession, r.Metric))
		}
		for _, v := range append(r.Values, sampleOrNone(r.Value)...) {
			if _, err := v.count(); err != nil {
				return nil, s.client.NotTheAPI(path, nil, err)
			}
		}
	}
	return &res, nil
}

func sampleOrNone(p *sample) []sample {
	if p == nil {
		return nil
	}
	return []sample{*p}
}
