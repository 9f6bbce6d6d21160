package victorialogs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

var _ stores.SessionCounter = (*Store)(nil)

// SessionCounts counts the sessions active per bucket, and those with a
// failed request, in VictoriaLogs: one `stats` per (bucket, session), then
// one per bucket over those rows. The sampling rates in the window are
// read first (a handful of values), so each rate's sampled sessions — IDs
// below the schema's boundary for the rate — are counted apart and scaled.
func (s *Store) SessionCounts(ctx context.Context, q stores.SessionCountQuery) (stores.SessionCounts, error) {
	var out stores.SessionCounts
	if q.Step <= 0 || !q.End.After(q.Start) {
		return out, fmt.Errorf("session counts need a step and a time range")
	}
	device := sessionRecords(q.Match)
	rateRows, err := s.query(ctx, device+" | stats by ("+quote(schema.AttrStitchSamplingRate)+") count() as records", q.Start, q.End, 0)
	if err != nil {
		return out, err
	}
	type sampled struct {
		rate     float64
		boundary string
	}
	var rates []sampled
	for _, r := range rateRows {
		v := r[schema.AttrStitchSamplingRate]
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 || rate >= 1 {
			continue // no rate, or every session kept: weight 1
		}
		b, err := schema.SessionSampledBelow(rate)
		if err != nil {
			return out, err
		}
		rates = append(rates, sampled{rate, b})
	}
	sort.Slice(rates, func(i, j int) bool { return rates[i].rate < rates[j].rate })

	// LogsQL buckets start at multiples of the step minus the offset; the
	// buckets here start at Start.
	offset := (q.Step - time.Duration(q.Start.UnixNano()%int64(q.Step))) % q.Step
	bucket := fmt.Sprintf("_time:%s offset %s", duration(q.Step), duration(offset))
	by := []string{bucket, quote(schema.AttrSessionID)}
	if q.GroupBy != "" {
		by = append(by, quote(q.GroupBy))
	}
	var b strings.Builder
	b.WriteString(device)
	fmt.Fprintf(&b, " | stats by (%s) count() if (%s:*) as errors, min(%s) as rate", strings.Join(by, ", "), quote(schema.AttrErrorType), quote(schema.AttrStitchSamplingRate))
	outer := []string{"_time"}
	if q.GroupBy != "" {
		outer = append(outer, quote(q.GroupBy))
	}
	fmt.Fprintf(&b, " | stats by (%s) count() as sessions, count() if (errors:>0) as error_sessions", strings.Join(outer, ", "))
	for i, r := range rates {
		in := fmt.Sprintf("rate:=%s AND %s:string_range(\"\", %s)", quote(strconv.FormatFloat(r.rate, 'g', -1, 64)), quote(schema.AttrSessionID), quote(r.boundary))
		fmt.Fprintf(&b, ", count() if (%s) as s%d, count() if (%s AND errors:>0) as e%d", in, i, in, i)
	}
	rows, err := s.query(ctx, b.String(), q.Start, q.End, 0)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		t, err := time.Parse(time.RFC3339Nano, r["_time"])
		if err != nil {
			return out, s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a session count's bucket is not a time: %q", r["_time"]))
		}
		c := stores.SessionCount{Time: t}
		if q.GroupBy != "" {
			c.Group = r[q.GroupBy]
		}
		if c.Sessions, err = strconv.ParseFloat(r["sessions"], 64); err != nil {
			return out, s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a session count is not a number: %q", r["sessions"]))
		}
		if c.ErrorSessions, err = strconv.ParseFloat(r["error_sessions"], 64); err != nil {
			return out, s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a session count is not a number: %q", r["error_sessions"]))
		}
		// A sampled session counts 1/r: 1 already, 1/r − 1 more.
		for i, rt := range rates {
			sn, _ := strconv.ParseFloat(r["s"+strconv.Itoa(i)], 64)
			en, _ := strconv.ParseFloat(r["e"+strconv.Itoa(i)], 64)
			c.Sessions += sn * (1/rt.rate - 1)
			c.ErrorSessions += en * (1/rt.rate - 1)
			out.Weighted = out.Weighted || sn > 0
		}
		out.Buckets = append(out.Buckets, c)
	}
	sort.Slice(out.Buckets, func(i, j int) bool {
		if !out.Buckets[i].Time.Equal(out.Buckets[j].Time) {
			return out.Buckets[i].Time.Before(out.Buckets[j].Time)
		}
		return out.Buckets[i].Group < out.Buckets[j].Group
	})
	return out, nil
}

// sessionRecords selects the app's device records of sessions, with exact
// matches on the app's resource attributes.
func sessionRecords(match []telemetry.KV) string {
	filters := []string{quote(schema.AttrDeviceModelIdentifier) + ":*", quote(schema.AttrSessionID) + ":*"}
	for _, m := range match {
		filters = append(filters, ExactFilter(m.Key, m.Value))
	}
	return And(filters...)
}

// duration writes a duration as LogsQL reads one (whole milliseconds or
// more; "0s" for none).
func duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
