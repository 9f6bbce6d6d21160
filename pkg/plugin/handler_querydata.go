package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/concurrent"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/status"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/engine"
	"github.com/stitch-observability/stitch/pkg/frames"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// queryConcurrency bounds how many queries of one request run at once. Each
// query bounds its own store calls too (engine.Limits.FetchConcurrency), so
// this keeps one dashboard from flooding a store.
const queryConcurrency = 4

// queryReadBytes is each query's budget of bytes read from its stores
// (storehttp.Budget): one answer of the largest size from each of the two
// stores a query reads at once. Decoded answers are what a query holds, so
// this bounds its memory whatever the stores send.
const queryReadBytes = 2 * storehttp.MaxBodyBytes

// queryHandler answers one query of its type.
type queryHandler func(d *Datasource, ctx context.Context, q backend.DataQuery) backend.DataResponse

// queryHandlers maps each query type (query.Types) to its handler.
var queryHandlers = map[string]queryHandler{
	query.TypeSessions:          (*Datasource).sessions,
	query.TypeSessionTimeline:   (*Datasource).sessionTimeline,
	query.TypeTraceToSession:    (*Datasource).traceToSession,
	query.TypeLatencyBreakdown:  (*Datasource).latencyBreakdown,
	query.TypeErrorCascades:     (*Datasource).errorCascades,
	query.TypePropagationHealth: (*Datasource).propagationHealth,
	query.TypeSessionMetrics:    (*Datasource).sessionMetrics,
	query.TypeExemplarSessions:  (*Datasource).exemplarSessions,
}

// QueryData answers the request's queries concurrently, each on its own: one
// failing or panicking query never fails the others in the request.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	if d.settingsErr != nil {
		resp := backend.NewQueryDataResponse()
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = backend.ErrorResponseWithErrorSource(d.settingsErr)
		}
		return resp, nil
	}
	return concurrent.QueryData(ctx, req, func(ctx context.Context, q concurrent.Query) backend.DataResponse {
		return d.query(ctx, q.DataQuery)
	}, queryConcurrency)
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery) (res backend.DataResponse) {
	defer func() {
		if r := recover(); r != nil {
			log.DefaultLogger.FromContext(ctx).Error("query panicked", "refId", q.RefID, "panic", d.settings.Redact(fmt.Sprint(r)), "stack", string(debug.Stack()))
			res = internalError()
		}
	}()
	qt, err := query.ParseHeader(q.JSON, q.QueryType)
	if err != nil {
		return badRequest(err)
	}
	handle, ok := queryHandlers[qt]
	if !ok {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			fmt.Sprintf("queryType: %q is not a query type Stitch answers; choose one of %s", qt, strings.Join(query.Types, ", ")))
	}
	budget := storehttp.NewBudget(queryReadBytes)
	res = handle(d, storehttp.WithBudget(ctx, budget), q)
	addStoreRequests(res.Frames, budget.Requests())
	return res
}

// internalError is a query's answer to a bug of Stitch's: no detail for the
// user (it is logged), and the plugin's fault.
func internalError() backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error while running this query")
}

func badRequest(err error) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
}

func (d *Datasource) engine() *engine.Engine {
	e := &engine.Engine{Traces: d.traces, Logs: d.logs, Metrics: d.metrics, Limits: engine.DefaultLimits,
		RequestDurationMetric: settings.DefaultRequestDurationMetric}
	if d.settings.Metrics != nil {
		e.RequestDurationMetric = d.settings.Metrics.RequestDurationMetric
	}
	return e
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
			out.Frames = append(out.Frames, frames.Timeline(r.Timeline, d.links()))
		case "waterfall":
			out.Frames = append(out.Frames, frames.Waterfall(r.Timeline, d.links()))
		case "logs":
			out.Frames = append(out.Frames, frames.Logs(r.Timeline, d.links()))
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
	out := backend.DataResponse{Frames: data.Frames{frames.Sessions("sessions", r.Sessions, d.links())}}
	d.addNotices(out.Frames, r.Notices)
	addTotal(out.Frames, r.Total)
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
	out := backend.DataResponse{Frames: data.Frames{frames.Sessions("session", rows, d.links())}}
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
	out := backend.DataResponse{Frames: data.Frames{frames.Cascades(r.Cascades, d.links())}}
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

func (d *Datasource) exemplarSessions(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	eq, err := query.ParseExemplarSessions(q.JSON)
	if err != nil {
		return badRequest(err)
	}
	r, err := d.engine().ExemplarSessions(ctx, eq, q.TimeRange.From, q.TimeRange.To)
	if err != nil {
		return d.failed(ctx, err)
	}
	out := backend.DataResponse{Frames: data.Frames{frames.Sessions("sessions", r.Sessions, d.links())}}
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

// statusClientClosedRequest is the status Grafana gives a request whose
// client went away (nginx's 499); the SDK has no name for it.
const statusClientClosedRequest backend.Status = 499

// failed turns an engine error into the query's error response: the one place
// where errors get their status and source.
//
//	a panic in Stitch                         500, plugin (details only logged)
//	cancelled by the user or Grafana          499, downstream
//	invalid query or configuration            400, downstream
//	a store, or the request, timed out        504, downstream
//	a store failed: unreachable, an error     502, the store error's source
//	status (incl. 401/403), not its API       (downstream but for requests
//	                                          Stitch should not have sent)
//	any other network failure                 502, downstream
//	anything else: a bug of Stitch's          500, plugin
//
// A store's 401 or 403 concerns the data source's store credentials, not the
// Grafana user's, so it is not passed on as 401/403; its message says what to
// check.
func (d *Datasource) failed(ctx context.Context, err error) backend.DataResponse {
	var pe *safego.PanicError
	if errors.As(err, &pe) {
		log.DefaultLogger.FromContext(ctx).Error("query panicked", "panic", d.settings.Redact(fmt.Sprint(pe.Value)), "stack", string(pe.Stack))
		return internalError()
	}
	msg := d.settings.Redact(err.Error())
	if status.IsCancelledError(err) {
		return backend.ErrDataResponseWithSource(statusClientClosedRequest, backend.ErrorSourceDownstream, "query cancelled")
	}
	var (
		fe *query.FieldError
		ce *settings.Error
		se *storehttp.Error
	)
	switch {
	case errors.As(err, &fe) || errors.As(err, &ce) || errors.Is(err, engine.ErrNoTraceStore) || errors.Is(err, engine.ErrNoMetricStore):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
	case isTimeout(err):
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, msg)
	case errors.As(err, &se):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, se.ErrorSource(), msg)
	case backend.IsDownstreamHTTPError(err):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, msg)
	}
	log.DefaultLogger.FromContext(ctx).Error("query failed", "error", msg)
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, msg)
}

// isTimeout reports a store's timeout setting, or the request's deadline,
// running out.
func isTimeout(err error) bool {
	var se *storehttp.Error
	if errors.As(err, &se) && se.TimedOut {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}
