package stores

import (
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// IndexSessions answers a SessionQuery over records in memory: the
// semantics every session index implements, written once for the stores'
// contract tests and the in-memory stores of unit tests.
func IndexSessions(records []telemetry.LogRecord, q SessionQuery) SessionPage {
	var only map[string]bool
	if q.Sessions != nil {
		only = make(map[string]bool, len(q.Sessions))
		for _, id := range q.Sessions {
			only[id] = true
		}
	}
	attr := func(r *telemetry.LogRecord, key string) string {
		if key == schema.AttrServiceName {
			return r.Service
		}
		return r.Attributes.Value(key)
	}
	type agg struct {
		row     SessionRow
		matched bool
	}
	bySession := map[string]*agg{}
	for i := range records {
		r := &records[i]
		sid := r.Attributes.Value(schema.AttrSessionID)
		if attr(r, schema.AttrDeviceModelIdentifier) == "" || sid == "" || (only != nil && !only[sid]) {
			continue
		}
		if (!q.Start.IsZero() && r.Time.Before(q.Start)) || (!q.End.IsZero() && r.Time.After(q.End)) {
			continue
		}
		keep := true
		for _, m := range q.Match {
			keep = keep && attr(r, m.Key) == m.Value
		}
		if !keep {
			continue
		}
		a := bySession[sid]
		if a == nil {
			a = &agg{row: SessionRow{SessionID: sid, First: r.Time, Last: r.Time}, matched: len(q.RecordMatch) == 0}
			bySession[sid] = a
		}
		row := &a.row
		if r.Time.Before(row.First) {
			row.First = r.Time
		}
		if r.Time.After(row.Last) {
			row.Last = r.Time
		}
		row.Records++
		if attr(r, schema.AttrErrorType) != "" {
			row.Errors++
		}
		for _, f := range []struct {
			dst *string
			key string
		}{{&row.Service, schema.AttrServiceName}, {&row.Version, schema.AttrServiceVersion}, {&row.OSVersion, schema.AttrOSVersion},
			{&row.DeviceModel, schema.AttrDeviceModelIdentifier}, {&row.NetworkType, schema.AttrNetworkConnectionType}} {
			if v := attr(r, f.key); v != "" && (*f.dst == "" || v < *f.dst) {
				*f.dst = v
			}
		}
		recordMatches := len(q.RecordMatch) > 0
		for _, m := range q.RecordMatch {
			recordMatches = recordMatches && attr(r, m.Key) == m.Value
		}
		a.matched = a.matched || recordMatches
	}
	var page SessionPage
	for _, a := range bySession {
		if !a.matched || (q.ErrorsOnly && a.row.Errors == 0) || a.row.Last.Sub(a.row.First) < q.MinDuration {
			continue
		}
		page.Rows = append(page.Rows, a.row)
	}
	page.Total = len(page.Rows)
	SortSessionRows(page.Rows, q.Order)
	if q.Limit > 0 && len(page.Rows) > q.Limit {
		page.Rows = page.Rows[:q.Limit]
	}
	return page
}
