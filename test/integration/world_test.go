//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
)

// logWriter sends progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// worldTargets send through the stack's collector, as the demo does.
func worldTargets() demoworld.Targets { return demoworld.StackTargets(theStack, false) }

func storeGet(t *testing.T, ctx context.Context, u string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, u)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

type jTrace struct {
	Spans []struct {
		TraceID    string `json:"traceID"`
		SpanID     string `json:"spanID"`
		ProcessID  string `json:"processID"`
		References []struct {
			SpanID string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func jaegerTrace(t *testing.T, ctx context.Context, traceID string) jTrace {
	t.Helper()
	var resp struct {
		Data []jTrace `json:"data"`
	}
	storeGet(t, ctx, theStack.JaegerURL()+"/api/traces/"+traceID, &resp)
	require.Len(t, resp.Data, 1, "trace %s", traceID)
	return resp.Data[0]
}

func spanTag(tags []struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}, key string) (string, bool) {
	for _, tg := range tags {
		if tg.Key == key {
			return fmt.Sprint(tg.Value), true
		}
	}
	return "", false
}

func logsQL(t *testing.T, ctx context.Context, query string) []map[string]string {
	t.Helper()
	u := theStack.VictoriaLogsURL() + "/select/logsql/query?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var row map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	return rows
}

// TestWorldArrivesInEveryStore runs a small demo world against the real
// stack and checks what each store holds against its ground truth, then a
// sample of joins read straight from the stores' APIs.
func TestWorldArrivesInEveryStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	targets := worldTargets()
	// A fresh seed per run: a reused stack may hold earlier worlds, and the
	// same seed gives the same IDs.
	seed := time.Now().UnixNano() % 1_000_000_007
	t.Logf("seed %d", seed)
	gt, err := demoworld.Run(ctx, demoworld.Config{Seed: seed, Sessions: 8, OutDir: t.TempDir()}, targets, logWriter{t})
	require.NoError(t, err)
	require.Empty(t, gt.Run.Warnings, "the run followed its plan")

	arrival, err := demoworld.ProveArrival(ctx, gt, targets, logWriter{t})
	require.NoError(t, err, "failed checks: %+v", arrival.Failed())
	assert.True(t, arrival.OK)
	for _, c := range arrival.Checks {
		if strings.HasPrefix(c.What, "spans of ") || strings.HasPrefix(c.What, "log records of ") {
			assert.Positive(t, c.Got, "%s %s", c.Store, c.What)
		}
	}

	run := demoworld.TagRunID + `:=` + strconv.Quote(gt.Run.ID)

	t.Run("a request's backend trace carries its session.id and hangs under its client span", func(t *testing.T) {
		var req *demoworld.RequestTruth
		for _, r := range gt.Requests {
			if r.ServerAddress == "api.shop.example" && r.Attempts[0].Propagation == demoworld.PropagationPropagated && r.Attempts[0].Exported {
				req = r
				break
			}
		}
		require.NotNil(t, req)
		tr := jaegerTrace(t, ctx, req.TraceID)
		client := req.Attempts[0].ClientSpanID
		underClient, backend := 0, 0
		for _, s := range tr.Spans {
			svc := tr.Processes[s.ProcessID].ServiceName
			if svc == demoworld.AppServiceName {
				continue
			}
			backend++
			session, _ := spanTag(s.Tags, "session.id")
			assert.Equal(t, req.SessionID, session, "%s span %s", svc, s.SpanID)
			if len(s.References) > 0 && s.References[0].SpanID == client {
				underClient++
			}
		}
		assert.Positive(t, backend)
		assert.Equal(t, 1, underClient, "exactly one gateway span is the client span's child")
	})

	t.Run("a backend log record carries the trace ID and session of its request", func(t *testing.T) {
		var want *demoworld.BackendLogTruth
		for _, l := range gt.BackendLogs {
			if l.SessionID != "" {
				want = l
				break
			}
		}
		require.NotNil(t, want)
		n := 0
		for _, l := range gt.BackendLogs {
			if l.TraceID == want.TraceID {
				n++
			}
		}
		rows := logsQL(t, ctx, run+` trace_id:=`+strconv.Quote(want.TraceID))
		require.Len(t, rows, n)
		for _, r := range rows {
			assert.Equal(t, want.SessionID, r["session.id"])
			assert.Len(t, r["span_id"], 16)
		}
	})

	t.Run("the stripping host's trace has no session.id and is not in the app's trace", func(t *testing.T) {
		require.NotEmpty(t, gt.Faults.StrippingHost.Requests)
		req := gt.Request(gt.Faults.StrippingHost.Requests[0])
		at := req.Attempts[0]
		require.Equal(t, demoworld.PropagationStripped, at.Propagation)
		tr := jaegerTrace(t, ctx, at.BackendTraceID)
		require.NotEmpty(t, tr.Spans)
		for _, s := range tr.Spans {
			assert.Equal(t, "legacy-catalog", tr.Processes[s.ProcessID].ServiceName)
			_, has := spanTag(s.Tags, "session.id")
			assert.False(t, has, "legacy span %s has a session.id", s.SpanID)
			assert.Empty(t, s.References, "legacy span %s is a root", s.SpanID)
		}
		if at.Exported {
			app := jaegerTrace(t, ctx, req.TraceID)
			for _, s := range app.Spans {
				assert.NotEqual(t, "legacy-catalog", app.Processes[s.ProcessID].ServiceName, "the app's trace holds a legacy span")
			}
		}
		rows := logsQL(t, ctx, run+` trace_id:=`+strconv.Quote(at.BackendTraceID))
		require.Len(t, rows, at.BackendLogs)
		for _, r := range rows {
			assert.Empty(t, r["session.id"])
		}
	})

	t.Run("the sampled-out session kept only the traces of its errors and slow requests, on the device and the backends", func(t *testing.T) {
		require.NotEmpty(t, gt.Faults.SampledOut.Sessions)
		session := gt.Faults.SampledOut.Sessions[0]
		from, to := gt.Run.Started.Add(-10*time.Minute), gt.Run.Finished.Add(10*time.Minute)
		search := func(service string) []jTrace {
			tags, _ := json.Marshal(map[string]string{"session.id": session})
			q := url.Values{"service": {service}, "tags": {string(tags)}, "limit": {"1000"},
				"start": {strconv.FormatInt(from.UnixMicro(), 10)}, "end": {strconv.FormatInt(to.UnixMicro(), 10)}}
			var resp struct {
				Data []jTrace `json:"data"`
			}
			storeGet(t, ctx, theStack.JaegerURL()+"/api/traces?"+q.Encode(), &resp)
			return resp.Data
		}
		// Through the collector the backends keep exactly the traces tail
		// sampling keeps; straight to the stores they keep nothing.
		wantGateway := map[string]bool{}
		for _, r := range gt.Requests {
			for _, at := range r.Attempts {
				if r.SessionID == session && at.BackendSpans["gateway"] > 0 {
					wantGateway[at.BackendTraceID] = true
				}
			}
		}
		if !gt.Collector {
			require.Empty(t, wantGateway)
		}
		gotGateway := map[string]bool{}
		for _, tr := range search("gateway") {
			for _, s := range tr.Spans {
				gotGateway[s.TraceID] = true
			}
		}
		assert.Equal(t, wantGateway, gotGateway, "backend traces of the sampled-out session")
		kept := search(demoworld.AppServiceName)
		require.NotEmpty(t, kept, "errors and slow spans are kept")
		for _, tr := range kept {
			for _, s := range tr.Spans {
				if tr.Processes[s.ProcessID].ServiceName != demoworld.AppServiceName {
					continue // the backend spans of a kept trace
				}
				reason, _ := spanTag(s.Tags, "stitch.sampling.reason")
				assert.Contains(t, []string{"error", "latency"}, reason, "span %s", s.SpanID)
			}
		}
		rows := logsQL(t, ctx, run+` session.id:=`+strconv.Quote(session)+` service.name:="gateway"`)
		for _, r := range rows {
			assert.Equal(t, "ERROR", r["severity_text"], "only error records of a sampled-out session are kept")
		}
	})

	t.Run("exemplars carry trace IDs of the run", func(t *testing.T) {
		q := url.Values{
			"query": {`http_server_request_duration_seconds_bucket{job="gateway",instance=` + strconv.Quote(gt.Run.ID) + `}`},
			"start": {strconv.FormatInt(gt.Run.Started.Add(-time.Minute).Unix(), 10)},
			"end":   {strconv.FormatInt(gt.Run.Finished.Add(time.Minute).Unix(), 10)},
		}
		var resp struct {
			Data []struct {
				Exemplars []struct {
					Labels map[string]string `json:"labels"`
				} `json:"exemplars"`
			} `json:"data"`
		}
		storeGet(t, ctx, theStack.PrometheusURL()+"/api/v1/query_exemplars?"+q.Encode(), &resp)
		known := map[string]bool{}
		for _, id := range gt.ExemplarTraceIDs() {
			known[id] = true
		}
		n := 0
		for _, s := range resp.Data {
			for _, e := range s.Exemplars {
				n++
				assert.True(t, known[e.Labels["trace_id"]], "exemplar trace %s", e.Labels["trace_id"])
			}
		}
		assert.Positive(t, n)
	})

	t.Run("the ground-truth file is what Run returned", func(t *testing.T) {
		loaded, err := demoworld.LoadGroundTruth(gt.Run.File)
		require.NoError(t, err)
		a, err := gt.JSON()
		require.NoError(t, err)
		b, err := loaded.JSON()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(a, b))
	})
}
