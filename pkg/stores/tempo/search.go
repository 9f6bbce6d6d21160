package tempo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Tempo's documented search defaults and limits (API docs, "Search"; and the
// query frontend's max_search_duration).
const (
	// maxSearchWindow is the default longest range one search may cover.
	maxSearchWindow = 168 * time.Hour
	// maxSearchWindows bounds the searches one query splits into: ranges
	// beyond maxSearchWindows*maxSearchWindow are clamped, with a warning.
	maxSearchWindows = 4
	// spansPerSpanSet is the spss Stitch asks for (Tempo's default is 3,
	// its maximum 100).
	spansPerSpanSet = 100
	// defaultSearchLimit is Tempo's own default limit, used when a search
	// asks for none.
	defaultSearchLimit = 20
	// maxSearchLimit is the largest limit Tempo accepts.
	maxSearchLimit = 262144
)

const searchPath = "/api/search"

// The JSON of /api/search (API docs, "Search", TraceQL example).
type searchResponse struct {
	Traces  []searchTrace   `json:"traces"`
	Metrics json.RawMessage `json:"metrics"`
}

type searchTrace struct {
	TraceID           string        `json:"traceID"`
	RootServiceName   string        `json:"rootServiceName"`
	RootTraceName     string        `json:"rootTraceName"`
	StartTimeUnixNano string        `json:"startTimeUnixNano"`
	DurationMs        int64         `json:"durationMs"`
	SpanSet           *jsonSpanSet  `json:"spanSet"` // older Tempo: the first span set only
	SpanSets          []jsonSpanSet `json:"spanSets"`
}

type jsonSpanSet struct {
	Spans   []jsonSearchSpan `json:"spans"`
	Matched int              `json:"matched"`
}

type jsonSearchSpan struct {
	SpanID            string       `json:"spanID"`
	Name              string       `json:"name"`
	StartTimeUnixNano string       `json:"startTimeUnixNano"`
	DurationNanos     string       `json:"durationNanos"`
	Attributes        []jsonKeyVal `json:"attributes"`
}

// jsonKeyVal is an OTLP/JSON attribute (key + AnyValue).
type jsonKeyVal struct {
	Key   string       `json:"key"`
	Value jsonAnyValue `json:"value"`
}

type jsonAnyValue struct {
	StringValue *string         `json:"stringValue"`
	IntValue    json.RawMessage `json:"intValue"` // a string in OTLP/JSON, a number from some encoders
	DoubleValue *float64        `json:"doubleValue"`
	BoolValue   *bool           `json:"boolValue"`
}

func (v jsonAnyValue) String() string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case len(v.IntValue) > 0:
		return strings.Trim(string(v.IntValue), `"`)
	case v.DoubleValue != nil:
		return strconv.FormatFloat(*v.DoubleValue, 'g', -1, 64)
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	}
	return ""
}

// searchWindow is one [start, end] range of a split search, in unix seconds.
type searchWindow struct{ start, end int64 }

// splitWindows cuts [start, end] into ranges of at most maxLen, newest first
// (sessions are searched from the most recent), and at most maxWindows of
// them; clamped says that older time was left out.
func splitWindows(start, end time.Time, maxLen time.Duration, maxWindows int) (windows []searchWindow, clamped bool) {
	s, e := start.Unix(), ceilUnix(end)
	if e <= s {
		e = s + 1
	}
	step := int64(maxLen / time.Second)
	for hi := e; hi > s; hi -= step {
		if len(windows) == maxWindows {
			return windows, true
		}
		windows = append(windows, searchWindow{start: max(s, hi-step), end: hi})
	}
	return windows, false
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// searchRange fills in a search's range when the caller left it open: Tempo
// without start/end searches only recent data, so Stitch always sends both.
// An end near now is stretched by ClockSkewAllowance, so spans stamped by a
// device clock running ahead are inside the range.
func (s *Store) searchRange(start, end time.Time) (time.Time, time.Time) {
	if end.IsZero() {
		end = s.now()
	}
	if start.IsZero() || !start.Before(end) {
		start = end.Add(-time.Hour)
	}
	return start, s.skewedEnd(end)
}

// SearchTraces runs a TraceQL search for spans carrying every attribute.
// Tempo answers with span sets (the matched spans of each trace, up to spss),
// so the result is not Complete: the engine fetches each trace by ID.
func (s *Store) SearchTraces(ctx context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	res := stores.TraceSearchResult{}
	var present []string
	for _, name := range q.Present {
		ref, err := AttrRef(ScopeOf(name), name)
		if err != nil {
			return res, backend.DownstreamError(fmt.Errorf("tempo search: %w", err))
		}
		present = append(present, ref+" != nil")
	}
	traceQL, err := SpansetFilter(q.Attributes, present...)
	if err != nil {
		return res, backend.DownstreamError(fmt.Errorf("tempo search: %w", err))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	limit = min(limit, maxSearchLimit)
	start, end := s.searchRange(q.Start, q.End)
	found, truncated, warnings, err := s.search(ctx, traceQL, start, end, limit)
	if err != nil {
		return res, err
	}
	res.Traces, res.Truncated, res.Warnings = found, truncated, warnings
	return res, nil
}

// search runs one TraceQL query over [start, end], split into Tempo's
// longest window, newest window first, until limit traces are found. A
// refusal naming a lower tenant limit (traces per search, spans per span
// set, range) is remembered and the search asked again within it; each
// retry must learn a new, lower limit, so there are at most three.
func (s *Store) search(ctx context.Context, traceQL string, start, end time.Time, limit int) (traces []telemetry.Trace, truncated bool, warnings []string, err error) {
	var learned []string
	for attempt := 0; ; attempt++ {
		traces, truncated, warnings, err = s.searchWindows(ctx, traceQL, start, end, limit)
		if err == nil || attempt == 3 {
			break
		}
		note, ok := s.learnSearchLimit(err)
		if !ok {
			break
		}
		if note != "" {
			learned = append(learned, note)
		}
	}
	if err != nil {
		return nil, false, nil, err
	}
	return traces, truncated, append(learned, warnings...), nil
}

// learnSearchLimit reads a search refusal's limit and lowers the adapter's
// to it; the note tells the user what the tenant's limit cost.
func (s *Store) learnSearchLimit(err error) (string, bool) {
	r, ok := readRefusal(err)
	if !ok {
		return "", false
	}
	switch r.kind {
	case limitSearchTraces:
		if s.limits.searchTraces.Lower(r.n) {
			return fmt.Sprintf("Tempo returns at most %d traces per search for this tenant (its search max limit)", r.n), true
		}
	case limitSpansPerSpanSet:
		if s.limits.spansPerSet.Lower(r.n) {
			return fmt.Sprintf("Tempo returns at most %d matching spans per trace for this tenant (max_spans_per_span_set)", r.n), true
		}
	case limitSearchDuration:
		if s.limits.searchWindow.Lower(int64(r.d)) {
			return "", true // the split is complete; a clamp says so itself
		}
	}
	return "", false
}

func (s *Store) searchWindows(ctx context.Context, traceQL string, start, end time.Time, limit int) (traces []telemetry.Trace, truncated bool, warnings []string, err error) {
	windowLen := s.limits.searchWindowLen()
	windows, clamped := splitWindows(start, end, windowLen, maxSearchWindows)
	if clamped {
		oldest := time.Unix(windows[len(windows)-1].start, 0).UTC()
		warnings = append(warnings, fmt.Sprintf("Tempo searches at most %s at a time; searched %d×%s back to %s, not the older part of the range",
			windowLen, maxSearchWindows, windowLen, oldest.Format(time.RFC3339)))
	}
	byID := map[string]int{}
	for _, w := range windows {
		ask := min(limit-len(traces), s.limits.maxSearchTraces())
		if ask <= 0 {
			truncated = true
			break
		}
		params := url.Values{
			"q":     {traceQL},
			"start": {strconv.FormatInt(w.start, 10)},
			"end":   {strconv.FormatInt(w.end, 10)},
			"limit": {strconv.Itoa(ask)},
			"spss":  {strconv.Itoa(s.limits.spansPerSpanSet())},
		}
		var sr searchResponse
		if err := s.getJSON(ctx, searchPath, params, &sr, "traces", "metrics"); err != nil {
			return nil, false, nil, err
		}
		if len(sr.Traces) >= ask {
			truncated = true
		}
		for _, st := range sr.Traces {
			t, err := fromSearchTrace(st)
			if err != nil {
				return nil, false, nil, s.client.NotTheAPI(searchPath, nil, err)
			}
			if i, ok := byID[t.TraceID]; ok {
				mergeSpans(&traces[i], t)
				continue
			}
			byID[t.TraceID] = len(traces)
			traces = append(traces, t)
		}
	}
	if len(traces) > limit {
		traces, truncated = traces[:limit], true
	}
	return traces, truncated, warnings, nil
}

// getJSON GETs a Tempo JSON answer that must carry one of the keys want:
// Tempo leaves empty fields out of its JSON (an empty search may be only
// {"metrics":{}}), and an answer with none of them is another API talking.
func (s *Store) getJSON(ctx context.Context, path string, params url.Values, out any, want ...string) error {
	body, err := s.client.Stream(ctx, path, params, "application/json")
	if err != nil {
		return err
	}
	defer body.Close()
	if err := decodeJSON(body, out, want...); err != nil {
		return body.NotTheAPI(err)
	}
	return nil
}

// decodeJSON decodes a Tempo JSON answer as it is read; it must carry one
// of the keys want (see getJSON).
func decodeJSON(r io.Reader, out any, want ...string) error {
	found := false
	err := storehttp.DecodeJSON(r, out, func(key string) {
		found = found || slices.Contains(want, key)
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("none of the fields %q", want)
	}
	return nil
}

// fromSearchTrace converts one search result: the spans of its span sets,
// each returned attribute put on the span or on its resource by the schema's
// scope (Tempo returns the matched attributes without their scope).
func fromSearchTrace(st searchTrace) (telemetry.Trace, error) {
	id, err := normalizeHexID(st.TraceID, 32)
	if err != nil {
		return telemetry.Trace{}, fmt.Errorf("trace ID: %w", err)
	}
	t := telemetry.Trace{TraceID: id}
	sets := st.SpanSets
	if len(sets) == 0 && st.SpanSet != nil {
		sets = []jsonSpanSet{*st.SpanSet}
	}
	seen := map[string]bool{}
	for _, set := range sets {
		for _, js := range set.Spans {
			sid, err := normalizeHexID(js.SpanID, 16)
			if err != nil {
				return telemetry.Trace{}, fmt.Errorf("trace %s: span ID: %w", id, err)
			}
			if seen[sid] {
				continue
			}
			seen[sid] = true
			sp := telemetry.Span{TraceID: id, SpanID: sid, Name: js.Name}
			if ns, err := strconv.ParseInt(js.StartTimeUnixNano, 10, 64); err == nil {
				sp.Start = time.Unix(0, ns).UTC()
			}
			if ns, err := strconv.ParseInt(js.DurationNanos, 10, 64); err == nil {
				sp.Duration = time.Duration(ns)
			}
			for _, kv := range js.Attributes {
				v := telemetry.KV{Key: kv.Key, Value: kv.Value.String()}
				if ScopeOf(kv.Key) == ScopeResource {
					sp.Resource = append(sp.Resource, v)
				} else {
					sp.Attributes = append(sp.Attributes, v)
				}
				if kv.Key == "service.name" {
					sp.Service = v.Value
				}
			}
			t.Spans = append(t.Spans, sp)
		}
	}
	sort.SliceStable(t.Spans, func(i, j int) bool { return t.Spans[i].Start.Before(t.Spans[j].Start) })
	return t, nil
}

// mergeSpans adds the spans of b that a lacks (a trace found in two windows).
func mergeSpans(a *telemetry.Trace, b telemetry.Trace) {
	seen := make(map[string]bool, len(a.Spans))
	for _, sp := range a.Spans {
		seen[sp.SpanID] = true
	}
	for _, sp := range b.Spans {
		if !seen[sp.SpanID] {
			a.Spans = append(a.Spans, sp)
		}
	}
}

// errBadID is returned for a trace or span ID that is not hex.
var errBadID = errors.New("not a hex ID")

// normalizeHexID lowercases a hex ID and left-pads it with zeros to width:
// Tempo's JSON may drop leading zeros.
func normalizeHexID(id string, width int) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" || len(id) > width {
		return "", fmt.Errorf("%w: %q", errBadID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("%w: %q", errBadID, id)
		}
	}
	return strings.Repeat("0", width-len(id)) + id, nil
}
