package loki

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Fuzz tests of the readers of Loki's answers: query_range JSON and the
// tenant limits read from a 400's text. Seeds are the contract fixtures'
// answers.

func fuzzStore(tb testing.TB) *Store {
	tb.Helper()
	raw, _ := json.Marshal(map[string]any{"logs": map[string]any{"kind": "loki", "url": "http://127.0.0.1:1"}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := storehttp.New(s.Logs)
	if err != nil {
		tb.Fatal(err)
	}
	return New(c)
}

// FuzzQueryRange: a query_range answer gives one record per entry, at the
// entry's nanosecond, with the entry's line, and its labels (less those
// the record has fields for) as sorted attributes; or it fails as not
// Loki's answer.
func FuzzQueryRange(f *testing.F) {
	for _, r := range contracttest.Responses(f) {
		f.Add(r.Body)
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"service_name":"api","session_id":"s"},"values":[["2","b",{"structuredMetadata":{"trace_id":"AB"},"parsed":{"session_id":"t"}}],["1","a"]]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"values":[["x","a"]]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	s := fuzzStore(f)
	reserved := map[string]bool{labelTraceID: true, labelSpanID: true, labelService: true, labelSeverityText: true, labelDetectedLevel: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		qr, err := decodeQueryRange(bytes.NewReader(body))
		if err != nil {
			if err := s.client.NotTheAPI(queryRangePath, body, err); !backend.IsDownstreamError(err) {
				t.Fatalf("%T %v: not the store's fault", err, err)
			}
			return
		}
		records, err := toRecords(qr)
		if err != nil {
			return
		}
		i := 0
		for _, st := range qr.Data.Result {
			for _, e := range st.Values {
				r := records[i]
				i++
				ns, err := strconv.ParseInt(e.ts, 10, 64)
				if err != nil || !r.Time.Equal(time.Unix(0, ns)) || r.Body != e.line {
					t.Fatalf("entry %+v became %+v", e, r)
				}
				if !sort.SliceIsSorted(r.Attributes, func(i, j int) bool { return r.Attributes[i].Key < r.Attributes[j].Key }) {
					t.Fatalf("attributes not sorted: %v", r.Attributes)
				}
				labels := map[string]bool{}
				for _, m := range []map[string]string{st.Stream, e.metadata, e.parsed} {
					for k := range m {
						labels[k] = true
					}
				}
				want := 0
				for k := range labels {
					if !reserved[k] {
						want++
					}
				}
				if len(r.Attributes) != want {
					t.Fatalf("labels %v gave attributes %v", labels, r.Attributes)
				}
			}
		}
		if i != len(records) {
			t.Fatalf("%d entries gave %d records", i, len(records))
		}
	})
}

// FuzzLearnLimits: a limit learned from a Loki 400 keeps the adapter's
// limits positive and at most Loki's defaults, and the same refusal never
// teaches twice (so retries end).
func FuzzLearnLimits(f *testing.F) {
	for _, r := range contracttest.Responses(f) {
		if r.Status == 400 {
			f.Add(string(r.Body))
		}
	}
	for _, s := range []string{
		"max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 0)",
		"max entries limit per query exceeded, limit > max_entries_limit (101 > 100)",
		"the query time range exceeds the limit (query length: 745h0m0s, limit: 30d1h)",
		"the query time range exceeds the limit (query length: 2h, limit: 30s)",
		"the query time range exceeds the limit (query length: 1y, limit: 99999999999y)",
		"the query time range exceeds the limit (query length: x, limit: 1.5h)",
	} {
		f.Add(s)
	}
	st := fuzzStore(f).client.Store()
	f.Fuzz(func(t *testing.T, msg string) {
		var l tenantLimits
		if l.learn(&storehttp.Error{Store: st, StatusCode: 500, Msg: msg}) {
			t.Fatalf("%q: a limit learned from a 500", msg)
		}
		learned := l.learn(&storehttp.Error{Store: st, StatusCode: 400, Msg: msg})
		entries, length := l.entries(), l.queryLength()
		if entries < 1 || entries > maxEntriesPerQuery || length < time.Minute || length > defaultMaxQueryLength {
			t.Fatalf("%q: limits %d entries, %v", msg, entries, length)
		}
		if !learned && (entries < maxEntriesPerQuery || length < defaultMaxQueryLength) {
			t.Fatalf("%q: learned=%v but limits %d entries, %v", msg, learned, entries, length)
		}
		if l.learn(&storehttp.Error{Store: st, StatusCode: 400, Msg: msg}) {
			t.Fatalf("%q: the same refusal taught twice", msg)
		}
	})
}

// FuzzSessionQueries: whatever the matched values, the session index's
// log query reads back as the selector and filters it was built from, each
// value whole (nothing a value holds ends its literal).
func FuzzSessionQueries(f *testing.F) {
	f.Add("stitch-ios", "1.0", "wifi")
	f.Add(`ios"} | x`, "1.0\n\\", `wifi" or 1=1`)
	f.Add("", "\x00\xff", "`")
	f.Fuzz(func(t *testing.T, app, version, network string) {
		sq, err := buildSessionQueries(stores.SessionQuery{
			Match:       []telemetry.KV{{Key: "service.name", Value: app}, {Key: "service.version", Value: version}},
			RecordMatch: []telemetry.KV{{Key: "network.connection.type", Value: network}},
		})
		if err != nil {
			t.Fatal(err)
		}
		filters, err := parseLogQuery(Query(sq.devices, sq.recordMatch...))
		if err != nil {
			t.Fatalf("%q: %v", sq.devices, err)
		}
		want := map[string]string{"service_version": version, "network_connection_type": network}
		if app != "" {
			if filters[0].value != app || filters[0].op != "=" {
				t.Fatalf("selector %+v, want %q", filters[0], app)
			}
		} else {
			want["service_name"] = ""
		}
		got := map[string]string{}
		for _, fl := range filters[1:] {
			if fl.op == "=" {
				got[fl.name] = fl.value
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("filters %v, want %v", got, want)
		}
	})
}
