package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// What OTLP ingestion makes of a log record in Loki (Loki docs, "Ingesting
// logs to Loki using OpenTelemetry Collector"): service.name becomes the
// stream label service_name, the record's trace and span IDs, severity and
// scope become structured metadata, attributes become structured metadata
// with "." replaced by "_".
const (
	labelService      = "service_name"
	labelTraceID      = "trace_id"
	labelSpanID       = "span_id"
	labelSeverityText = "severity_text"
	labelSeverityNum  = "severity_number"
	// detected_level is Loki's own level detection, used when a record has
	// no severity text.
	labelDetectedLevel = "detected_level"
)

// Loki's documented query limits (API docs, "Query logs within a range of
// time"; limits_config max_entries_limit_per_query).
const (
	queryRangePath = "/loki/api/v1/query_range"
	// maxEntriesPerQuery is max_entries_limit_per_query's default: Loki
	// refuses a larger limit (a tenant's may be lower; see limits.go).
	maxEntriesPerQuery = 5000
	// traceIDsPerQuery bounds the trace IDs one query filters on (it keeps
	// the URL of a GET short).
	traceIDsPerQuery = 100

	// headerEncodingFlags asks Loki to answer stream labels, structured
	// metadata and parsed labels apart (Loki PR #10419, "Flag categorize
	// labels on streams response"); without it Loki merges them into each
	// stream's labels, which this adapter also reads.
	headerEncodingFlags = "X-Loki-Response-Encoding-Flags"
	flagCategorize      = "categorize-labels"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// The JSON of query_range for log queries.
type queryResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType    string          `json:"resultType"`
		Result        []stream        `json:"result"`
		EncodingFlags []string        `json:"encodingFlags"`
		Stats         json.RawMessage `json:"stats"`
	} `json:"data"`
	Warnings []string `json:"warnings"`
}

type stream struct {
	Stream map[string]string `json:"stream"`
	Values []entry           `json:"values"`
}

// entry is [ts, line] or, categorised, [ts, line, {structuredMetadata, parsed}].
type entry struct {
	ts       string
	line     string
	metadata map[string]string
	parsed   map[string]string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("a log entry has %d elements, want 2 or 3", len(parts))
	}
	if err := json.Unmarshal(parts[0], &e.ts); err != nil {
		return fmt.Errorf("entry timestamp: %w", err)
	}
	if err := json.Unmarshal(parts[1], &e.line); err != nil {
		return fmt.Errorf("entry line: %w", err)
	}
	if len(parts) == 3 {
		var cat struct {
			StructuredMetadata map[string]string `json:"structuredMetadata"`
			Parsed             map[string]string `json:"parsed"`
		}
		if err := json.Unmarshal(parts[2], &cat); err != nil {
			return fmt.Errorf("entry labels: %w", err)
		}
		e.metadata, e.parsed = cat.StructuredMetadata, cat.Parsed
	}
	return nil
}

// SearchLogs returns the log records of a session, or of a set of traces, in
// the time window, oldest first. The session and trace filters are pushed
// down as structured-metadata label filters; many trace IDs go in several
// bounded queries, and a range longer than Loki's max_query_length in
// consecutive windows.
func (s *Store) SearchLogs(ctx context.Context, q stores.LogSearch) (stores.LogSearchResult, error) {
	var res stores.LogSearchResult
	if q.Limit <= 0 {
		return res, errors.New("log search without a limit")
	}
	if q.SessionID == "" && len(q.TraceIDs) == 0 {
		return res, errors.New("log search needs a session ID or trace IDs")
	}
	var filters []string
	if q.SessionID != "" {
		name, err := LabelName(schema.AttrSessionID)
		if err != nil {
			return res, err
		}
		f, err := LabelFilter(name, q.SessionID)
		if err != nil {
			return res, err
		}
		filters = append(filters, f)
	}
	var warnings []string
	batches := [][]string{nil}
	if len(q.TraceIDs) > 0 {
		var ids []string
		for _, id := range q.TraceIDs {
			id = strings.ToLower(id)
			if !hexID.MatchString(id) {
				warnings = append(warnings, fmt.Sprintf("trace ID %q is not 32 hex digits; its logs were not searched", id))
				continue
			}
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return res, backend.DownstreamError(errors.New("log search: no valid trace ID"))
		}
		batches = nil
		for i := 0; i < len(ids); i += traceIDsPerQuery {
			batches = append(batches, ids[i:min(i+traceIDsPerQuery, len(ids))])
		}
	}
	queries := make([]string, 0, len(batches))
	for _, batch := range batches {
		f := filters
		if batch != nil {
			tf, err := LabelRegexFilter(labelTraceID, batch)
			if err != nil {
				return res, err
			}
			f = append(append([]string(nil), filters...), tf)
		}
		queries = append(queries, Query(AllStreams, f...))
	}
	start, end := s.queryRange(q.Start, q.End)
	// A refusal naming a lower tenant limit (max entries, max query length)
	// is remembered and the search asked again within it: at most once per
	// limit, since each retry must learn a lower one.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		res, err = s.searchLogs(ctx, queries, start, end, q.Limit)
		if err == nil || !s.limits.learn(err) {
			break
		}
	}
	if err != nil {
		return stores.LogSearchResult{}, err
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, nil
}

// maxQueryWindows bounds the windows one search is split into for Loki's
// max_query_length (4×30d1h by default); older time is left out, with a
// notice. Splitting rather than clamping keeps the answer the user asked
// for: a session rarely outlasts one window, so this costs nothing then.
const maxQueryWindows = 4

// searchLogs runs each query over each window of [start, end], oldest
// first, until limit records are found.
func (s *Store) searchLogs(ctx context.Context, queries []string, start, end time.Time, want int) (stores.LogSearchResult, error) {
	var res stores.LogSearchResult
	maxEntries := s.limits.entries()
	limit, capped := want, false
	if limit > maxEntries {
		limit, capped = maxEntries, true
	}
	maxLen := s.limits.queryLength()
	windows, clamped := splitQueryRange(start, end, maxLen, maxQueryWindows)
	if clamped {
		res.Warnings = append(res.Warnings, fmt.Sprintf("Loki queries at most %s at a time (max_query_length); searched %d×%s back to %s, not the older part of the range",
			model.Duration(maxLen), maxQueryWindows, model.Duration(maxLen), windows[0].start.UTC().Format(time.RFC3339)))
	}
	pieces := len(queries) * len(windows)
	piece := 0
search:
	for _, logQL := range queries {
		for _, w := range windows {
			piece++
			remaining := limit - len(res.Records)
			// One more than the limit tells the cap cut, where Loki allows it.
			ask := min(remaining+1, maxEntries)
			qr, err := s.queryWindow(ctx, logQL, w, ask)
			if err != nil {
				return res, err
			}
			res.Warnings = append(res.Warnings, qr.Warnings...)
			records, err := toRecords(qr)
			if err != nil {
				return res, s.client.NotTheAPI(queryRangePath, nil, err)
			}
			// Streams come one after the other: order by time before any cut.
			sort.SliceStable(records, func(i, j int) bool { return records[i].Time.Before(records[j].Time) })
			if len(records) > remaining || (len(records) == ask && ask == remaining) {
				// More than asked for, or exactly Loki's maximum with no room
				// to see whether more exist: the cap cut.
				res.Truncated = true
			}
			if len(records) > remaining {
				records = records[:remaining]
			}
			res.Records = append(res.Records, records...)
			if len(res.Records) >= limit {
				if piece < pieces {
					res.Truncated = true // later batches or windows were not searched
				}
				break search
			}
		}
	}
	if res.Truncated && capped {
		res.Warnings = append(res.Warnings, fmt.Sprintf("Loki returns at most %d log lines per query (max_entries_limit_per_query); %d were asked for", maxEntries, want))
	}
	sort.SliceStable(res.Records, func(i, j int) bool { return res.Records[i].Time.Before(res.Records[j].Time) })
	return res, nil
}

// queryRange fills in a search's range when the caller left it open.
func (s *Store) queryRange(start, end time.Time) (time.Time, time.Time) {
	if end.IsZero() {
		end = s.now()
	}
	if start.IsZero() || !start.Before(end) {
		start = end.Add(-time.Hour)
	}
	return start, end
}

// queryWindow runs a log query forward in time over one window. Loki's end
// is exclusive; one nanosecond more keeps a record at the window's end.
func (s *Store) queryWindow(ctx context.Context, logQL string, w queryWindow, limit int) (*queryResponse, error) {
	return s.logQuery(ctx, logQL, w.start, w.end, limit, "forward")
}

// logQuery runs a log query over [start, end] (end included: Loki's is
// exclusive, so one nanosecond more), the first limit lines in direction
// (forward: oldest first; backward: newest first).
func (s *Store) logQuery(ctx context.Context, logQL string, start, end time.Time, limit int, direction string) (*queryResponse, error) {
	params := url.Values{
		"query":     {logQL},
		"start":     {strconv.FormatInt(start.UnixNano(), 10)},
		"end":       {strconv.FormatInt(end.UnixNano()+1, 10)},
		"limit":     {strconv.Itoa(limit)},
		"direction": {direction},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.client.URL(queryRangePath, params), nil)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", queryRangePath, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(headerEncodingFlags, flagCategorize)
	body, err := s.client.Open(req)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	qr, err := decodeQueryRange(body)
	if err != nil {
		return nil, body.NotTheAPI(err)
	}
	return qr, nil
}

// decodeQueryRange reads a query_range answer to a log query, streams, as
// it arrives.
func decodeQueryRange(r io.Reader) (*queryResponse, error) {
	var qr queryResponse
	if err := storehttp.DecodeJSON(r, &qr, nil); err != nil {
		return nil, err
	}
	if qr.Status != "success" || qr.Data.ResultType != "streams" {
		return nil, fmt.Errorf("want status success with streams, got %q/%q", qr.Status, qr.Data.ResultType)
	}
	return &qr, nil
}

// schemaNames maps Loki's label names back to the schema's attribute names
// (session_id -> session.id).
var schemaNames = func() map[string]string {
	m := make(map[string]string, len(schema.AttributeNames))
	for _, n := range schema.AttributeNames {
		if label, err := LabelName(n); err == nil {
			m[label] = n
		}
	}
	return m
}()

// toRecords converts every entry of every stream.
func toRecords(qr *queryResponse) ([]telemetry.LogRecord, error) {
	var out []telemetry.LogRecord
	for _, st := range qr.Data.Result {
		for _, e := range st.Values {
			r, err := toRecord(st.Stream, e)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// toRecord converts one entry. Stream labels, structured metadata and parsed
// labels are read alike (an uncategorised answer has them all in the stream
// labels); later categories win.
func toRecord(streamLabels map[string]string, e entry) (telemetry.LogRecord, error) {
	ns, err := strconv.ParseInt(e.ts, 10, 64)
	if err != nil {
		return telemetry.LogRecord{}, fmt.Errorf("log entry timestamp %q: %w", e.ts, err)
	}
	labels := make(map[string]string, len(streamLabels)+len(e.metadata)+len(e.parsed))
	for _, m := range []map[string]string{streamLabels, e.metadata, e.parsed} {
		for k, v := range m {
			labels[k] = v
		}
	}
	r := telemetry.LogRecord{
		Time:     time.Unix(0, ns).UTC(),
		TraceID:  strings.ToLower(labels[labelTraceID]),
		SpanID:   strings.ToLower(labels[labelSpanID]),
		Service:  labels[labelService],
		Severity: labels[labelSeverityText],
		Body:     e.line,
	}
	if r.Severity == "" {
		r.Severity = labels[labelDetectedLevel]
	}
	if r.Severity == "" {
		r.Severity = labels[labelSeverityNum]
	}
	for k, v := range labels {
		switch k {
		case labelTraceID, labelSpanID, labelService, labelSeverityText, labelDetectedLevel:
			continue
		}
		if name, ok := schemaNames[k]; ok {
			k = name
		}
		r.Attributes = append(r.Attributes, telemetry.KV{Key: k, Value: v})
	}
	r.Attributes = r.Attributes.Sorted()
	return r, nil
}
