package jaeger

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecodeTraces feeds arbitrary bodies through what the adapter does with
// an /api/traces answer (the envelope get reads, then toTraces): a decoded
// trace has one span per JSON span and every ID is lowercase hex of its
// width, or the decoder returns an error.
func FuzzDecodeTraces(f *testing.F) {
	recorded, err := os.ReadFile("testdata/search_session.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(recorded)
	for _, s := range []string{
		`{"data":[{"traceID":"AB","spans":[{"traceID":"ab","spanID":"1","references":[{"refType":"CHILD_OF","traceID":"AB","spanID":"2"},{"refType":"FOLLOWS_FROM","traceID":"cd","spanID":"3"}],"processID":"p1"}],"processes":{"p1":{"serviceName":"svc","tags":[{"key":"host","type":"string","value":"h"}]}},"warnings":["w"]}]}`,
		`{"data":[{"traceID":"xyz","spans":[{"traceID":"xyz","spanID":"00f067aa0ba902b7"}]}]}`,
		`{"data":[{"traceID":"1","spans":[{"traceID":"1","spanID":"2","tags":[{"key":"error","type":"bool","value":true},{"key":"span.kind","value":"server"}],"logs":[{"timestamp":1,"fields":[{"key":"event","value":"exception"}]}]}]}]}`,
		`{"data":null,"errors":[{"code":500,"msg":"boom"}]}`,
		`{"data":[]}`, `{"errors":null}`, `<html></html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, hasData, err := decodeResponse[jsonTrace](bytes.NewReader(body))
		if err != nil || len(env.Errors) > 0 || !hasData {
			return
		}
		found := env.Data
		traces, err := toTraces(found)
		if err != nil {
			return
		}
		if len(traces) != len(found) {
			t.Fatalf("%d JSON traces decoded as %d", len(found), len(traces))
		}
		for i, tr := range traces {
			if !isHexID(tr.TraceID, 32) {
				t.Fatalf("trace ID %q (from %q)", tr.TraceID, found[i].TraceID)
			}
			if len(tr.Spans) != len(found[i].Spans) {
				t.Fatalf("trace %s: %d JSON spans decoded as %d", tr.TraceID, len(found[i].Spans), len(tr.Spans))
			}
			for _, sp := range tr.Spans {
				if !isHexID(sp.TraceID, 32) || !isHexID(sp.SpanID, 16) || (sp.ParentSpanID != "" && !isHexID(sp.ParentSpanID, 16)) {
					t.Fatalf("span IDs %q %q %q", sp.TraceID, sp.SpanID, sp.ParentSpanID)
				}
				for _, l := range sp.Links {
					if !isHexID(l.TraceID, 32) || !isHexID(l.SpanID, 16) {
						t.Fatalf("link IDs %q %q", l.TraceID, l.SpanID)
					}
				}
				if sp.Service != "" && sp.Resource.Value("service.name") != sp.Service {
					t.Fatalf("span service %q, resource %v", sp.Service, sp.Resource)
				}
			}
		}
	})
}
