package victorialogs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
)

var _ stores.SessionIndex = (*Store)(nil)

// sessionsPerQuery bounds the session IDs one LogsQL query filters on, so
// a query stays a few kilobytes of URL.
const sessionsPerQuery = 200

// Columns of the per-session aggregation.
const (
	colFirst    = "first"
	colLast     = "last"
	colRecords  = "records"
	colErrors   = "errors"
	colMatched  = "matched"
	colDuration = "duration"
)

// Sessions aggregates the device records of [q.Start, q.End] by session.id
// in VictoriaLogs and returns the top q.Limit sessions in q.Order with the
// number that matched: `total_stats count()` counts the per-session rows
// before `sort` and `limit` cut the page, so Total is VictoriaLogs' count,
// never the length of what was read. A restriction to given sessions goes in chunks whose totals add up
// (the chunks are disjoint).
func (s *Store) Sessions(ctx context.Context, q stores.SessionQuery) (stores.SessionPage, error) {
	var page stores.SessionPage
	if q.Limit <= 0 {
		return page, fmt.Errorf("session index query without a limit")
	}
	chunks := [][]string{nil}
	if q.Sessions != nil {
		chunks = nil
		for i := 0; i < len(q.Sessions); i += sessionsPerQuery {
			chunks = append(chunks, q.Sessions[i:min(i+sessionsPerQuery, len(q.Sessions))])
		}
	}
	type answer struct {
		rows  []stores.SessionRow
		total int
	}
	answers := make([]answer, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for ci, chunk := range chunks {
		safego.Go(g, func() error {
			// total_stats counts the per-session rows before the page is
			// sorted and cut: one query gives the page and the total.
			query := SessionPipeline(q, chunk) + " | total_stats count() as total | sort by (" + sessionSortKey(q.Order) + ") | limit " + strconv.Itoa(q.Limit)
			rows, err := s.query(gctx, query, q.Start, q.End, 0)
			if err != nil {
				return err
			}
			for i, r := range rows {
				row, err := toSessionRow(r)
				if err != nil {
					return s.client.NotTheAPI(queryPath, nil, err)
				}
				answers[ci].rows = append(answers[ci].rows, row)
				n, err := strconv.Atoi(r["total"])
				if err != nil {
					return s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a count of sessions is not a number: %q", r["total"]))
				}
				if i > 0 && n != answers[ci].total {
					return s.client.NotTheAPI(queryPath, nil, fmt.Errorf("the rows of one answer carry different totals (%d, %d)", answers[ci].total, n))
				}
				answers[ci].total = n
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return page, err
	}
	for _, a := range answers {
		page.Rows = append(page.Rows, a.rows...)
		page.Total += a.total
	}
	stores.SortSessionRows(page.Rows, q.Order)
	if len(page.Rows) > q.Limit {
		page.Rows = page.Rows[:q.Limit]
	}
	return page, nil
}

// SessionPipeline is the LogsQL that turns the device records of a window
// into one row per matching session: the device records (those with the
// schema's device resource attribute) of sessions, the resource matches
// pushed down as filters, then per session its extent, record and error
// counts and app attributes, then the session-level filters. A record-level
// match (network type) is counted per session, so the session's extent
// still covers all of its records.
func SessionPipeline(q stores.SessionQuery, sessions []string) string {
	var b strings.Builder
	b.WriteString(sessionRecords(q.Match))
	if sessions != nil {
		b.WriteString(" AND " + InFilter(schema.AttrSessionID, sessions))
	}
	fmt.Fprintf(&b, " | stats by (%s) min(_time) as %s, max(_time) as %s, count() as %s, count() if (%s:*) as %s",
		quote(schema.AttrSessionID), colFirst, colLast, colRecords, quote(schema.AttrErrorType), colErrors)
	for _, a := range sessionAttributes {
		fmt.Fprintf(&b, ", min(%s) as %s", quote(a.attr), a.col)
	}
	if len(q.RecordMatch) > 0 {
		var conds []string
		for _, m := range q.RecordMatch {
			conds = append(conds, ExactFilter(m.Key, m.Value))
		}
		fmt.Fprintf(&b, ", count() if (%s) as %s", And(conds...), colMatched)
	}
	fmt.Fprintf(&b, " | math (%s - %s) as %s", colLast, colFirst, colDuration)
	if len(q.RecordMatch) > 0 {
		fmt.Fprintf(&b, " | filter %s:>0", colMatched)
	}
	if q.ErrorsOnly {
		fmt.Fprintf(&b, " | filter %s:>0", colErrors)
	}
	if q.MinDuration > 0 {
		fmt.Fprintf(&b, " | filter %s:>=%d", colDuration, q.MinDuration.Nanoseconds())
	}
	return b.String()
}

// sessionAttributes are the app attributes a row carries, each the least
// value among the session's device records (one app and device per
// session; the network type may change, and the row shows one).
var sessionAttributes = []struct{ attr, col string }{
	{schema.AttrServiceName, "service"},
	{schema.AttrServiceVersion, "version"},
	{schema.AttrOSVersion, "os"},
	{schema.AttrDeviceModelIdentifier, "model"},
	{schema.AttrNetworkConnectionType, "network"},
}

// sessionSortKey is the LogsQL sort of an order; the session ID breaks
// ties, so a page is the same at every call.
func sessionSortKey(o stores.SessionOrder) string {
	id := quote(schema.AttrSessionID)
	switch o {
	case stores.OrderByDuration:
		return colDuration + " desc, " + id
	case stores.OrderByErrors:
		return colErrors + " desc, " + colFirst + " desc, " + id
	default:
		return colFirst + " desc, " + id
	}
}

func toSessionRow(r map[string]string) (stores.SessionRow, error) {
	row := stores.SessionRow{SessionID: r[schema.AttrSessionID]}
	if err := schema.ValidSessionID(row.SessionID); err != nil {
		return row, fmt.Errorf("session row without a valid session.id: %w", err)
	}
	var err error
	if row.First, err = time.Parse(time.RFC3339Nano, r[colFirst]); err != nil {
		return row, fmt.Errorf("session %s: first: %w", row.SessionID, err)
	}
	if row.Last, err = time.Parse(time.RFC3339Nano, r[colLast]); err != nil {
		return row, fmt.Errorf("session %s: last: %w", row.SessionID, err)
	}
	if row.Records, err = strconv.Atoi(r[colRecords]); err != nil {
		return row, fmt.Errorf("session %s: records: %w", row.SessionID, err)
	}
	if row.Errors, err = strconv.Atoi(r[colErrors]); err != nil {
		return row, fmt.Errorf("session %s: errors: %w", row.SessionID, err)
	}
	row.Service, row.Version, row.OSVersion, row.DeviceModel, row.NetworkType = r["service"], r["version"], r["os"], r["model"], r["network"]
	return row, nil
}
