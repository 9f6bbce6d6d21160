//go:build integration

package integration

import (
	"context"
	"encoding/hex"
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
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protowire"
)

// A test double of Grafana Tempo's HTTP API, for test code only. Tempo cannot
// run here, so this server answers, from the real stack's Jaeger, exactly the
// request shapes Stitch's Tempo adapter sends (pkg/stores/tempo and its
// testdata/contracts), in the formats Tempo's API documentation gives:
//
//   - GET /api/echo
//   - GET /api/search?q&start&end&limit[&spss] for the TraceQL the adapter
//     builds: {} / { }, or one spanset of "<scope>.<attr> = <literal>" and
//     "<scope>.<attr> != nil" conditions
//     conditions joined by " && "; span sets hold only the matched spans
//   - GET /api/v2/traces/<id>[?start&end] with Accept: application/protobuf:
//     the TraceByIDResponse wrapper (1 trace, 2 metrics) around OTLP
//     TracesData; an unknown ID is 200 with an empty trace, as Tempo 2.6+
//     answers (never 404)
//   - GET /api/traces/<id>[?start&end] (v1, which the adapter asks only of a
//     Tempo without the v2 route): the OTLP trace itself; 404 for an unknown ID
//
// Any other request shape is answered 400 and counted as refused; a test
// using the double fails when it refused anything. No Tempo code is used.
type tempoDouble struct {
	*httptest.Server
	doubleLog
	jaeger string
	client *http.Client
}

func newTempoDouble(t testing.TB, jaegerURL string) *tempoDouble {
	t.Helper()
	d := &tempoDouble{jaeger: strings.TrimRight(jaegerURL, "/"), client: &http.Client{Timeout: 30 * time.Second}}
	d.doubleLog.name = "tempo double"
	d.Server = httptest.NewServer(http.HandlerFunc(d.handle)) // 127.0.0.1
	t.Cleanup(d.Close)
	return d
}

// doubleLog counts what a double served, by request shape, and what it
// refused (with the request and the reason).
type doubleLog struct {
	name    string
	mu      sync.Mutex
	served  map[string]int
	refused []string
}

func (l *doubleLog) serve(shape string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.served == nil {
		l.served = map[string]int{}
	}
	l.served[shape]++
}

// refuse answers 400, as the store does for a request it cannot read, and
// records the request.
func (l *doubleLog) refuse(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.refused = append(l.refused, fmt.Sprintf("%s %s: %s", r.Method, r.URL.RequestURI(), why))
	l.mu.Unlock()
	http.Error(w, l.name+": request shape not recognised: "+why, http.StatusBadRequest)
}

// check fails t for every refused request and logs what was served.
func (l *doubleLog) check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	shapes := make([]string, 0, len(l.served))
	for s, n := range l.served {
		shapes = append(shapes, fmt.Sprintf("%s×%d", s, n))
	}
	sort.Strings(shapes)
	t.Logf("%s served: %s; refused %d", l.name, strings.Join(shapes, ", "), len(l.refused))
	for _, r := range l.refused {
		t.Errorf("%s refused a request the adapter sent: %s", l.name, r)
	}
}

// exactParams checks that q has each required parameter once, optional ones
// at most once, and nothing else.
func exactParams(q url.Values, required, optional []string) error {
	allowed := map[string]bool{}
	for _, k := range required {
		if len(q[k]) != 1 {
			return fmt.Errorf("parameter %q: want exactly one value, got %d", k, len(q[k]))
		}
		allowed[k] = true
	}
	for _, k := range optional {
		if len(q[k]) > 1 {
			return fmt.Errorf("parameter %q given %d times", k, len(q[k]))
		}
		allowed[k] = true
	}
	for k := range q {
		if !allowed[k] {
			return fmt.Errorf("unexpected parameter %q", k)
		}
	}
	return nil
}

func (d *tempoDouble) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		d.refuse(w, r, "method %s", r.Method)
		return
	}
	switch p := r.URL.Path; {
	case p == "/api/echo":
		if len(r.URL.Query()) > 0 {
			d.refuse(w, r, "echo takes no parameters")
			return
		}
		d.serve("echo")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "echo")
	case p == "/api/search":
		d.search(w, r)
	case strings.HasPrefix(p, "/api/v2/traces/"):
		d.traceByID(w, r, strings.TrimPrefix(p, "/api/v2/traces/"), true)
	case strings.HasPrefix(p, "/api/traces/"):
		d.traceByID(w, r, strings.TrimPrefix(p, "/api/traces/"), false)
	default:
		d.refuse(w, r, "no such route")
	}
}

// ---- TraceQL: the shapes the adapter builds, parsed strictly ----

// tqlCond is one "<scope>.<name> = <literal>" condition.
type tqlCond struct {
	scope string // "span", "resource" or "" (either)
	name  string
	value pcommon.Value // typed: string, int, double or bool
	// present is set for "<ref> != nil": the span carries the attribute.
	present bool
}

var (
	tqlPlainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*`)
	tqlInt       = regexp.MustCompile(`^-?[0-9]+`)
	tqlFloat     = regexp.MustCompile(`^-?[0-9]+\.[0-9]+`)
)

// parseTraceQL reads "{}", "{ }" or "{ c1 && c2 … }" and nothing else: no
// other operator, no pipeline, no second spanset.
func parseTraceQL(q string) ([]tqlCond, error) {
	if q == "{}" || q == "{ }" {
		return nil, nil
	}
	if !strings.HasPrefix(q, "{ ") || !strings.HasSuffix(q, " }") {
		return nil, errors.New("not one spanset in braces")
	}
	rest := q[2:]
	var conds []tqlCond
	for {
		c, tail, err := parseTQLCond(rest)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		switch {
		case tail == " }":
			return conds, nil
		case strings.HasPrefix(tail, " && "):
			rest = tail[len(" && "):]
		default:
			return nil, fmt.Errorf("after condition %d: unexpected %q", len(conds), tail)
		}
	}
}

func parseTQLCond(s string) (tqlCond, string, error) {
	var c tqlCond
	switch {
	case strings.HasPrefix(s, "span."):
		c.scope, s = "span", s[len("span."):]
	case strings.HasPrefix(s, "resource."):
		c.scope, s = "resource", s[len("resource."):]
	case strings.HasPrefix(s, "."):
		c.scope, s = "", s[1:]
	default:
		return c, "", fmt.Errorf("condition %q: no span., resource. or . scope", s)
	}
	if strings.HasPrefix(s, `"`) {
		// Quoted attribute name: only \" and \\ escapes.
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
					return c, "", errors.New("bad escape in a quoted attribute name")
				}
				i++
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return c, "", errors.New("unterminated quoted attribute name")
		}
		c.name, s = b.String(), s[i+1:]
	} else {
		m := tqlPlainName.FindString(s)
		if m == "" {
			return c, "", fmt.Errorf("no attribute name at %q", s)
		}
		c.name, s = m, s[len(m):]
	}
	if strings.HasPrefix(s, " != nil") {
		c.present = true
		return c, s[len(" != nil"):], nil
	}
	if !strings.HasPrefix(s, " = ") {
		return c, "", fmt.Errorf("attribute %s: want \" = \" or \" != nil\", got %q", c.name, s)
	}
	s = s[len(" = "):]
	switch {
	case strings.HasPrefix(s, `"`):
		lit, err := strconv.QuotedPrefix(s)
		if err != nil {
			return c, "", fmt.Errorf("string literal: %w", err)
		}
		v, _ := strconv.Unquote(lit)
		c.value, s = pcommon.NewValueStr(v), s[len(lit):]
	case strings.HasPrefix(s, "true"):
		c.value, s = pcommon.NewValueBool(true), s[len("true"):]
	case strings.HasPrefix(s, "false"):
		c.value, s = pcommon.NewValueBool(false), s[len("false"):]
	case tqlFloat.MatchString(s):
		lit := tqlFloat.FindString(s)
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return c, "", err
		}
		c.value, s = pcommon.NewValueDouble(f), s[len(lit):]
	case tqlInt.MatchString(s):
		lit := tqlInt.FindString(s)
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return c, "", err
		}
		c.value, s = pcommon.NewValueInt(n), s[len(lit):]
	default:
		return c, "", fmt.Errorf("attribute %s: no literal at %q", c.name, s)
	}
	return c, s, nil
}

// matchValue compares as TraceQL does: typed, numbers by value.
func matchValue(lit, got pcommon.Value) bool {
	num := func(v pcommon.Value) (float64, bool) {
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return float64(v.Int()), true
		case pcommon.ValueTypeDouble:
			return v.Double(), true
		}
		return 0, false
	}
	switch lit.Type() {
	case pcommon.ValueTypeStr:
		return got.Type() == pcommon.ValueTypeStr && got.Str() == lit.Str()
	case pcommon.ValueTypeBool:
		return got.Type() == pcommon.ValueTypeBool && got.Bool() == lit.Bool()
	}
	a, _ := num(lit)
	b, ok := num(got)
	return ok && a == b
}

// lookup finds a condition's attribute on a span or its resource, by scope.
func (c tqlCond) lookup(span ptrace.Span, resource pcommon.Map) (pcommon.Value, bool) {
	if c.scope != "resource" {
		if v, ok := span.Attributes().Get(c.name); ok {
			return v, true
		}
	}
	if c.scope != "span" {
		if v, ok := resource.Get(c.name); ok {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

// ---- /api/search ----

// The JSON of Tempo's search answer (API docs, "Search").
type tempoSearchTrace struct {
	TraceID           string            `json:"traceID"`
	RootServiceName   string            `json:"rootServiceName"`
	RootTraceName     string            `json:"rootTraceName"`
	StartTimeUnixNano string            `json:"startTimeUnixNano"`
	DurationMs        int64             `json:"durationMs"`
	SpanSets          []tempoSpanSet    `json:"spanSets"`
	start             pcommon.Timestamp // for ordering
}

type tempoSpanSet struct {
	Spans   []tempoSearchSpan `json:"spans"`
	Matched int               `json:"matched"`
}

type tempoSearchSpan struct {
	SpanID            string         `json:"spanID"`
	Name              string         `json:"name"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	DurationNanos     string         `json:"durationNanos"`
	Attributes        []tempoJSONKey `json:"attributes,omitempty"`
}

type tempoJSONKey struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

func otlpJSONValue(v pcommon.Value) map[string]any {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return map[string]any{"intValue": strconv.FormatInt(v.Int(), 10)}
	case pcommon.ValueTypeDouble:
		return map[string]any{"doubleValue": v.Double()}
	case pcommon.ValueTypeBool:
		return map[string]any{"boolValue": v.Bool()}
	}
	return map[string]any{"stringValue": v.AsString()}
}

// Tempo's documented limits the adapter relies on.
const (
	tempoMaxSearchDuration = 168 * time.Hour
	tempoMaxSpss           = 100
)

func (d *tempoDouble) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := exactParams(q, []string{"q", "start", "end", "limit"}, []string{"spss"}); err != nil {
		d.refuse(w, r, "search: %v", err)
		return
	}
	conds, err := parseTraceQL(q.Get("q"))
	if err != nil {
		d.refuse(w, r, "TraceQL %q: %v", q.Get("q"), err)
		return
	}
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	if err := errors.Join(err1, err2); err != nil || end <= start {
		d.refuse(w, r, "start/end are not unix seconds with start < end")
		return
	}
	if time.Duration(end-start)*time.Second > tempoMaxSearchDuration {
		d.refuse(w, r, "range exceeds max_search_duration %s", tempoMaxSearchDuration)
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		d.refuse(w, r, "limit %q", q.Get("limit"))
		return
	}
	spss := 3 // Tempo's default
	if s := q.Get("spss"); s != "" {
		if spss, err = strconv.Atoi(s); err != nil || spss <= 0 || spss > tempoMaxSpss {
			d.refuse(w, r, "spss %q", s)
			return
		}
	}
	if len(conds) > 0 {
		d.serve("search{conditions}")
	} else {
		d.serve("search{}")
	}

	traces, err := d.jaegerSearch(r.Context(), conds, start, end, limit)
	if err != nil {
		http.Error(w, "tempo double: jaeger: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var out []tempoSearchTrace
	for _, td := range traces {
		if st, ok := searchResult(td, conds, spss); ok {
			out = append(out, st)
		}
	}
	// Most recent first, cut at limit.
	sort.SliceStable(out, func(i, j int) bool { return out[i].start > out[j].start })
	if len(out) > limit {
		out = out[:limit]
	}
	res := map[string]any{"metrics": map[string]any{"inspectedTraces": len(traces), "completedJobs": 1, "totalJobs": 1}}
	if len(out) > 0 { // Tempo leaves empty fields out
		res["traces"] = out
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// searchResult is one trace's search answer: its matched spans (at most
// spss), with the attributes the conditions named.
func searchResult(td ptrace.Traces, conds []tqlCond, spss int) (tempoSearchTrace, bool) {
	var st tempoSearchTrace
	var first, last pcommon.Timestamp
	var spans []tempoSearchSpan
	matched := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := ""
		if v, ok := res.Get("service.name"); ok {
			service = v.AsString()
		}
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				sp := ss.At(k)
				if st.TraceID == "" {
					st.TraceID = strings.TrimLeft(hex.EncodeToString(tidBytes(sp.TraceID())), "0") // Tempo drops leading zeros
				}
				if first == 0 || sp.StartTimestamp() < first {
					first = sp.StartTimestamp()
				}
				last = max(last, sp.EndTimestamp())
				if sp.ParentSpanID().IsEmpty() {
					st.RootServiceName, st.RootTraceName = service, sp.Name()
				}
				ok := true
				var attrs []tempoJSONKey
				for _, c := range conds {
					v, found := c.lookup(sp, res)
					if !found || (!c.present && !matchValue(c.value, v)) {
						ok = false
						break
					}
					attrs = append(attrs, tempoJSONKey{Key: c.name, Value: otlpJSONValue(v)})
				}
				if !ok {
					continue
				}
				matched++
				spans = append(spans, tempoSearchSpan{
					SpanID:            hex.EncodeToString(sidBytes(sp.SpanID())),
					Name:              sp.Name(),
					StartTimeUnixNano: strconv.FormatUint(uint64(sp.StartTimestamp()), 10),
					DurationNanos:     strconv.FormatUint(uint64(sp.EndTimestamp()-sp.StartTimestamp()), 10),
					Attributes:        attrs,
				})
			}
		}
	}
	if matched == 0 {
		return st, false
	}
	if st.RootServiceName == "" {
		st.RootServiceName = "<root span not yet received>"
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartTimeUnixNano < spans[j].StartTimeUnixNano })
	if len(spans) > spss {
		spans = spans[:spss]
	}
	st.start = first
	st.StartTimeUnixNano = strconv.FormatUint(uint64(first), 10)
	st.DurationMs = int64(time.Duration(last-first) / time.Millisecond)
	st.SpanSets = []tempoSpanSet{{Spans: spans, Matched: matched}}
	return st, true
}

// jaegerSearch finds candidate traces in Jaeger: its search needs a service,
// so it fans out over every service (or the one a service.name condition
// names), with the other conditions as Jaeger tags (a superset: Jaeger
// matches span and process tags as strings; the spans are filtered exactly
// afterwards).
func (d *tempoDouble) jaegerSearch(ctx context.Context, conds []tqlCond, start, end int64, limit int) ([]ptrace.Traces, error) {
	tags := map[string]string{}
	var services []string
	for _, c := range conds {
		if c.present {
			continue // Jaeger's tags match values only; filtered exactly afterwards
		}
		if c.name == "service.name" && c.scope != "span" {
			services = []string{c.value.AsString()}
			continue
		}
		tags[c.name] = c.value.AsString()
	}
	if services == nil {
		var all []string
		if err := d.jaegerGet(ctx, "/api/services", nil, &all); err != nil {
			return nil, err
		}
		services = all
	}
	tagsJSON, _ := json.Marshal(tags)
	var (
		mu   sync.Mutex
		byID = map[string]ptrace.Traces{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, svc := range services {
		g.Go(func() error {
			p := url.Values{
				"service": {svc},
				"start":   {strconv.FormatInt(start*1_000_000, 10)},
				"end":     {strconv.FormatInt(end*1_000_000, 10)},
				"limit":   {strconv.Itoa(limit)},
			}
			if len(tags) > 0 {
				p.Set("tags", string(tagsJSON))
			}
			var found []jaegerJSONTrace
			if err := d.jaegerGet(gctx, "/api/traces", p, &found); err != nil {
				return fmt.Errorf("service %s: %w", svc, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, jt := range found {
				id := padHex(jt.TraceID, 32)
				if _, ok := byID[id]; ok {
					continue
				}
				td, err := jt.otlp()
				if err != nil {
					return err
				}
				byID[id] = td
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]ptrace.Traces, 0, len(byID))
	for _, td := range byID {
		out = append(out, td)
	}
	return out, nil
}

// errJaegerNotFound is Jaeger's 404.
var errJaegerNotFound = errors.New("jaeger: not found")

func (d *tempoDouble) jaegerGet(ctx context.Context, path string, q url.Values, out any) error {
	u := d.jaeger + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return errJaegerNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jaeger %s: HTTP %d", path, resp.StatusCode)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("jaeger %s: %w", path, err)
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return errJaegerNotFound
	}
	dec := json.NewDecoder(strings.NewReader(string(env.Data)))
	dec.UseNumber()
	return dec.Decode(out)
}

// ---- /api/v2/traces/<id> and /api/traces/<id> ----

var hexTraceID = regexp.MustCompile(`^[0-9a-fA-F]{1,32}$`)

// Field numbers of Tempo's published TraceByIDResponse (the v2 wrapper) and
// of its TraceByIDMetrics.
const (
	v2FieldTrace          protowire.Number = 1
	v2FieldMetrics        protowire.Number = 2
	metricsInspectedBytes protowire.Number = 1
)

func (d *tempoDouble) traceByID(w http.ResponseWriter, r *http.Request, id string, v2 bool) {
	route := "trace v1"
	if v2 {
		route = "trace v2"
	}
	if !hexTraceID.MatchString(id) {
		d.refuse(w, r, "%s: trace ID %q is not hex", route, id)
		return
	}
	q := r.URL.Query()
	if err := exactParams(q, nil, []string{"start", "end"}); err != nil {
		d.refuse(w, r, "%s: %v", route, err)
		return
	}
	jq := url.Values{}
	if q.Has("start") != q.Has("end") {
		d.refuse(w, r, "%s: start and end go together", route)
		return
	}
	if q.Has("start") {
		start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
		end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
		if errors.Join(err1, err2) != nil || end <= start {
			d.refuse(w, r, "%s: start/end are not unix seconds with start < end", route)
			return
		}
		jq.Set("start", strconv.FormatInt(start*1_000_000, 10))
		jq.Set("end", strconv.FormatInt(end*1_000_000, 10))
	}
	if accept := r.Header.Get("Accept"); accept != "application/protobuf" {
		d.refuse(w, r, "%s: Accept %q, want application/protobuf", route, accept)
		return
	}
	id = padHex(id, 32)
	var found []jaegerJSONTrace
	err := d.jaegerGet(r.Context(), "/api/traces/"+id, jq, &found)
	if errors.Is(err, errJaegerNotFound) || (err == nil && len(found) == 0) {
		d.serve(route + " (not found)")
		if v2 {
			// Tempo 2.6+: 200 and a wrapper around an empty trace.
			var empty []byte
			empty = protowire.AppendTag(empty, v2FieldTrace, protowire.BytesType)
			empty = protowire.AppendBytes(empty, nil)
			w.Header().Set("Content-Type", "application/protobuf")
			_, _ = w.Write(empty)
			return
		}
		http.Error(w, "trace not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "tempo double: "+err.Error(), http.StatusInternalServerError)
		return
	}
	td, err := found[0].otlp()
	if err != nil {
		http.Error(w, "tempo double: "+err.Error(), http.StatusInternalServerError)
		return
	}
	trace, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		http.Error(w, "tempo double: "+err.Error(), http.StatusInternalServerError)
		return
	}
	body := trace
	if v2 {
		// The wrapper: 1 trace; 2 metrics {1 inspectedBytes}; 3 status is
		// COMPLETE (0, so left out, as proto3 does); no 4 message.
		var metrics []byte
		metrics = protowire.AppendTag(metrics, metricsInspectedBytes, protowire.VarintType)
		metrics = protowire.AppendVarint(metrics, uint64(len(trace)))
		body = protowire.AppendTag(nil, v2FieldTrace, protowire.BytesType)
		body = protowire.AppendBytes(body, trace)
		body = protowire.AppendTag(body, v2FieldMetrics, protowire.BytesType)
		body = protowire.AppendBytes(body, metrics)
	}
	d.serve(route)
	w.Header().Set("Content-Type", "application/protobuf")
	_, _ = w.Write(body)
}

// ---- Jaeger's JSON → OTLP, as an OTLP store would hold it ----

type jaegerJSONTrace struct {
	TraceID   string                       `json:"traceID"`
	Spans     []jaegerJSONSpan             `json:"spans"`
	Processes map[string]jaegerJSONProcess `json:"processes"`
}

type jaegerJSONSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64          `json:"startTime"` // µs
	Duration  int64          `json:"duration"`  // µs
	Tags      []jaegerJSONKV `json:"tags"`
	Logs      []struct {
		Timestamp int64          `json:"timestamp"`
		Fields    []jaegerJSONKV `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type jaegerJSONKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"` // json.Number for numbers (UseNumber)
}

type jaegerJSONProcess struct {
	ServiceName string         `json:"serviceName"`
	Tags        []jaegerJSONKV `json:"tags"`
}

func padHex(id string, width int) string {
	id = strings.ToLower(id)
	if len(id) < width {
		id = strings.Repeat("0", width-len(id)) + id
	}
	return id
}

func (kv jaegerJSONKV) str() string {
	if s, ok := kv.Value.(string); ok {
		return s
	}
	return fmt.Sprint(kv.Value)
}

// put sets kv in m with its Jaeger type.
func (kv jaegerJSONKV) put(m pcommon.Map) {
	switch kv.Type {
	case "bool":
		if b, ok := kv.Value.(bool); ok {
			m.PutBool(kv.Key, b)
			return
		}
	case "int64":
		if n, ok := kv.Value.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m.PutInt(kv.Key, i)
				return
			}
		}
	case "float64":
		if n, ok := kv.Value.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				m.PutDouble(kv.Key, f)
				return
			}
		}
	}
	m.PutStr(kv.Key, kv.str())
}

func traceIDOf(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	b, err := hex.DecodeString(padHex(s, 32))
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("trace ID %q", s)
	}
	copy(id[:], b)
	return id, nil
}

func spanIDOf(s string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	b, err := hex.DecodeString(padHex(s, 16))
	if err != nil || len(b) != 8 {
		return id, fmt.Errorf("span ID %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// otlp rebuilds the OTLP trace Jaeger translated from: one resource per
// process (service.name plus the process tags), one scope per
// otel.scope.name/version, and the tags Jaeger uses for OpenTelemetry
// fields (span.kind, otel.status_code, …) turned back into those fields.
func (jt jaegerJSONTrace) otlp() (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	type scopeKey struct{ process, name, version string }
	resources := map[string]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.ScopeSpans{}
	for _, js := range jt.Spans {
		rs, ok := resources[js.ProcessID]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			p := jt.Processes[js.ProcessID]
			rs.Resource().Attributes().PutStr("service.name", p.ServiceName)
			for _, kv := range p.Tags {
				kv.put(rs.Resource().Attributes())
			}
			resources[js.ProcessID] = rs
		}
		sk := scopeKey{process: js.ProcessID}
		for _, kv := range js.Tags {
			switch kv.Key {
			case "otel.scope.name", "otel.library.name":
				sk.name = kv.str()
			case "otel.scope.version", "otel.library.version":
				sk.version = kv.str()
			}
		}
		ss, ok := scopes[sk]
		if !ok {
			ss = rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(sk.name)
			ss.Scope().SetVersion(sk.version)
			scopes[sk] = ss
		}
		sp := ss.Spans().AppendEmpty()
		tid, err := traceIDOf(js.TraceID)
		if err != nil {
			return td, err
		}
		sid, err := spanIDOf(js.SpanID)
		if err != nil {
			return td, err
		}
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName(js.OperationName)
		start := time.UnixMicro(js.StartTime)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(js.Duration) * time.Microsecond)))
		parentSet := false
		for _, ref := range js.References {
			rt, err := traceIDOf(ref.TraceID)
			if err != nil {
				return td, err
			}
			rsid, err := spanIDOf(ref.SpanID)
			if err != nil {
				return td, err
			}
			if ref.RefType == "CHILD_OF" && !parentSet && rt == tid {
				sp.SetParentSpanID(rsid)
				parentSet = true
				continue
			}
			l := sp.Links().AppendEmpty()
			l.SetTraceID(rt)
			l.SetSpanID(rsid)
		}
		errorTag := false
		for _, kv := range js.Tags {
			switch kv.Key {
			case "otel.scope.name", "otel.library.name", "otel.scope.version", "otel.library.version":
			case "span.kind":
				sp.SetKind(map[string]ptrace.SpanKind{
					"internal": ptrace.SpanKindInternal, "server": ptrace.SpanKindServer, "client": ptrace.SpanKindClient,
					"producer": ptrace.SpanKindProducer, "consumer": ptrace.SpanKindConsumer,
				}[strings.ToLower(kv.str())])
			case "otel.status_code":
				switch strings.ToUpper(kv.str()) {
				case "ERROR":
					sp.Status().SetCode(ptrace.StatusCodeError)
				case "OK":
					sp.Status().SetCode(ptrace.StatusCodeOk)
				}
			case "otel.status_description":
				sp.Status().SetMessage(kv.str())
			case "error":
				errorTag = kv.str() == "true"
			case "w3c.tracestate":
				sp.TraceState().FromRaw(kv.str())
			default:
				kv.put(sp.Attributes())
			}
		}
		if errorTag && sp.Status().Code() == ptrace.StatusCodeUnset {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		for _, l := range js.Logs {
			ev := sp.Events().AppendEmpty()
			ev.SetTimestamp(pcommon.NewTimestampFromTime(time.UnixMicro(l.Timestamp)))
			for _, f := range l.Fields {
				if f.Key == "event" && ev.Name() == "" {
					ev.SetName(f.str())
					continue
				}
				f.put(ev.Attributes())
			}
		}
	}
	return td, nil
}

func tidBytes(id pcommon.TraceID) []byte { return id[:] }
func sidBytes(id pcommon.SpanID) []byte  { return id[:] }
