package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/schema"
)

// Fuzz tests of the query contract: whatever JSON a panel (or anyone with
// the data source's API) sends, each parser either returns a valid query or
// a *FieldError naming the field at fault, and a valid query parses back to
// itself. `go test` runs the seeds; `go tool mage fuzz` explores.

// querySeeds are realistic panel queries, valid and not.
var querySeeds = []string{
	`{"queryType":"sessions","appService":"stitch-ios","errorsOnly":true,"minDurationMs":250,"limit":50}`,
	`{"queryType":"sessionTimeline","sessionId":"0af7651916cd43dd8448eb211c80319c","frames":["waterfall"]}`,
	`{"queryType":"sessionTimeline","sessionId":"$session"}`,
	`{"queryType":"traceToSession","traceId":"00F067AA0BA902B7"}`,
	`{"queryType":"traceToSession","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
	`{"queryType":"latencyBreakdown","groupBy":["endpoint","app.version"],"limit":10}`,
	`{"queryType":"errorCascades","limit":1000}`,
	`{"queryType":"propagationHealth"}`,
	`{"queryType":"sessionMetrics","metric":"sessions","groupBy":"app.version","lookbackHours":48}`,
	`{"queryType":"sessionMetrics","metric":"newCascadeSignatures","lookbackHours":-1}`,
	`{"limit":"ten","groupBy":[1],"frames":{}}`,
	`{"sessionId":"` + strings.Repeat("é", 60) + `"}`,
	`{"appService":"a\u0000b","endpoint":"` + strings.Repeat("x", 300) + `"}`,
	`{"refId":"A","datasource":{"type":"stitch-sessions-datasource","uid":"stitch"},"hide":false}`,
	`[]`, `null`, `{`, ``,
}

// checkFieldError fails unless err is a *FieldError naming one of fields
// (or the query as a whole) with a message, all valid UTF-8: the message
// reaches Grafana through protobuf, whose strings must be UTF-8.
func checkFieldError(t *testing.T, parser string, raw []byte, err error, fields ...string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s(%q): error %T %v, want a *FieldError", parser, raw, err, err)
	}
	if fe.Msg == "" || !utf8.ValidString(fe.Error()) {
		t.Fatalf("%s(%q): error %q is empty or not UTF-8", parser, raw, fe.Error())
	}
	for _, f := range append(fields, "query") {
		if fe.Field == f {
			return
		}
	}
	t.Fatalf("%s(%q): error names field %q, want one of %v", parser, raw, fe.Field, fields)
}

// reparse marshals a parsed query and parses it again: a valid query is a
// fixed point of its parser.
func reparse[Q any](t *testing.T, parser string, q Q, parse func(json.RawMessage) (Q, error)) {
	t.Helper()
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatalf("%s: marshal %+v: %v", parser, q, err)
	}
	back, err := parse(b)
	if err != nil {
		t.Fatalf("%s: %+v does not parse back: %v", parser, q, err)
	}
	if !reflect.DeepEqual(q, back) {
		t.Fatalf("%s: %+v parses back as %+v", parser, q, back)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range querySeeds {
		f.Add([]byte(s), "")
		f.Add([]byte(s), TypeSessions)
	}
	f.Fuzz(func(t *testing.T, raw []byte, requestType string) {
		qt, err := ParseHeader(raw, requestType)
		if err != nil {
			checkFieldError(t, "ParseHeader", raw, err, "queryType")
			return
		}
		if qt == "" {
			t.Fatalf("ParseHeader(%q, %q): empty type without an error", raw, requestType)
		}
		var h Header
		_ = json.Unmarshal(raw, &h)
		if want := h.QueryType; (want != "" && qt != want) || (want == "" && qt != requestType) {
			t.Fatalf("ParseHeader(%q, %q) = %q: the model's type (%q) wins, else the request's", raw, requestType, qt, want)
		}
		if !utf8.ValidString(qt) {
			return // only a request type can be invalid UTF-8; JSON would replace it
		}
		b, _ := json.Marshal(Header{QueryType: qt})
		if back, err := ParseHeader(b, "other"); err != nil || back != qt {
			t.Fatalf("ParseHeader: %q does not parse back (%q, %v)", qt, back, err)
		}
	})
}

// FuzzParseQuery gives the same JSON to every query parser.
func FuzzParseQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add([]byte(s))
	}
	dims, metrics := correlation.GroupDimensions, correlation.Metrics
	f.Fuzz(func(t *testing.T, raw []byte) {
		if q, err := ParseSessionTimeline(raw); err != nil {
			checkFieldError(t, "ParseSessionTimeline", raw, err, "sessionId", "frames")
		} else {
			if schema.ValidSessionID(q.SessionID) != nil || len(q.Frames) == 0 {
				t.Fatalf("ParseSessionTimeline(%q) = %+v", raw, q)
			}
			for _, fr := range q.Frames {
				if !contains(TimelineFrames, fr) {
					t.Fatalf("ParseSessionTimeline(%q): frame %q", raw, fr)
				}
			}
			reparse(t, "ParseSessionTimeline", q, ParseSessionTimeline)
		}

		if q, err := ParseSessions(raw); err != nil {
			checkFieldError(t, "ParseSessions", raw, err, "appService", "appVersion", "osVersion", "deviceModel", "networkType",
				"endpoint", "errorsOnly", "minDurationMs", "limit")
		} else {
			if q.Limit < 1 || q.Limit > MaxSessionsLimit || q.MinDurationMs < 0 {
				t.Fatalf("ParseSessions(%q) = %+v", raw, q)
			}
			for _, v := range []string{q.AppService, q.AppVersion, q.OSVersion, q.DeviceModel, q.NetworkType, q.Endpoint} {
				if len(v) > maxFilterLength || v != strings.TrimSpace(v) || strings.ContainsAny(v, "\x00\n\r") {
					t.Fatalf("ParseSessions(%q): filter %q", raw, v)
				}
			}
			reparse(t, "ParseSessions", q, ParseSessions)
		}

		if q, err := ParseTraceToSession(raw); err != nil {
			checkFieldError(t, "ParseTraceToSession", raw, err, "traceId")
		} else {
			if len(q.TraceID) != 32 || schema.ValidTraceID(q.TraceID) != nil {
				t.Fatalf("ParseTraceToSession(%q) = %+v", raw, q)
			}
			reparse(t, "ParseTraceToSession", q, ParseTraceToSession)
		}

		parseLatency := func(r json.RawMessage) (LatencyBreakdown, error) { return ParseLatencyBreakdown(r, dims) }
		if q, err := parseLatency(raw); err != nil {
			checkFieldError(t, "ParseLatencyBreakdown", raw, err, "groupBy", "limit")
		} else {
			seen := map[string]bool{}
			for _, g := range q.GroupBy {
				if !contains(dims, g) || seen[g] {
					t.Fatalf("ParseLatencyBreakdown(%q) = %+v", raw, q)
				}
				seen[g] = true
			}
			if len(q.GroupBy) == 0 || q.Limit < 1 || q.Limit > MaxSessionsLimit {
				t.Fatalf("ParseLatencyBreakdown(%q) = %+v", raw, q)
			}
			reparse(t, "ParseLatencyBreakdown", q, parseLatency)
		}

		if q, err := ParseErrorCascades(raw); err != nil {
			checkFieldError(t, "ParseErrorCascades", raw, err, "limit")
		} else {
			if q.Limit < 1 || q.Limit > MaxSessionsLimit {
				t.Fatalf("ParseErrorCascades(%q) = %+v", raw, q)
			}
			reparse(t, "ParseErrorCascades", q, ParseErrorCascades)
		}

		parseMetrics := func(r json.RawMessage) (SessionMetrics, error) { return ParseSessionMetrics(r, metrics, dims) }
		if q, err := parseMetrics(raw); err != nil {
			checkFieldError(t, "ParseSessionMetrics", raw, err, "metric", "groupBy", "lookbackHours")
		} else {
			if !contains(metrics, q.Metric) || (q.GroupBy != "" && !contains(dims, q.GroupBy)) ||
				q.LookbackHours <= 0 || q.LookbackHours > MaxLookbackHours {
				t.Fatalf("ParseSessionMetrics(%q) = %+v", raw, q)
			}
			reparse(t, "ParseSessionMetrics", q, parseMetrics)
		}

		if q, err := ParseExemplarSessions(raw); err != nil {
			checkFieldError(t, "ParseExemplarSessions", raw, err, "endpoint", "minDurationMs", "limit", "errorsOnly")
		} else {
			if q.Endpoint == "" || q.MinDurationMs < 0 || q.Limit < 1 || q.Limit > MaxExemplarSessionsLimit {
				t.Fatalf("ParseExemplarSessions(%q) = %+v", raw, q)
			}
			reparse(t, "ParseExemplarSessions", q, ParseExemplarSessions)
		}
	})
}
