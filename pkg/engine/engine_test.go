package engine

import (
	"context"
	"errors"
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
	e := &Engine{Traces: store, Limits: DefaultLimits}
	res, err := e.Sessions(context.Background(), query.Sessions{Limit: 10}, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, res.Sessions, 1, "device spans come from the trace fetched by ID")
	assert.Equal(t, "2.0", res.Sessions[0].App.Version)
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

// laggingSearchStore's search has not caught up with some traces (Tempo
// makes future-stamped device spans searchable only later); trace by ID
// finds them at once.
type laggingSearchStore struct {
	searchable, byID map[string]telemetry.Trace
}

func (s *laggingSearchStore) CheckHealth(context.Context) (string, error) { return "", nil }
func (s *laggingSearchStore) SearchTraces(context.Context, stores.TraceSearch) (stores.TraceSearchResult, error) {
	var out []telemetry.Trace
	for _, t := range s.searchable {
		out = append(out, t)
	}
	return stores.TraceSearchResult{Traces: out, Complete: true}, nil
}
func (s *laggingSearchStore) Trace(_ context.Context, id string, _, _ time.Time) (*telemetry.Trace, error) {
	t, ok := s.byID[id]
	if !ok {
		return nil, stores.ErrNotFound
	}
	return &t, nil
}

type sessionLogs []telemetry.LogRecord

func (l sessionLogs) CheckHealth(context.Context) (string, error) { return "", nil }
func (l sessionLogs) SearchLogs(_ context.Context, q stores.LogSearch) (stores.LogSearchResult, error) {
	if q.SessionID != "" {
		return stores.LogSearchResult{Records: l}, nil
	}
	return stores.LogSearchResult{}, nil
}

func TestTimelineLooksUpTracesItsLogsNameButTheSearchMissed(t *testing.T) {
	searched, fresh, unknown := "0000000000000000000000000000000d", "0000000000000000000000000000000e", "0000000000000000000000000000000f"
	store := &laggingSearchStore{
		searchable: map[string]telemetry.Trace{searched: fullTrace(searched)},
		byID:       map[string]telemetry.Trace{searched: fullTrace(searched), fresh: fullTrace(fresh)},
	}
	logs := sessionLogs{
		{Time: t0, TraceID: fresh, SpanID: "00000000000000a1", Body: "request sent", Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
		{Time: t0, TraceID: unknown, SpanID: "00000000000000a1", Body: "sampled out", Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: sid}}},
	}
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
	assert.Contains(t, res.Notices[0].Text, "2 more traces named by the session's logs were not read")
}
