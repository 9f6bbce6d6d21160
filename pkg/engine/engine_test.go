package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

const sid = "5b8aa5a2d2c872e8321cf37308d69df2"

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func fullTrace(id string) telemetry.Trace {
	res := telemetry.Attrs{{Key: schema.AttrServiceName, Value: "app"}, {Key: schema.AttrServiceVersion, Value: "2.0"}, {Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}}
	return telemetry.Trace{TraceID: id, Spans: []telemetry.Span{
		{TraceID: id, SpanID: "00000000000000a1", Kind: telemetry.KindClient, Start: t0, Duration: time.Second, Resource: res,
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
		{TraceID: id, SpanID: "00000000000000a2", ParentSpanID: "00000000000000a1", Kind: telemetry.KindServer, Start: t0, Duration: time.Second / 2,
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
	}}
}

// indexedLogs is a log store holding device records, with the session
// index every log store of Stitch's answers (stores.IndexSessions).
type indexedLogs struct{ records []telemetry.LogRecord }

func (l indexedLogs) CheckHealth(context.Context) (string, error) { return "", nil }
func (l indexedLogs) SearchLogs(context.Context, stores.LogSearch) (stores.LogSearchResult, error) {
	return stores.LogSearchResult{}, nil
}
func (l indexedLogs) Sessions(_ context.Context, q stores.SessionQuery) (stores.SessionPage, error) {
	return stores.IndexSessions(l.records, q), nil
}

// deviceLogs is a session.start record of each session, on the app.
func deviceLogs(sessions ...string) indexedLogs {
	var l indexedLogs
	for _, s := range sessions {
		l.records = append(l.records, telemetry.LogRecord{Time: t0, Service: "app", Body: schema.EventSessionStart,
			Attributes: telemetry.Attrs{{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone15,2"}, {Key: schema.AttrSessionID, Value: s}}})
	}
	return l
}

// spanSetStore answers searches as Tempo does — only the matching spans,
// without resource, kind or status — and whole traces by ID.
type spanSetStore struct {
	traces  map[string]telemetry.Trace
	failIDs map[string]bool
	fetched atomic.Int64 // fetches run concurrently
}

func (s *spanSetStore) CheckHealth(context.Context) (string, error) { return "", nil }

func (s *spanSetStore) SearchTraces(_ context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	var out []telemetry.Trace
	for id := range s.traces {
		out = append(out, telemetry.Trace{TraceID: id, Spans: []telemetry.Span{{TraceID: id, SpanID: "00000000000000a2",
			Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}}}})
	}
	return stores.TraceSearchResult{Traces: out, Complete: false}, nil
}

func (s *spanSetStore) Trace(_ context.Context, id string, _, _ time.Time) (*telemetry.Trace, error) {
	s.fetched.Add(1)
	if s.failIDs[id] {
		return nil, errors.New("boom")
	}
	t := s.traces[id]
	return &t, nil
}

func TestSessionsCompletesSpanSetResults(t *testing.T) {
	store := &spanSetStore{traces: map[string]telemetry.Trace{"0000000000000000000000000000000a": fullTrace("0000000000000000000000000000000a")}}
	e := &Engine{Traces: store, Logs: deviceLogs(sid), Limits: DefaultLimits}
	res, err := e.Sessions(context.Background(), query.Sessions{Limit: 10}, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, res.Sessions, 1, "device spans come from the trace fetched by ID")
	assert.Equal(t, 1, res.Sessions[0].Requests)
	assert.Equal(t, 1, res.Sessions[0].BackendTraces)
	assert.EqualValues(t, 1, store.fetched.Load())
}

func TestTimelineKeepsSearchSpansWhenAFetchFails(t *testing.T) {
	id := "0000000000000000000000000000000b"
	store := &spanSetStore{traces: map[string]telemetry.Trace{id: fullTrace(id)}, failIDs: map[string]bool{id: true}}
	e := &Engine{Traces: store, Limits: DefaultLimits}
	res, err := e.SessionTimeline(context.Background(), sid, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, res.Notices, 1)
	assert.Contains(t, res.Notices[0].Text, "showing the spans the search returned")
	assert.Len(t, res.Timeline.Backend, 1)
}

func TestSessionTimelineRefusesABadSessionID(t *testing.T) {
	e := &Engine{Traces: &spanSetStore{}, Limits: DefaultLimits}
	_, err := e.SessionTimeline(context.Background(), `x") OR *`, t0, t0)
	require.Error(t, err)
}

// appOnlyStore answers an app-only search with the app's traces only, as
// Jaeger does when it searches the app's services, and whole traces by ID.
type appOnlyStore struct {
	app, byID map[string]telemetry.Trace
	mu        sync.Mutex
	fetched   map[string]int
	appOnly   []bool
}

func (s *appOnlyStore) CheckHealth(context.Context) (string, error) { return "", nil }

func (s *appOnlyStore) SearchTraces(_ context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	s.mu.Lock()
	s.appOnly = append(s.appOnly, q.AppOnly)
	s.mu.Unlock()
	var out []telemetry.Trace
	for _, t := range s.app {
		out = append(out, t)
	}
	return stores.TraceSearchResult{Traces: out, Complete: true}, nil
}

func (s *appOnlyStore) Trace(_ context.Context, id string, _, _ time.Time) (*telemetry.Trace, error) {
	s.mu.Lock()
	s.fetched[id]++
	s.mu.Unlock()
	t, ok := s.byID[id]
	if !ok {
		return nil, stores.ErrNotFound
	}
	return &t, nil
}

type recordedLogs struct{ bySession []telemetry.LogRecord }

func (recordedLogs) CheckHealth(context.Context) (string, error) { return "", nil }

func (l recordedLogs) SearchLogs(_ context.Context, q stores.LogSearch) (stores.LogSearchResult, error) {
	if q.SessionID != "" {
		return stores.LogSearchResult{Records: l.bySession}, nil
	}
	return stores.LogSearchResult{}, nil
}

// A trace of the session with no span of the app (a backend job carrying
// the session) is found through a log record's trace ID; each named trace
// is fetched once, traces the search returned are not fetched again, and a
// named trace without the session stays out.
func TestSessionTimelineFindsBackendOnlyTracesThroughLogs(t *testing.T) {
	app, job, other := "0000000000000000000000000000000a", "0000000000000000000000000000000b", "0000000000000000000000000000000c"
	jobTrace := telemetry.Trace{TraceID: job, Spans: []telemetry.Span{{TraceID: job, SpanID: "00000000000000b1", Service: "worker", Kind: telemetry.KindServer,
		Start: t0, Duration: time.Second, Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}}}}
	otherTrace := telemetry.Trace{TraceID: other, Spans: []telemetry.Span{{TraceID: other, SpanID: "00000000000000c1", Service: "worker", Start: t0, Duration: time.Second}}}
	store := &appOnlyStore{app: map[string]telemetry.Trace{app: fullTrace(app)}, byID: map[string]telemetry.Trace{job: jobTrace, other: otherTrace}, fetched: map[string]int{}}
	logs := recordedLogs{bySession: []telemetry.LogRecord{
		{Time: t0, TraceID: app, SpanID: "00000000000000a2", Body: "in the app's trace"},
		{Time: t0, TraceID: job, SpanID: "00000000000000b1", Body: "job"},
		{Time: t0, TraceID: job, SpanID: "00000000000000b1", Body: "job again"},
		{Time: t0, TraceID: other, Body: "names a trace without the session"},
		{Time: t0, TraceID: "0000000000000000000000000000000d", Body: "names a trace the store never kept"},
	}}
	e := &Engine{Traces: store, Logs: logs, Limits: DefaultLimits}
	res, err := e.SessionTimeline(context.Background(), sid, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, store.appOnly, "one app-only search")
	assert.Equal(t, map[string]int{job: 1, other: 1, "0000000000000000000000000000000d": 1}, store.fetched)
	assert.Empty(t, res.Notices)
	var services []string
	for _, s := range res.Timeline.Backend {
		services = append(services, s.Service+"/"+s.TraceID)
	}
	assert.ElementsMatch(t, []string{"/" + app, "worker/" + job}, services)
	require.Len(t, res.Timeline.Unjoined, 1)
	assert.Equal(t, job, res.Timeline.Unjoined[0].TraceID)
}

// A store's search can lag its trace by ID (Tempo makes device spans
// stamped minutes ahead searchable only later): a trace the session's logs
// name joins the timeline all the same, and the session's trace cap says
// what it left out.
func TestTimelineLooksUpTracesItsLogsNameButTheSearchMissed(t *testing.T) {
	searched, fresh, unknown := "0000000000000000000000000000000d", "0000000000000000000000000000000e", "0000000000000000000000000000000f"
	store := &appOnlyStore{
		app:     map[string]telemetry.Trace{searched: fullTrace(searched)},
		byID:    map[string]telemetry.Trace{searched: fullTrace(searched), fresh: fullTrace(fresh)},
		fetched: map[string]int{},
	}
	logs := recordedLogs{bySession: []telemetry.LogRecord{
		{Time: t0, TraceID: fresh, SpanID: "00000000000000a1", Body: "request sent", Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
		{Time: t0, TraceID: unknown, SpanID: "00000000000000a1", Body: "sampled out", Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
	}}
	e := &Engine{Traces: store, Logs: logs, Limits: DefaultLimits}
	res, err := e.SessionTimeline(context.Background(), sid, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, res.Notices, "a trace the store does not know is no fault")
	var traceIDs []string
	for _, r := range res.Timeline.Requests {
		traceIDs = append(traceIDs, r.Client.TraceID)
	}
	assert.ElementsMatch(t, []string{searched, fresh}, traceIDs, "the trace named by a log joins the timeline")

	e.Limits.TracesPerSession = 1
	res, err = e.SessionTimeline(context.Background(), sid, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, res.Notices, 1, "the cap says what it left out")
	assert.Contains(t, res.Notices[0].Text, "2 more traces named by the session's log records were not read")
}
