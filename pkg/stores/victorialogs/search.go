package victorialogs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Fields OpenTelemetry log records arrive with in VictoriaLogs.
const (
	fieldTime         = "_time"
	fieldMsg          = "_msg"
	fieldStream       = "_stream"
	fieldStreamID     = "_stream_id"
	fieldTraceID      = "trace_id"
	fieldSpanID       = "span_id"
	fieldService      = "service.name"
	fieldSeverityText = "severity_text"
	fieldSeverityNum  = "severity_number"
)

// traceIDsPerQuery bounds how many trace IDs one LogsQL query filters on.
const traceIDsPerQuery = 100

// SearchLogs returns the log records of a session, or of a set of traces, in
// the time window. Filters and the window are pushed down to VictoriaLogs.
func (s *Store) SearchLogs(ctx context.Context, q stores.LogSearch) (stores.LogSearchResult, error) {
	var res stores.LogSearchResult
	if q.Limit <= 0 {
		return res, errors.New("log search without a limit")
	}
	var filters []string
	if q.SessionID != "" {
		filters = append(filters, ExactFilter(schema.AttrSessionID, q.SessionID))
	}
	// Many trace IDs go in several bounded queries.
	batches := [][]string{nil}
	if len(q.TraceIDs) > 0 {
		batches = nil
		for i := 0; i < len(q.TraceIDs); i += traceIDsPerQuery {
			batches = append(batches, q.TraceIDs[i:min(i+traceIDsPerQuery, len(q.TraceIDs))])
		}
	}
	if q.SessionID == "" && len(q.TraceIDs) == 0 {
		return res, errors.New("log search needs a session ID or trace IDs")
	}
	for _, batch := range batches {
		f := filters
		if batch != nil {
			f = append(append([]string(nil), filters...), InFilter(fieldTraceID, batch))
		}
		// Ask for one more than the limit: that one tells the cap cut.
		// Rows become records as they arrive; reading stops at the limit.
		err := s.queryEach(ctx, And(f...), q.Limit-len(res.Records)+1, s.window(q.Start, q.End), func(row map[string]string) error {
			if len(res.Records) == q.Limit {
				res.Truncated = true
				return errLimitReached
			}
			res.Records = append(res.Records, toRecord(row))
			return nil
		})
		if err != nil && !errors.Is(err, errLimitReached) {
			return res, err
		}
		if res.Truncated {
			break
		}
	}
	sort.SliceStable(res.Records, func(i, j int) bool { return res.Records[i].Time.Before(res.Records[j].Time) })
	return res, nil
}

// errLimitReached ends a search's read once it has its records.
var errLimitReached = errors.New("limit reached")

func (s *Store) query(ctx context.Context, logsQL string, start, end time.Time, limit int) ([]map[string]string, error) {
	return s.queryWith(ctx, logsQL, limit, s.window(start, end))
}

// window is a query's time range parameters.
func (s *Store) window(start, end time.Time) map[string]string {
	extra := map[string]string{}
	if !start.IsZero() {
		extra["start"] = start.UTC().Format(time.RFC3339Nano)
	}
	if !end.IsZero() {
		extra["end"] = end.UTC().Format(time.RFC3339Nano)
	}
	return extra
}

func toRecord(row map[string]string) telemetry.LogRecord {
	r := telemetry.LogRecord{
		TraceID:  strings.ToLower(row[fieldTraceID]),
		SpanID:   strings.ToLower(row[fieldSpanID]),
		Service:  row[fieldService],
		Severity: row[fieldSeverityText],
		Body:     row[fieldMsg],
	}
	if t, err := time.Parse(time.RFC3339Nano, row[fieldTime]); err == nil {
		r.Time = t
	}
	if r.Severity == "" {
		r.Severity = row[fieldSeverityNum]
	}
	for k, v := range row {
		switch k {
		case fieldTime, fieldMsg, fieldStream, fieldStreamID, fieldTraceID, fieldSpanID, fieldService, fieldSeverityText:
			continue
		}
		r.Attributes = append(r.Attributes, telemetry.KV{Key: k, Value: v})
	}
	r.Attributes = r.Attributes.Sorted()
	return r
}

func (s *Store) String() string { return fmt.Sprintf("victorialogs at %s", s.client.Store().Host()) }
