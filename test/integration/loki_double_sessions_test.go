//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// The Loki double's answers to the session index's queries (see the
// double's header comment): each is translated to LogsQL over the same
// records and answered in Loki's metric-query formats.

// lokiDeviceFilters follow the selector of every session-index query.
const lokiDeviceFilters = ` | device_model_identifier!="" | session_id!=""`

var (
	// The two counts the adapter groups by.
	reLokiSessionCount = regexp.MustCompile(`^sum by \((session_id|session_id, service_name, service_version, os_version, device_model_identifier, network_connection_type)\) \(count_over_time\((.+) \[([1-9][0-9]*)ms\]\)\)$`)
	reLokiFilter       = regexp.MustCompile(`^ \| ([a-zA-Z_][a-zA-Z0-9_]*)(!=|!~|=~|=)`)
	reHexPrefixAny     = regexp.MustCompile(`^([0-9a-f]{1,31})\.\*$`)
	reHexPrefixHex     = regexp.MustCompile(`^([0-9a-f]{0,31})\[0-9a-f\]\.\*$`)
	reSessionIDs       = regexp.MustCompile(`^[0-9a-f]{32}(\|[0-9a-f]{32})*$`)
	reSessionEquals    = regexp.MustCompile(` \| session_id="[0-9a-f]{32}"$`)
	// lokiAttributes maps Loki's label names back to the schema's
	// attribute names (VictoriaLogs' field names).
	lokiAttributes = func() map[string]string {
		m := map[string]string{}
		for _, n := range schema.AttributeNames {
			if l := lokiLabel(n); l != "" {
				m[l] = n
			}
		}
		return m
	}()
)

// sessionLogsQL translates the device-records log query and its filters to
// LogsQL filters.
func sessionLogsQL(q string) (string, error) {
	var filters []string
	switch {
	case strings.HasPrefix(q, lokiAllStreams):
		filters = append(filters, strconv.Quote("service.name")+":*")
		q = q[len(lokiAllStreams):]
	case strings.HasPrefix(q, `{service_name="`):
		lit, err := strconv.QuotedPrefix(q[len(`{service_name=`):])
		if err != nil || !strings.HasPrefix(q[len(`{service_name=`)+len(lit):], "}") {
			return "", fmt.Errorf("selector of %q", q)
		}
		v, _ := strconv.Unquote(lit)
		filters = append(filters, strconv.Quote("service.name")+":="+strconv.Quote(v))
		q = q[len(`{service_name=`)+len(lit)+1:]
	default:
		return "", fmt.Errorf("selector of %q", q)
	}
	rest, ok := strings.CutPrefix(q, lokiDeviceFilters)
	if !ok {
		return "", fmt.Errorf("no device-record filters: %q", q)
	}
	filters = append(filters, strconv.Quote(schema.AttrDeviceModelIdentifier)+":*", strconv.Quote(schema.AttrSessionID)+":*")
	for rest != "" {
		m := reLokiFilter.FindStringSubmatch(rest)
		if m == nil {
			return "", fmt.Errorf("filter %q", rest)
		}
		rest = rest[len(m[0]):]
		lit, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", fmt.Errorf("literal %q: %v", rest, err)
		}
		rest = rest[len(lit):]
		v, _ := strconv.Unquote(lit)
		attr, ok := lokiAttributes[m[1]]
		if !ok {
			return "", fmt.Errorf("label %q is no schema attribute", m[1])
		}
		switch op := m[2]; {
		case op == "=":
			filters = append(filters, strconv.Quote(attr)+":="+strconv.Quote(v))
		case op == "!=" && v == "" && attr == schema.AttrErrorType:
			filters = append(filters, strconv.Quote(attr)+":*")
		case op == "=~" && attr == schema.AttrSessionID && reHexPrefixAny.MatchString(v):
			filters = append(filters, strconv.Quote(attr)+":~"+strconv.Quote("^"+reHexPrefixAny.FindStringSubmatch(v)[1]))
		case op == "!~" && attr == schema.AttrSessionID && reHexPrefixHex.MatchString(v):
			filters = append(filters, "NOT "+strconv.Quote(attr)+":~"+strconv.Quote("^"+reHexPrefixHex.FindStringSubmatch(v)[1]+"[0-9a-f]"))
		case op == "=~" && attr == schema.AttrSessionID && reSessionIDs.MatchString(v) && strings.Count(v, "|") < 100:
			ids := strings.Split(v, "|")
			for i := range ids {
				ids[i] = strconv.Quote(ids[i])
			}
			filters = append(filters, strconv.Quote(attr)+":in("+strings.Join(ids, ",")+")")
		default:
			return "", fmt.Errorf("filter %s%s%s", m[1], m[2], lit)
		}
	}
	return strings.Join(filters, " AND "), nil
}

// parseSessionCount reads a count query: the LogsQL filters, the
// attributes grouped by (session.id first) and the range.
func parseSessionCount(q string) (logsQL string, by []string, rng time.Duration, err error) {
	m := reLokiSessionCount.FindStringSubmatch(q)
	if m == nil {
		return "", nil, 0, fmt.Errorf("not a session count: %q", q)
	}
	if logsQL, err = sessionLogsQL(m[2]); err != nil {
		return "", nil, 0, err
	}
	for _, l := range strings.Split(m[1], ", ") {
		by = append(by, lokiAttributes[l])
	}
	ms, _ := strconv.ParseInt(m[3], 10, 64)
	return logsQL, by, time.Duration(ms) * time.Millisecond, nil
}

func lokiSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func nsTime(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	return time.Unix(0, n), err
}

// tooManySeries answers Loki's refusal of a count over more series than
// max_query_series.
func (d *lokiDouble) tooManySeries(w http.ResponseWriter, n int) bool {
	if n <= d.maxSeries {
		return false
	}
	d.serve("max_query_series refusal")
	http.Error(w, fmt.Sprintf("maximum of series (%d) reached for a single query", d.maxSeries), http.StatusBadRequest)
	return true
}

func writeLokiData(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

// handleSessionCount answers an instant count by session over
// (time − range, time]: VictoriaLogs' stats by the same attributes.
func (d *lokiDouble) handleSessionCount(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := exactParams(q, []string{"query", "time"}, nil); err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	logsQL, by, rng, err := parseSessionCount(q.Get("query"))
	if err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	at, err := nsTime(q.Get("time"))
	if err != nil {
		d.refuse(w, r, "time %q", q.Get("time"))
		return
	}
	if rng > lokiMaxQueryLength {
		d.refuse(w, r, "the query time range exceeds the limit (query length: %s, limit: 30d1h)", rng)
		return
	}
	quoted := make([]string, len(by))
	for i, a := range by {
		quoted[i] = strconv.Quote(a)
	}
	rows, err := d.victoriaLogsRows(r.Context(), logsQL+" | stats by ("+strings.Join(quoted, ", ")+") count() as n", at.Add(-rng+1), at.Add(1))
	if err != nil {
		http.Error(w, "loki double: victorialogs: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if d.tooManySeries(w, len(rows)) {
		return
	}
	d.serve(fmt.Sprintf("query session count by %d", len(by)))
	result := make([]map[string]any, 0, len(rows))
	for _, row := range rows {
		metric := map[string]string{}
		for _, a := range by {
			if v := row[a]; v != "" { // Loki leaves out empty labels
				metric[lokiLabel(a)] = v
			}
		}
		result = append(result, map[string]any{"metric": metric, "value": []any{lokiSeconds(at), row["n"]}})
	}
	writeLokiData(w, map[string]any{"resultType": "vector", "result": result})
}

// handleSessionExtent answers a query_range of the count by session with
// [step] = step: each point t counts (t − step, t]; points of 0 are left
// out, as Loki leaves them.
func (d *lokiDouble) handleSessionExtent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := exactParams(q, []string{"query", "start", "end", "step"}, nil); err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	logsQL, by, rng, err := parseSessionCount(q.Get("query"))
	if err != nil || len(by) != 1 {
		d.refuse(w, r, "session extent query: %v (by %v)", err, by)
		return
	}
	start, err1 := nsTime(q.Get("start"))
	end, err2 := nsTime(q.Get("end"))
	ms, ok := strings.CutSuffix(q.Get("step"), "ms")
	stepMS, err3 := strconv.ParseInt(ms, 10, 64)
	step := time.Duration(stepMS) * time.Millisecond
	if !ok || err1 != nil || err2 != nil || err3 != nil || step <= 0 || end.Before(start) || step != rng {
		d.refuse(w, r, "start/end/step %q/%q/%q with range %s", q.Get("start"), q.Get("end"), q.Get("step"), rng)
		return
	}
	if end.Sub(start)+step > lokiMaxQueryLength {
		d.refuse(w, r, "the query time range exceeds the limit (query length: %s, limit: 30d1h)", end.Sub(start)+step)
		return
	}
	if points := end.Sub(start)/step + 1; points > lokiMaxPoints {
		d.refuse(w, r, "exceeded maximum resolution of 11,000 points per timeseries (%d)", points)
		return
	}
	rows, err := d.victoriaLogsRows(r.Context(), logsQL+" | fields _time, "+strconv.Quote(schema.AttrSessionID), start.Add(-step+1), end.Add(1))
	if err != nil {
		http.Error(w, "loki double: victorialogs: "+err.Error(), http.StatusInternalServerError)
		return
	}
	counts := map[string]map[int]int{}
	for _, row := range rows {
		ts, err := time.Parse(time.RFC3339Nano, row["_time"])
		if err != nil {
			http.Error(w, "loki double: _time "+row["_time"], http.StatusInternalServerError)
			return
		}
		k := int((ts.Sub(start) + step - 1) / step) // the first point at or after it
		id := row[schema.AttrSessionID]
		if counts[id] == nil {
			counts[id] = map[int]int{}
		}
		counts[id][k]++
	}
	if d.tooManySeries(w, len(counts)) {
		return
	}
	d.serve("query_range session extent")
	result := make([]map[string]any, 0, len(counts))
	for id, byK := range counts {
		ks := make([]int, 0, len(byK))
		for k := range byK {
			ks = append(ks, k)
		}
		sort.Ints(ks)
		values := make([][]any, 0, len(ks))
		for _, k := range ks {
			values = append(values, []any{lokiSeconds(start.Add(time.Duration(k) * step)), strconv.Itoa(byK[k])})
		}
		result = append(result, map[string]any{"metric": map[string]string{"session_id": id}, "values": values})
	}
	writeLokiData(w, map[string]any{"resultType": "matrix", "result": result})
}

// handleSessionEnd answers the log query of one session's first or last
// device record: limit=1, forward or backward, over [start, end).
func (d *lokiDouble) handleSessionEnd(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := exactParams(q, []string{"query", "start", "end", "limit", "direction"}, nil); err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	if !reSessionEquals.MatchString(q.Get("query")) || q.Get("limit") != "1" {
		d.refuse(w, r, "a session's end: one session_id, limit 1")
		return
	}
	logsQL, err := sessionLogsQL(q.Get("query"))
	if err != nil {
		d.refuse(w, r, "%v", err)
		return
	}
	order := "_time"
	switch q.Get("direction") {
	case "forward":
	case "backward":
		order = "_time desc"
	default:
		d.refuse(w, r, "direction %q", q.Get("direction"))
		return
	}
	start, err1 := nsTime(q.Get("start"))
	end, err2 := nsTime(q.Get("end"))
	if err1 != nil || err2 != nil || !start.Before(end) || time.Duration(end.UnixMilli()-start.UnixMilli())*time.Millisecond > lokiMaxQueryLength {
		d.refuse(w, r, "start/end %s..%s", start, end)
		return
	}
	categorize, ok := d.encodingFlags(w, r)
	if !ok {
		return
	}
	rows, err := d.victoriaLogsRows(r.Context(), logsQL+" | sort by ("+order+") limit 1", start, end)
	if err != nil {
		http.Error(w, "loki double: victorialogs: "+err.Error(), http.StatusInternalServerError)
		return
	}
	d.serve("query_range session " + q.Get("direction"))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(lokiStreams(rows, categorize))
}
