//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/otlptranslator"
)

// A test double of Grafana Loki's HTTP API, for test code only. Loki cannot
// run here, so this server answers, from the real stack's VictoriaLogs,
// exactly the request shapes Stitch's Loki adapter sends (pkg/stores/loki and
// its testdata/contracts), in the format Loki's API documentation gives for
// what OTLP ingestion stores:
//
//   - GET /loki/api/v1/query_range?query&start&end&limit&direction with the
//     LogQL the adapter builds: `{service_name=~".+"}`, then optionally
//     ` | session_id="<id>"` and ` | trace_id=~"<32hex>|…"` (≤ 100 IDs);
//     answered as streams whose labels hold service_name (and Loki's other
//     default index labels) and whose entries carry the rest as structured
//     metadata (named as Loki names OTLP attributes: Prometheus'
//     otlptranslator label namer), categorised ([ts, line, {structuredMetadata}],
//     the third element always there, possibly {}) when the request has
//     X-Loki-Response-Encoding-Flags: categorize-labels, merged into the
//     stream labels otherwise. A range longer than Loki's default
//     max_query_length (30d1h) is refused, as a limit above 5000 is.
//   - The session index's queries (pkg/stores/loki/sessions.go), over the
//     device-records log query `{service_name="<app>"|=~".+"}
//     | device_model_identifier!="" | session_id!=""` followed by exact
//     label filters (`| name="v"`), `| error_type!=""` and a session_id
//     part (`| session_id=~"<hex prefix>.*"`, the rest of a prefix
//     `| session_id!~"<hex prefix>[0-9a-f].*"`, or an alternation of IDs):
//     GET /loki/api/v1/query?query&time with
//     `sum by (session_id[, the row attributes]) (count_over_time(<q> [<n>ms]))`,
//     counted by VictoriaLogs (`stats by (…) count()`) over (time − n ms,
//     time] as Loki's range is; GET /loki/api/v1/query_range?query&start&end&step
//     with the same count by session_id over [<step>], each point t
//     counting (t − step, t], answered as a matrix (points of 0 left out,
//     timestamps in seconds at millisecond precision as Loki writes them;
//     more than 11,000 points refused); and log queries
//     `<q> | session_id="<id>"` with limit=1 forward or backward. A count
//     over more series than max_query_series (500, Loki's default; a test
//     may lower it) is answered 400 with Loki's text "maximum of series
//     (500) reached for a single query" — an answer, not a refusal.
//
// Any other request shape is answered 400 and counted as refused; a test
// using the double fails when it refused anything. No Loki code is used.
type lokiDouble struct {
	*httptest.Server
	doubleLog
	vl     string
	client *http.Client
	// maxSeries is the tenant's max_query_series.
	maxSeries int
}

func newLokiDouble(t testing.TB, victoriaLogsURL string) *lokiDouble {
	t.Helper()
	d := &lokiDouble{vl: strings.TrimRight(victoriaLogsURL, "/"), client: &http.Client{Timeout: 30 * time.Second}, maxSeries: lokiMaxSeries}
	d.doubleLog.name = "loki double"
	d.Server = httptest.NewServer(http.HandlerFunc(d.handle)) // 127.0.0.1
	t.Cleanup(d.Close)
	return d
}

// Loki's documented limits and OTLP mapping the adapter relies on.
const (
	lokiAllStreams       = `{service_name=~".+"}`
	lokiMaxEntries       = 5000            // max_entries_limit_per_query
	lokiMaxQueryLength   = 721 * time.Hour // max_query_length (30d1h)
	lokiMaxTraceIDs      = 100             // the adapter's batch size
	lokiFlagsHeader      = "X-Loki-Response-Encoding-Flags"
	lokiFlagCategorize   = "categorize-labels"
	lokiQueryRangeRoute  = "/loki/api/v1/query_range"
	lokiInstantRoute     = "/loki/api/v1/query"
	lokiMaxSeries        = 500   // max_query_series
	lokiMaxPoints        = 11000 // points per series of a query_range
	lokiSessionLabel     = "session_id"
	lokiTraceLabel       = "trace_id"
	victoriaLogsQueryAPI = "/select/logsql/query"
)

// lokiIndexLabels are the resource attributes Loki's OTLP ingestion makes
// stream labels by default (those the demo world sends); everything else of
// a record becomes structured metadata.
var lokiIndexLabels = map[string]bool{
	"service.name": true, "service.namespace": true, "service.instance.id": true,
	"deployment.environment": true, "deployment.environment.name": true,
}

var traceIDAlternation = regexp.MustCompile(`^[0-9a-f]{32}(\|[0-9a-f]{32})*$`)

// logQLFilters is what a parsed query filters on.
type logQLFilters struct {
	sessionID string
	hasSess   bool
	traceIDs  []string
}

// parseLogQL reads the adapter's shapes only: the all-streams selector, an
// optional session_id= filter, then an optional trace_id=~ filter.
func parseLogQL(q string) (logQLFilters, error) {
	var f logQLFilters
	if !strings.HasPrefix(q, lokiAllStreams) {
		return f, fmt.Errorf("selector is not %s", lokiAllStreams)
	}
	rest := q[len(lokiAllStreams):]
	if s, ok := strings.CutPrefix(rest, " | "+lokiSessionLabel+"="); ok {
		lit, err := strconv.QuotedPrefix(s)
		if err != nil {
			return f, fmt.Errorf("session_id literal: %w", err)
		}
		f.sessionID, _ = strconv.Unquote(lit)
		f.hasSess = true
		rest = s[len(lit):]
	}
	if s, ok := strings.CutPrefix(rest, " | "+lokiTraceLabel+"=~"); ok {
		lit, err := strconv.QuotedPrefix(s)
		if err != nil {
			return f, fmt.Errorf("trace_id literal: %w", err)
		}
		re, _ := strconv.Unquote(lit)
		if !traceIDAlternation.MatchString(re) {
			return f, fmt.Errorf("trace_id regex %q is not an alternation of 32-hex IDs", re)
		}
		f.traceIDs = strings.Split(re, "|")
		if len(f.traceIDs) > lokiMaxTraceIDs {
			return f, fmt.Errorf("%d trace IDs in one query", len(f.traceIDs))
		}
		rest = s[len(lit):]
	}
	if rest != "" {
		return f, fmt.Errorf("unexpected %q", rest)
	}
	return f, nil
}

func (d *lokiDouble) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		d.refuse(w, r, "method %s", r.Method)
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == lokiInstantRoute:
		d.handleSessionCount(w, r)
		return
	case r.URL.Path == lokiQueryRangeRoute && q.Has("step"):
		d.handleSessionExtent(w, r)
		return
	case r.URL.Path == lokiQueryRangeRoute && strings.HasPrefix(q.Get("query"), "{") && strings.Contains(q.Get("query"), lokiDeviceFilters):
		d.handleSessionEnd(w, r)
		return
	case r.URL.Path != lokiQueryRangeRoute:
		d.refuse(w, r, "no such route")
		return
	}
	if err := exactParams(q, []string{"query", "start", "end", "limit", "direction"}, nil); err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	f, err := parseLogQL(q.Get("query"))
	if err != nil {
		d.refuse(w, r, "LogQL %q: %v", q.Get("query"), err)
		return
	}
	filtered := f.hasSess || len(f.traceIDs) > 0
	dir := q.Get("direction")
	// Searches go forward in time; only the health check (no filter) reads
	// backward.
	if (filtered && dir != "forward") || (!filtered && dir != "backward") {
		d.refuse(w, r, "direction %q for this query", dir)
		return
	}
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	if errors.Join(err1, err2) != nil || end <= start {
		d.refuse(w, r, "start/end are not nanoseconds with start < end")
		return
	}
	// Loki measures the range in whole milliseconds.
	if length := time.Duration(end/1e6-start/1e6) * time.Millisecond; length > lokiMaxQueryLength {
		d.refuse(w, r, "the query time range exceeds the limit (query length: %s, limit: 30d1h)", length)
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > lokiMaxEntries {
		d.refuse(w, r, "limit %q (Loki allows 1..%d)", q.Get("limit"), lokiMaxEntries)
		return
	}
	categorize, ok := d.encodingFlags(w, r)
	if !ok {
		return
	}
	switch {
	case f.hasSess && len(f.traceIDs) > 0:
		d.serve("query_range session+traces")
	case f.hasSess:
		d.serve("query_range session")
	case len(f.traceIDs) > 0:
		d.serve("query_range traces")
	default:
		d.serve("query_range all")
	}

	rows, err := d.victoriaLogs(r.Context(), f, time.Unix(0, start), time.Unix(0, end), limit, dir == "backward")
	if err != nil {
		http.Error(w, "loki double: victorialogs: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(lokiStreams(rows, categorize))
}

// victoriaLogs runs the query as LogsQL exact filters over [start, end)
// (Loki's end is exclusive), first limit records in the direction.
func (d *lokiDouble) victoriaLogs(ctx context.Context, f logQLFilters, start, end time.Time, limit int, backward bool) ([]map[string]string, error) {
	var filters []string
	if f.hasSess {
		filters = append(filters, strconv.Quote("session.id")+":="+strconv.Quote(f.sessionID))
	}
	if len(f.traceIDs) > 0 {
		quoted := make([]string, len(f.traceIDs))
		for i, id := range f.traceIDs {
			quoted[i] = strconv.Quote(id)
		}
		filters = append(filters, strconv.Quote("trace_id")+":in("+strings.Join(quoted, ",")+")")
	}
	logsQL := "*"
	if len(filters) > 0 {
		logsQL = strings.Join(filters, " AND ")
	}
	order := "_time"
	if backward {
		order = "_time desc"
	}
	logsQL += fmt.Sprintf(" | sort by (%s) limit %d", order, limit)
	return d.victoriaLogsRows(ctx, logsQL, start, end)
}

// victoriaLogsRows runs LogsQL over [start, end) and returns its rows.
func (d *lokiDouble) victoriaLogsRows(ctx context.Context, logsQL string, start, end time.Time) ([]map[string]string, error) {
	params := url.Values{
		"query": {logsQL},
		"start": {start.UTC().Format(time.RFC3339Nano)},
		"end":   {end.Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.vl+victoriaLogsQueryAPI+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d for %s", resp.StatusCode, logsQL)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// lokiLabel is what Loki's OTLP ingestion makes of an attribute name:
// Prometheus' otlptranslator label namer with its default settings (other
// characters become "_", runs of "_" collapse, a leading digit gets "key_");
// "" for a name Loki refuses.
func lokiLabel(name string) string {
	label, err := (&otlptranslator.LabelNamer{}).Build(name)
	if err != nil {
		return ""
	}
	return label
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

// lokiStreams groups VictoriaLogs records into Loki's streams answer.
func lokiStreams(rows []map[string]string, categorize bool) map[string]any {
	byKey := map[string]*lokiStream{}
	var order []string
	for _, row := range rows {
		t, err := time.Parse(time.RFC3339Nano, row["_time"])
		if err != nil {
			continue
		}
		stream, meta := map[string]string{}, map[string]string{}
		for k, v := range row {
			switch {
			case v == "" || k == "_time" || k == "_msg" || k == "_stream" || k == "_stream_id":
			case lokiLabel(k) == "":
			case lokiIndexLabels[k]:
				stream[lokiLabel(k)] = v
			default:
				meta[lokiLabel(k)] = v
			}
		}
		if sev := meta["severity_text"]; sev != "" {
			meta["detected_level"] = strings.ToLower(sev)
		}
		entry := []any{strconv.FormatInt(t.UnixNano(), 10), row["_msg"]}
		if categorize {
			// Loki always sends the third element; {} when there is nothing.
			cat := map[string]any{}
			if len(meta) > 0 {
				cat["structuredMetadata"] = meta
			}
			entry = append(entry, cat)
		} else {
			for k, v := range meta { // uncategorised: metadata joins the labels
				stream[k] = v
			}
		}
		keyParts := make([]string, 0, len(stream))
		for k, v := range stream {
			keyParts = append(keyParts, k+"="+strconv.Quote(v))
		}
		sort.Strings(keyParts)
		key := strings.Join(keyParts, ",")
		s, ok := byKey[key]
		if !ok {
			s = &lokiStream{Stream: stream}
			byKey[key] = s
			order = append(order, key)
		}
		s.Values = append(s.Values, entry)
	}
	result := make([]lokiStream, 0, len(order))
	for _, k := range order {
		result = append(result, *byKey[k])
	}
	data := map[string]any{
		"resultType": "streams",
		"result":     result,
		"stats":      map[string]any{"summary": map[string]any{"totalLinesProcessed": len(rows)}},
	}
	if categorize {
		data["encodingFlags"] = []string{lokiFlagCategorize}
	}
	return map[string]any{"status": "success", "data": data}
}

// encodingFlags reads the response-encoding flags Loki accepts: none, or
// categorize-labels (the structured metadata apart from the stream
// labels). Anything else is refused, and ok is false.
func (d *lokiDouble) encodingFlags(w http.ResponseWriter, r *http.Request) (categorize, ok bool) {
	switch flags := r.Header.Values(lokiFlagsHeader); {
	case len(flags) == 0:
		return false, true
	case len(flags) == 1 && flags[0] == lokiFlagCategorize:
		return true, true
	default:
		d.refuse(w, r, "%s: %q", lokiFlagsHeader, flags)
		return false, false
	}
}
