package tempo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Fuzz tests of every reader of Tempo's answers: search and metrics JSON,
// tag values, the trace-by-ID protobuf (v2 wrapper and OTLP trace), and the
// limits read from a 400's text. Seeds are the contract fixtures' answers.

func fuzzStore(tb testing.TB) *Store {
	tb.Helper()
	raw, _ := json.Marshal(map[string]any{"traces": map[string]any{"kind": "tempo", "url": "http://127.0.0.1:1"}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := storehttp.New(s.Traces)
	if err != nil {
		tb.Fatal(err)
	}
	return New(c)
}

// addContractBodies seeds f with the answer of every contract whose file
// name starts with prefix.
func addContractBodies(f *testing.F, prefix string) {
	for _, r := range contracttest.Responses(f) {
		if strings.HasPrefix(r.Name, prefix) {
			f.Add(r.Body)
		}
	}
}

func isHex(id string, width int) bool {
	n, err := normalizeHexID(id, width)
	return err == nil && n == id
}

func FuzzSearchResponse(f *testing.F) {
	addContractBodies(f, "search_")
	f.Add([]byte(`{"traces":[{"traceID":"AF7651916CD43DD8448EB211C80319C","spanSet":{"spans":[{"spanID":"F067AA0BA902B7","startTimeUnixNano":"2","attributes":[{"key":"service.name","value":{"stringValue":"api"}},{"key":"n","value":{"intValue":3}}]},{"spanID":"f067aa0ba902b7","startTimeUnixNano":"1"}],"matched":2}}]}`))
	f.Add([]byte(`{"traces":[{"traceID":"xyz"}]}`))
	f.Add([]byte(`{"metrics":{}}`))
	s := fuzzStore(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var sr searchResponse
		if err := decodeJSON(bytes.NewReader(body), &sr, "traces", "metrics"); err != nil {
			if err := s.client.NotTheAPI(searchPath, body, err); !backend.IsDownstreamError(err) {
				t.Fatalf("%T %v: not the store's fault", err, err)
			}
			return
		}
		for _, st := range sr.Traces {
			tr, err := fromSearchTrace(st)
			if err != nil {
				if !errors.Is(err, errBadID) {
					t.Fatalf("%v does not say which ID is bad", err)
				}
				continue
			}
			if !isHex(tr.TraceID, 32) {
				t.Fatalf("trace ID %q from %q", tr.TraceID, st.TraceID)
			}
			seen := map[string]bool{}
			for i, sp := range tr.Spans {
				if sp.TraceID != tr.TraceID || !isHex(sp.SpanID, 16) || seen[sp.SpanID] {
					t.Fatalf("span %d: IDs %q %q (seen %v)", i, sp.TraceID, sp.SpanID, seen[sp.SpanID])
				}
				seen[sp.SpanID] = true
				if i > 0 && sp.Start.Before(tr.Spans[i-1].Start) {
					t.Fatalf("spans not in start order")
				}
				for _, kv := range sp.Resource {
					if ScopeOf(kv.Key) != ScopeResource {
						t.Fatalf("span attribute %q put on the resource", kv.Key)
					}
				}
				for _, kv := range sp.Attributes {
					if ScopeOf(kv.Key) == ScopeResource {
						t.Fatalf("resource attribute %q put on the span", kv.Key)
					}
				}
			}
		}
	})
}

func FuzzTagValues(f *testing.F) {
	for _, r := range contracttest.Responses(f) {
		if strings.HasPrefix(r.Name, "tag_values") {
			f.Add(r.Body, uint8(0))
			f.Add(r.Body, uint8(1))
		}
	}
	f.Add([]byte(`{"tagValues":[{"value":"a"},{"value":"a"},{"value":""},{"value":"b"}]}`), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, limit uint8) {
		var res tagValuesResponse
		if decodeJSON(bytes.NewReader(body), &res, "tagValues", "metrics") != nil {
			return
		}
		out := distinctValues(&res, int(limit))
		if limit > 0 && len(out) > int(limit) {
			t.Fatalf("%d values, limit %d", len(out), limit)
		}
		// The first occurrences, in order: each value once.
		var want []string
		seen := map[string]bool{}
		for _, tv := range res.TagValues {
			if !seen[tv.Value] {
				seen[tv.Value] = true
				want = append(want, tv.Value)
			}
		}
		if limit > 0 && len(want) > int(limit) {
			want = want[:limit]
		}
		if strings.Join(out, "\x00") != strings.Join(want, "\x00") || len(out) != len(want) {
			t.Fatalf("got %q, want %q", out, want)
		}
	})
}

// FuzzMetricsResponse: session counts are read only from session series,
// samples of the window, and are never negative.
func FuzzMetricsResponse(f *testing.F) {
	addContractBodies(f, "metrics_")
	f.Add([]byte(`{"series":[{"labels":[{"key":"session.id","value":{"stringValue":"s"}}],"samples":[{"timestampMs":"1714555800000","value":-5},{"timestampMs":"1714555800001","value":1e300}]}],"status":"PARTIAL","message":"series limit"}`))
	f.Add([]byte(`{"series":[{"labels":[{"key":"span.session.id","value":{"intValue":"7"}}],"samples":[{"timestampMs":"1714559400000","value":3}]}]}`))
	w := searchWindow{start: 1714555800, end: 1714559400}
	f.Fuzz(func(t *testing.T, body []byte) {
		var mr metricsResponse
		if decodeJSON(bytes.NewReader(body), &mr, "series", "metrics", "status") != nil {
			return
		}
		counts := map[string]int64{}
		addSessionCounts(counts, &mr, w, sessionRef())
		var inWindow int
		for _, series := range mr.Series {
			for _, smp := range series.Samples {
				if sampleInWindow(smp.TimestampMs, w) {
					inWindow++
				}
			}
		}
		for sid, n := range counts {
			if sid == "" || n < 0 {
				t.Fatalf("session %q counted %d", sid, n)
			}
		}
		if inWindow == 0 && len(counts) > 0 {
			t.Fatalf("counts %v without a sample in the window", counts)
		}
	})
}

// FuzzTraceByIDResponse: the v2 wrapper decodes to what re-encodes to an
// equal wrapper, or fails; its trace decodes into spans with hex IDs.
func FuzzTraceByIDResponse(f *testing.F) {
	for _, name := range []string{"trace_v2_complete.pb", "trace_v2_partial.pb", "trace_v2_empty.pb"} {
		b, err := os.ReadFile(filepath.Join("testdata", "otlp", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(encodeTraceByIDResponse(nil, true, "trace exceeds max_bytes_per_trace"))
	f.Fuzz(func(t *testing.T, b []byte) {
		trace, partial, message, err := readWrapperBytes(b)
		if err != nil {
			return
		}
		back, bpartial, bmessage, err := readWrapperBytes(encodeTraceByIDResponse(trace, partial, message))
		if err != nil || !bytes.Equal(back, trace) || bpartial != partial || bmessage != message {
			t.Fatalf("wrapper %q %v %q re-encoded reads as %q %v %q (%v)", trace, partial, message, back, bpartial, bmessage, err)
		}
		checkDecodedTrace(t, trace)
		// Read as a stream, the wrapper gives the spans of its trace read
		// alone (the trace field's occurrences are read one by one, so one
		// that is not a whole TracesData fails even where the
		// concatenation is one).
		tr, _, _, err := decodeTraceV2(bytes.NewReader(b), fuzzTraceID)
		want, werr := decodeTraceV1(bytes.NewReader(trace), fuzzTraceID)
		if errors.Is(err, stores.ErrNotFound) && !errors.Is(werr, stores.ErrNotFound) ||
			err == nil && (werr != nil || len(tr.Spans) != len(want.Spans)) {
			t.Fatalf("the wrapper's trace reads as (%v), its trace alone as (%v)", err, werr)
		}
	})
}

// readWrapperBytes reads a v2 wrapper, keeping its trace's bytes.
func readWrapperBytes(b []byte) (trace []byte, partial bool, message string, err error) {
	w := newWireReader(bytes.NewReader(b))
	partial, message, err = readTraceByIDResponse(w, func(end int64) error {
		if end-w.pos > int64(len(b)) {
			return io.ErrUnexpectedEOF // not read: a fuzzed length would allocate up to the body cap
		}
		part := make([]byte, end-w.pos)
		trace = append(trace, part...)
		return w.read(trace[len(trace)-len(part):])
	})
	return trace, partial, message, err
}

// FuzzTraceOTLP: a v1 answer (an OTLP TracesData) decodes into one span per
// OTLP span with hex IDs, is not found when empty, or fails as not Tempo's.
func FuzzTraceOTLP(f *testing.F) {
	for _, name := range []string{"trace_v1.pb"} {
		b, err := os.ReadFile(filepath.Join("testdata", "otlp", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodedTrace(t, b)
	})
}

const fuzzTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// checkDecodedTrace: a trace read as a stream has the spans pdata finds in
// it whole, or is not found when it has none, or fails where pdata fails.
func checkDecodedTrace(t *testing.T, trace []byte) {
	t.Helper()
	tr, err := decodeTraceV1(bytes.NewReader(trace), fuzzTraceID)
	if err != nil {
		td, werr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(trace)
		if errors.Is(err, stores.ErrNotFound) && (werr != nil || td.SpanCount() != 0) {
			t.Fatalf("not found, but pdata reads %d spans (%v)", td.SpanCount(), werr)
		}
		return
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(trace)
	if err != nil || td.SpanCount() != len(tr.Spans) || len(tr.Spans) == 0 {
		t.Fatalf("%d spans decoded from a trace of %d (%v)", len(tr.Spans), td.SpanCount(), err)
	}
	hexOrEmpty := func(v string, width int) bool { return v == "" || isHex(v, width) }
	for _, sp := range tr.Spans {
		ok := hexOrEmpty(sp.TraceID, 32) && hexOrEmpty(sp.SpanID, 16) && hexOrEmpty(sp.ParentSpanID, 16)
		for _, l := range sp.Links {
			ok = ok && hexOrEmpty(l.TraceID, 32) && hexOrEmpty(l.SpanID, 16)
		}
		if !ok || sp.Duration < 0 {
			t.Fatalf("span %+v", sp)
		}
		if sp.Service != sp.Resource.Value("service.name") {
			t.Fatalf("service %q, resource %v", sp.Service, sp.Resource)
		}
	}
}

// FuzzReadRefusal: a limit read from a Tempo 400 is positive (a count of at
// least 1, a duration of at least a second) and is the number in the text.
func FuzzReadRefusal(f *testing.F) {
	for _, r := range contracttest.Responses(f) {
		if r.Status == 400 {
			f.Add(string(r.Body))
		}
	}
	for _, s := range []string{
		"limit 500 exceeds max limit 0", "limit 5 exceeds max limit 99999999999999999999",
		"spans per span set exceeds 10. received 100",
		"range specified by start and end (1h0m0s) exceeds 30m0s. received start=1 end=2",
		"metrics query time range exceeds the maximum allowed duration of 3h0m0s",
		"metrics query time range exceeds the maximum allowed duration of 0.5s",
		"metrics query time range exceeds the maximum allowed duration of 9999999999h",
	} {
		f.Add(s)
	}
	st := fuzzStore(f).client.Store()
	f.Fuzz(func(t *testing.T, msg string) {
		if _, ok := readRefusal(&storehttp.Error{Store: st, StatusCode: 500, Msg: msg}); ok {
			t.Fatalf("%q: a limit read from a 500", msg)
		}
		r, ok := readRefusal(&storehttp.Error{Store: st, StatusCode: 400, Msg: msg})
		if !ok {
			return
		}
		var l storehttp.LearnedLimit
		switch r.kind {
		case limitSearchTraces, limitSpansPerSpanSet:
			if r.n < 1 || !strings.Contains(msg, strconv.FormatInt(r.n, 10)) {
				t.Fatalf("%q: count limit %d", msg, r.n)
			}
			l.Lower(r.n)
		case limitSearchDuration, limitMetricsDuration:
			if r.d < 1e9 || !strings.Contains(msg, "exceeds") {
				t.Fatalf("%q: duration limit %v", msg, r.d)
			}
			l.Lower(int64(r.d))
		default:
			t.Fatalf("%q: refusal of no kind %+v", msg, r)
		}
		if v := l.Or(math.MaxInt64); v < 1 {
			t.Fatalf("%q: learned %d", msg, v)
		}
	})
}
