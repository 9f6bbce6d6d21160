package plugin

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/engine"
	"github.com/stitch-observability/stitch/pkg/frames"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/safego"
)

// QueryData answers each query on its own: one failing query never fails the
// others in the request.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	if d.settingsErr != nil {
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = backend.ErrorResponseWithErrorSource(d.settingsErr)
		}
		return resp, nil
	}
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery) (res backend.DataResponse) {
	defer func() {
		if r := recover(); r != nil {
			log.DefaultLogger.FromContext(ctx).Error("query panicked", "refId", q.RefID, "panic", d.settings.Redact(fmt.Sprint(r)), "stack", string(debug.Stack()))
			res = backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error while running this query")
		}
	}()
	qt, err := query.ParseHeader(q.JSON, q.QueryType)
	if err != nil {
		return badRequest(err)
	}
	switch qt {
	case query.TypeSessions:
		return d.sessions(ctx, q)
	case query.TypeSessionTimeline:
		return d.sessionTimeline(ctx, q)
	case query.TypeTraceToSession:
		return d.traceToSession(ctx, q)
	case query.TypeLatencyBreakdown:
		return d.latencyBreakdown(ctx, q)
	case query.TypeErrorCascades:
		return d.errorCascades(ctx, q)
	case query.TypePropagationHealth:
		return d.propagationHealth(ctx, q)
	case query.TypeSessionMetrics:
		return d.sessionMetrics(ctx, q)
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
		fmt.Sprintf("queryType: %q is not a query type Stitch answers; choose one of %s", qt, strings.Join(query.Types, ", ")))
}

func badRequest(err error) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
}

func (d *Datasource) engine() *engine.Engine {
	return &engine.Engine{Traces: d.traces, Logs: d.logs, Limits: engine.DefaultLimits}
}

func (d *Datasource) sessionTimeline(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	tq, err := query.ParseSessionTimeline(q.JSON)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().SessionTimeline(ctx, tq.SessionID, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	var out backend.DataResponse
	for _, name := range tq.Frames {
		switch name {
		case "timeline":
			out.Frames = append(out.Frames, frames.Timeline(r.Timeline))
		case "waterfall":
			out.Frames = append(out.Frames, frames.Waterfall(r.Timeline))
		case "logs":
			out.Frames = append(out.Frames, frames.Logs(r.Timeline))
		}
	}
	d.addNotices(out.Frames, r.Notices)
	return out
}

func (d *Datasource) sessions(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	sq, err := query.ParseSessions(q.JSON)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().Sessions(ctx, sq, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: data.Frames{frames.Sessions("sessions", r.Sessions, d.uid)}}
	d.addNotices(out.Frames, r.Notices)
	return out
}

func (d *Datasource) traceToSession(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	tq, err := query.ParseTraceToSession(q.JSON)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().TraceToSession(ctx, tq.TraceID, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	var rows []*correlation.SessionSummary
	if r.Session != nil {
		rows = append(rows, r.Session)
	}
	out := backend.DataResponse{Frames: data.Frames{frames.Sessions("session", rows, d.uid)}}
	d.addNotices(out.Frames, r.Notices)
	return out
}

func (d *Datasource) latencyBreakdown(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	lq, err := query.ParseLatencyBreakdown(q.JSON, correlation.GroupDimensions)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().LatencyBreakdown(ctx, lq, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: data.Frames{frames.Latency(r.Groups, lq.GroupBy)}}
	d.addNotices(out.Frames, r.Notices)
	return out
}

func (d *Datasource) errorCascades(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	cq, err := query.ParseErrorCascades(q.JSON)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().ErrorCascades(ctx, cq, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: data.Frames{frames.Cascades(r.Cascades, d.uid)}}
	d.addNotices(out.Frames, r.Notices)
	return out
}

func (d *Datasource) propagationHealth(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	r, err := d.engine().PropagationHealth(ctx, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: frames.Propagation(r.Propagation, r.LogCoverage)}
	d.addNotices(out.Frames, r.Notices)
	return out
}

// minStep keeps session metrics' buckets wide enough to hold sessions.
const minStep = 10 * time.Second

func (d *Datasource) sessionMetrics(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	mq, err := query.ParseSessionMetrics(q.JSON, correlation.Metrics, correlation.GroupDimensions)
	if err != nil {
		return badRequest(err)
	}
	// Buckets of the panel's interval, no finer than MaxDataPoints allows.
	step := q.Interval
	if q.MaxDataPoints > 0 {
		if s := q.TimeRange.Duration() / time.Duration(q.MaxDataPoints); s > step {
			step = s
		}
	}
	step = max(step, minStep).Truncate(time.Second)
	from := q.TimeRange.From.Truncate(step)
	r, err := d.engine().SessionMetrics(ctx, mq, from, q.TimeRange.To, step)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: frames.SessionMetric(mq.Metric, r.Series, mq.GroupBy)}
	d.addNotices(out.Frames, r.Notices)
	return out
}

// failed turns an engine error into the query's error with its source.
func (d *Datasource) failed(ctx context.Context, err error) backend.DataResponse {
	var pe *safego.PanicError
	if errors.As(err, &pe) {
		log.DefaultLogger.FromContext(ctx).Error("query panicked", "panic", d.settings.Redact(fmt.Sprint(pe.Value)), "stack", string(pe.Stack))
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error while running this query")
	}
	msg := d.settings.Redact(err.Error())
	if errors.Is(err, context.Canceled) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "cancelled")
	}
	var fe *query.FieldError
	if errors.As(err, &fe) || errors.Is(err, engine.ErrNoTraceStore) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
	}
	if backend.IsDownstreamError(err) {
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, msg)
	}
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, msg)
}
