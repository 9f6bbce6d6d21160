package scaleworld

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/internal/demoworld"
)

// fakeStores accepts OTLP protobuf on the stores' paths and counts what
// arrived; the first request of each path is refused with 503 once.
type fakeStores struct {
	mu               sync.Mutex
	spans, logs, dps int
	refused          map[string]bool
	contentTypes     map[string]bool
}

func (f *fakeStores) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contentTypes[r.Header.Get("Content-Type")] = true
	if !f.refused[r.URL.Path] {
		f.refused[r.URL.Path] = true
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case tracesPath:
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.spans += td.SpanCount()
	case logsPath:
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.logs += ld.LogRecordCount()
	case metricsPath:
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.dps += md.DataPointCount()
	default:
		http.NotFound(w, r)
	}
}

func TestSendPostsEverythingOnce(t *testing.T) {
	f := &fakeStores{refused: map[string]bool{}, contentTypes: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := plan(t, 1500, 6, "r")
	st, err := Send(context.Background(), w, demoworld.Targets{JaegerOTLPHTTP: srv.URL, VictoriaLogs: srv.URL, Prometheus: srv.URL})
	require.NoError(t, err)
	tr := w.Truth()
	spans, logs := 0, 0
	for _, n := range tr.Expect.Spans {
		spans += n
	}
	for _, n := range tr.Expect.Logs {
		logs += n
	}
	assert.Equal(t, spans, f.spans)
	assert.Equal(t, logs, f.logs)
	assert.Equal(t, tr.Expect.HistogramSeries*len(w.pointTimes()), f.dps)
	assert.Equal(t, spans, st.Spans)
	assert.Equal(t, logs, st.LogRecords)
	assert.Greater(t, st.Requests, 3, "batched into several requests")
	assert.Equal(t, map[string]bool{"application/x-protobuf": true}, f.contentTypes)
}

func TestSendReportsARefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "out of bounds", http.StatusBadRequest)
	}))
	defer srv.Close()
	w := plan(t, 20, 6, "r")
	_, err := Send(context.Background(), w, demoworld.Targets{JaegerOTLPHTTP: srv.URL, VictoriaLogs: srv.URL, Prometheus: srv.URL})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "out of bounds")
}
