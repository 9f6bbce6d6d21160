package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Every engine path must leave no goroutine behind, whether its queries
// succeeded, failed or were cancelled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func failingSpanSetStore(n int) *spanSetStore {
	s := &spanSetStore{traces: map[string]telemetry.Trace{}, failIDs: map[string]bool{}}
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		s.traces[id], s.failIDs[id] = fullTrace(id), true
	}
	return s
}

// Trace fetches run concurrently and each failure records a notice: the
// collector must be safe under -race on every path that completes traces.
func TestNoticesFromConcurrentFetches(t *testing.T) {
	const n = 40
	e := &Engine{Traces: failingSpanSetStore(n), Limits: DefaultLimits}
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	results := map[string]func() ([]Notice, error){
		"sessions": func() ([]Notice, error) {
			withLogs := *e
			withLogs.Logs = deviceLogs(sid)
			r, err := withLogs.Sessions(context.Background(), query.Sessions{Limit: 10}, from, to)
			return r.Notices, err
		},
		"sessionMetrics": func() ([]Notice, error) {
			r, err := e.SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricSessions}, from, to, time.Minute)
			return r.Notices, err
		},
		"sessionTimeline": func() ([]Notice, error) {
			r, err := e.SessionTimeline(context.Background(), sid, from, to)
			return r.Notices, err
		},
	}
	for name, run := range results {
		t.Run(name, func(t *testing.T) {
			ns, err := run()
			require.NoError(t, err)
			failed := 0
			for _, n := range ns {
				if n.Cause == CauseStore {
					failed++
					assert.Equal(t, SeverityWarning, n.Severity)
					assert.Equal(t, roleTraces, n.Store)
					assert.Contains(t, n.Text, "showing the spans the search returned")
				}
			}
			assert.Equal(t, n, failed, "one store notice per failed fetch")
		})
	}
}

// blockingStores answer nothing until the query's context ends.
type blockingStores struct{ started chan struct{} }

func (b *blockingStores) CheckHealth(context.Context) (string, error) { return "", nil }
func (b *blockingStores) SearchTraces(ctx context.Context, _ stores.TraceSearch) (stores.TraceSearchResult, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	return stores.TraceSearchResult{}, ctx.Err()
}
func (b *blockingStores) Trace(ctx context.Context, _ string, _, _ time.Time) (*telemetry.Trace, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b *blockingStores) SearchLogs(ctx context.Context, _ stores.LogSearch) (stores.LogSearchResult, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	return stores.LogSearchResult{}, ctx.Err()
}

func TestCancelledTimelineEndsPromptlyAndLeaksNothing(t *testing.T) {
	b := &blockingStores{started: make(chan struct{}, 2)}
	e := &Engine{Traces: b, Logs: b, Limits: DefaultLimits}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.SessionTimeline(ctx, sid, t0, t0.Add(time.Hour))
		done <- err
	}()
	<-b.started
	<-b.started
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled, "a cancelled query is cancelled, not a partial result")
	case <-time.After(5 * time.Second):
		t.Fatal("the query did not end after its context was cancelled")
	}
	goleak.VerifyNone(t)
}

// failingLogs is a log store that is down.
type failingLogs struct{}

func (failingLogs) CheckHealth(context.Context) (string, error) { return "", nil }
func (failingLogs) SearchLogs(context.Context, stores.LogSearch) (stores.LogSearchResult, error) {
	return stores.LogSearchResult{}, errors.New("connection refused")
}

func TestFailedLogStoreIsAStoreNotice(t *testing.T) {
	id := "0000000000000000000000000000000c"
	e := &Engine{Traces: &spanSetStore{traces: map[string]telemetry.Trace{id: fullTrace(id)}}, Logs: failingLogs{}, Limits: DefaultLimits}
	res, err := e.SessionTimeline(context.Background(), sid, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err, "a log store that is down gives a partial timeline")
	require.NotEmpty(t, res.Notices)
	for _, n := range res.Notices {
		assert.Equal(t, CauseStore, n.Cause)
		assert.Equal(t, roleLogs, n.Store)
		assert.Equal(t, SeverityWarning, n.Severity)
	}
	assert.Len(t, res.Timeline.Requests, 1, "the trace store's part is shown")
	goleak.VerifyNone(t)
}
