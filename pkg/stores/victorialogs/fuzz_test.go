package victorialogs

import (
	"bytes"
	"sort"
	"testing"
)

// victoriaLogsLines are answers of /select/logsql/query as VictoriaLogs
// gives them for OpenTelemetry log records, and for the stats query.
var victoriaLogsLines = []string{
	`{"_msg":"checkout failed","_stream":"{service.name=\"stitch-ios\"}","_stream_id":"0000000000000000e934a84adb05276890d7f7bfcadabe92","_time":"2024-05-01T10:00:00.123456789Z","service.name":"stitch-ios","severity_text":"ERROR","severity_number":"17","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00f067aa0ba902b7","session.id":"5e55104d0c0ffee0000000000000a11c"}
{"_msg":"retrying","_time":"2024-05-01T10:00:01Z","service.name":"api","severity_number":"9","session.id":"5e55104d0c0ffee0000000000000a11c"}
`,
	`{"service.name":"api","records":"12","with_trace":"7"}
{"service.name":"stitch-ios","records":"3","with_trace":"0"}`,
	`{"records":"120"}`,
	"\r\n  \n{}\n",
	`{"service.name":"api","records":"1","with_trace":"2"}`,
	`{"service.name":"api","records":"-1","with_trace":"-1"}`,
	`{"_msg":1}`,
	`<html><body>login</body></html>`,
}

// FuzzDecodeRows: a LogsQL answer decodes into one row per non-blank line,
// or fails; each row becomes a record whose attributes are the row's other
// fields, sorted.
func FuzzDecodeRows(f *testing.F) {
	for _, s := range victoriaLogsLines {
		f.Add([]byte(s))
	}
	reserved := map[string]bool{fieldTime: true, fieldMsg: true, fieldStream: true, fieldStreamID: true, fieldTraceID: true,
		fieldSpanID: true, fieldService: true, fieldSeverityText: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := decodeRows(bytes.NewReader(body))
		if err != nil {
			return
		}
		lines := 0
		for _, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(rows) != lines {
			t.Fatalf("%d non-blank lines decoded as %d rows", lines, len(rows))
		}
		for _, row := range rows {
			r := toRecord(row)
			want := 0
			for k := range row {
				if !reserved[k] {
					want++
				}
			}
			if len(r.Attributes) != want {
				t.Fatalf("row %v: %d attributes, want %d", row, len(r.Attributes), want)
			}
			if !sort.SliceIsSorted(r.Attributes, func(i, j int) bool { return r.Attributes[i].Key < r.Attributes[j].Key }) {
				t.Fatalf("row %v: attributes not sorted: %v", row, r.Attributes)
			}
			for _, kv := range r.Attributes {
				if reserved[kv.Key] || row[kv.Key] != kv.Value {
					t.Fatalf("row %v: attribute %v", row, kv)
				}
			}
			if r.Body != row[fieldMsg] || r.Service != row[fieldService] {
				t.Fatalf("row %v: record %+v", row, r)
			}
		}
	})
}

// FuzzLogCoverage: a stats answer gives, per service, counts with
// 0 <= records with a trace ID <= records, or an error.
func FuzzLogCoverage(f *testing.F) {
	for _, s := range victoriaLogsLines {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := decodeRows(bytes.NewReader(body))
		if err != nil {
			return
		}
		cov, err := coverageFromRows(rows)
		if err != nil {
			return
		}
		if len(cov) > len(rows) {
			t.Fatalf("%d rows gave %d services", len(rows), len(cov))
		}
		for svc, c := range cov {
			if c.Records < 0 || c.WithTraceID < 0 || c.WithTraceID > c.Records {
				t.Fatalf("service %q: %+v", svc, c)
			}
		}
	})
}
