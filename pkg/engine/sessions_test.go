package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// cappedStore holds one app request a session, a second apart, and answers
// a search as Jaeger does: at most Limit traces in no time order, cut
// without saying which.
type cappedStore struct {
	traces   []telemetry.Trace
	searches atomic.Int64 // rows are searched concurrently
}

func newCappedStore(sessions int, endpoint func(i int) string) *cappedStore {
	s := &cappedStore{}
	for i := range sessions {
		id := fmt.Sprintf("%032x", i+1)
		sid := fmt.Sprintf("%032x", 1<<20+i)
		s.traces = append(s.traces, telemetry.Trace{TraceID: id, Spans: []telemetry.Span{{TraceID: id, SpanID: "00000000000000a1", Service: "app",
			Kind: telemetry.KindClient, Start: t0.Add(time.Duration(i) * time.Second), Duration: time.Millisecond,
			Resource:   telemetry.Attrs{{Key: schema.AttrServiceName, Value: "app"}, {Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}},
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}, {Key: schema.AttrURLTemplate, Value: endpoint(i)}}}}})
	}
	return s
}

func (s *cappedStore) CheckHealth(context.Context) (string, error) { return "", nil }
func (s *cappedStore) Trace(context.Context, string, time.Time, time.Time) (*telemetry.Trace, error) {
	return nil, stores.ErrNotFound
}
func (s *cappedStore) SearchTraces(_ context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	s.searches.Add(1)
	res := stores.TraceSearchResult{Complete: true}
	for i := len(s.traces) - 1; i >= 0; i-- { // newest first, unlike time order asked
		t := s.traces[i]
		sp := t.Spans[0]
		if sp.Start.Before(q.Start) || !sp.Start.Before(q.End) {
			continue
		}
		match := true
		for _, kv := range q.Attributes {
			v, ok := sp.Attributes.Get(kv.Key)
			if !ok {
				v, _ = sp.Resource.Get(kv.Key)
			}
			match = match && v == kv.Value
		}
		if !match {
			continue
		}
		if len(res.Traces) == q.Limit {
			res.Truncated = true
			break
		}
		res.Traces = append(res.Traces, t)
	}
	return res, nil
}

// deviceLogsOf is each trace's session as the log store holds it.
func deviceLogsOf(s *cappedStore) indexedLogs {
	var l indexedLogs
	for _, t := range s.traces {
		sp := t.Spans[0]
		l.records = append(l.records, telemetry.LogRecord{Time: sp.Start, Service: "app", Body: schema.EventSessionStart,
			Attributes: telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}, {Key: schema.AttrSessionID, Value: sp.Attr(schema.AttrSessionID)}}})
	}
	return l
}

func TestSessionsCountsEverySessionAndShowsTheLimit(t *testing.T) {
	traces := newCappedStore(2500, func(int) string { return "/feed" })
	e := &Engine{Traces: traces, Logs: deviceLogsOf(traces), Limits: DefaultLimits}
	res, err := e.Sessions(context.Background(), query.Sessions{Limit: 10, OrderBy: "start"}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 2500, res.Total)
	require.Len(t, res.Sessions, 10)
	assert.Equal(t, fmt.Sprintf("%032x", 1<<20+2499), res.Sessions[0].SessionID, "the latest session leads")
	assert.Equal(t, 1, res.Sessions[0].Requests, "a shown row has its requests from the trace store")
	require.Len(t, res.Notices, 1)
	assert.Equal(t, "showing 10 of 2500 matching sessions (limit), latest first", res.Notices[0].Text)
	assert.EqualValues(t, 10, traces.searches.Load(), "one trace search per shown row, none for the rest")
}

// An endpoint filter reads every trace of the endpoint however many the
// store caps a search at: a cut search is split in halves until none is.
func TestSessionsEndpointFilterReadsPastTheSearchLimit(t *testing.T) {
	traces := newCappedStore(2500, func(i int) string {
		if i%5 == 0 {
			return "/checkout"
		}
		return "/feed"
	})
	e := &Engine{Traces: traces, Logs: deviceLogsOf(traces), Limits: DefaultLimits}
	res, err := e.Sessions(context.Background(), query.Sessions{Endpoint: "/checkout", Limit: 5, OrderBy: "start"}, t0, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 500, res.Total, "every session that called the endpoint, past the 1000-trace search cap")
	require.Len(t, res.Sessions, 5)
	for _, s := range res.Sessions {
		assert.True(t, s.Endpoints["/checkout"], s.SessionID)
	}
	for _, n := range res.Notices {
		assert.NotContains(t, n.Text, "not read", "nothing was cut")
	}
}

func TestSessionsWithoutASessionIndexSaysWhy(t *testing.T) {
	e := &Engine{Traces: newCappedStore(1, func(int) string { return "/" }), Limits: DefaultLimits}
	_, err := e.Sessions(context.Background(), query.Sessions{Limit: 10}, t0, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrNoSessionIndex)
}

func TestSessionMetricsCountedByTheLogStore(t *testing.T) {
	traces := newCappedStore(120, func(int) string { return "/feed" })
	e := &Engine{Traces: traces, Logs: countingLogs{deviceLogsOf(traces)}, Limits: DefaultLimits}
	res, err := e.SessionMetrics(context.Background(), query.SessionMetrics{Metric: correlation.MetricSessions}, t0, t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	assert.Zero(t, traces.searches.Load(), "the counts come from the log store, no trace is read")
	require.Len(t, res.Series, 1)
	var got []float64
	for _, v := range res.Series[0].Values {
		require.NotNil(t, v)
		got = append(got, *v)
	}
	assert.Equal(t, []float64{60, 60, 0}, got)
}

// countingLogs counts sessions per bucket over its records, as a log store
// that aggregates does.
type countingLogs struct{ indexedLogs }

func (c countingLogs) SessionCounts(_ context.Context, q stores.SessionCountQuery) (stores.SessionCounts, error) {
	var out stores.SessionCounts
	for b := q.Start; b.Before(q.End); b = b.Add(q.Step) {
		page := stores.IndexSessions(c.records, stores.SessionQuery{Start: b, End: b.Add(q.Step - time.Nanosecond)})
		if page.Total > 0 {
			out.Buckets = append(out.Buckets, stores.SessionCount{Time: b, Sessions: float64(page.Total)})
		}
	}
	return out, nil
}

// findingStore counts sessions by span attributes itself, as Tempo's
// TraceQL metrics do.
type findingStore struct {
	*cappedStore
	truncated bool
}

func (f findingStore) SessionsOf(_ context.Context, q stores.TraceSearch) (stores.SessionsFound, error) {
	found := stores.SessionsFound{Truncated: f.truncated}
	for _, t := range f.traces {
		if t.Spans[0].Attr(schema.AttrURLTemplate) == q.Attributes[0].Value {
			found.Sessions = append(found.Sessions, t.Spans[0].Attr(schema.AttrSessionID))
		}
	}
	return found, nil
}

func TestSessionsEndpointFilterCountedByTheTraceStore(t *testing.T) {
	for _, truncated := range []bool{false, true} {
		traces := newCappedStore(300, func(i int) string {
			if i%3 == 0 {
				return "/checkout"
			}
			return "/feed"
		})
		e := &Engine{Traces: findingStore{traces, truncated}, Logs: deviceLogsOf(traces), Limits: DefaultLimits}
		res, err := e.Sessions(context.Background(), query.Sessions{Endpoint: "/checkout", Limit: 5, OrderBy: "start"}, t0, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 100, res.Total)
		assert.EqualValues(t, 5, traces.searches.Load(), "no trace read for the filter, one search per shown row")
		cut := false
		for _, n := range res.Notices {
			cut = cut || (n.Cause == CauseStore && n.Severity == SeverityWarning)
		}
		assert.Equal(t, truncated, cut, "a count the store cut says so")
	}
}
