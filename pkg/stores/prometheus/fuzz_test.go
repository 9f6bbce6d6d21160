package prometheus

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// FuzzAPIResponse: Prometheus' envelope decodes into a successful answer, the
// error Prometheus reported (its type and text in the message), or an
// error saying the answer is not Prometheus'; a health check's data is a
// vector or is refused.
func FuzzAPIResponse(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1714557600.123,"1"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["PromQL info: metric might not be a counter"]}`,
		`{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:8: parse error: unexpected end of input"}`,
		`{"status":"success","data":null}`,
		`{"data":{"resultType":"vector"}}`,
		`<!doctype html><html><head><title>Grafana</title></head></html>`,
		`[]`, ``,
	} {
		f.Add([]byte(s))
	}
	raw, _ := json.Marshal(map[string]any{"metrics": map[string]any{"kind": "prometheus", "url": "http://127.0.0.1:1"}})
	set, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	if err != nil {
		f.Fatal(err)
	}
	c, err := storehttp.New(set.Metrics)
	if err != nil {
		f.Fatal(err)
	}
	s := New(c)
	const path = "/api/v1/query"
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decode(path, bytes.NewReader(body))
		if err != nil {
			var na notTheAPI
			var check apiResponse
			switch {
			case errors.As(err, &na):
				if err := s.client.NotTheAPI(path, body, na.cause); !backend.IsDownstreamError(err) {
					t.Fatalf("%v: not the store's fault", err)
				}
			case json.Unmarshal(body, &check) == nil && check.Status == "error":
				if !strings.Contains(err.Error(), check.ErrorType+": "+check.Error) {
					t.Fatalf("%v does not carry Prometheus' error %q", err, check.Error)
				}
			default:
				t.Fatalf("%T %v for %q", err, err, body)
			}
			return
		}
		if env.Status != "success" {
			t.Fatalf("status %q accepted", env.Status)
		}
		if err := s.checkVector(path, env.Data); err == nil {
			// Go's JSON matches keys case-insensitively, last one winning.
			var d map[string]json.RawMessage
			vector := false
			if json.Unmarshal(env.Data, &d) == nil {
				for k, v := range d {
					var rt string
					vector = vector || (strings.EqualFold(k, "resultType") && json.Unmarshal(v, &rt) == nil && rt == "vector")
				}
			}
			if !vector {
				t.Fatalf("data %s accepted as a vector", env.Data)
			}
		} else if !backend.IsDownstreamError(err) {
			t.Fatalf("%v: not the store's fault", err)
		}
	})
}

// FuzzExemplars: query_exemplars' data decodes into exemplars whose trace
// IDs are lowercase hex of 32, newest first, or is refused.
func FuzzExemplars(f *testing.F) {
	f.Add([]byte(`[{"seriesLabels":{"le":"1"},"exemplars":[{"labels":{"trace_id":"0AF7651916CD43DD8448EB211C80319C"},"value":"1.5","timestamp":1.25}]}]`))
	f.Add([]byte(`[{"exemplars":[{"labels":{"trace_id":"x"},"value":"NaN","timestamp":-1}]}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		xs, err := decodeExemplars(data)
		if err != nil {
			return
		}
		for i, x := range xs {
			if len(x.TraceID) != 32 || strings.ToLower(x.TraceID) != x.TraceID {
				t.Fatalf("trace ID %q", x.TraceID)
			}
			if i > 0 && x.Time.After(xs[i-1].Time) {
				t.Fatalf("not newest first at %d", i)
			}
		}
	})
}
