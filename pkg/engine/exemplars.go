package engine

import (
	"context"
	"errors"
	"time"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// ErrNoMetricStore is returned when a query needs the metrics store and none
// is configured.
var ErrNoMetricStore = errors.New("no metrics store is configured (metrics.kind prometheus): exemplars come from its request-duration histogram")

// Labels of the request-duration histogram the reference pipeline's span
// metrics write: a series per endpoint (url.template), span kind and status.
const (
	labelEndpoint   = "url_template"
	labelSpanKind   = "span_kind"
	labelStatusCode = "http_response_status_code"
	clientSpanKind  = "SPAN_KIND_CLIENT"
)

// ExemplarSessionsResult is the sessions behind an endpoint's exemplars.
type ExemplarSessionsResult struct {
	Sessions []*correlation.SessionSummary
	Notices  []Notice
}

// ExemplarSessions follows an endpoint's exemplars (Prometheus keeps trace
// IDs beside the buckets of the app's request-duration histogram) to their
// traces and the sessions those belong to: the sessions behind a latency or
// error spike. Prometheus picks which observations become exemplars, so the
// list is a sample of the spike's sessions, which a notice says.
func (e *Engine) ExemplarSessions(ctx context.Context, q query.ExemplarSessions, from, to time.Time) (*ExemplarSessionsResult, error) {
	if e.Metrics == nil {
		return nil, ErrNoMetricStore
	}
	if e.Traces == nil {
		return nil, ErrNoTraceStore
	}
	res := &ExemplarSessionsResult{}
	var ns notices
	defer func() { res.Notices = ns.all() }()

	search := stores.ExemplarSearch{
		Metric: e.RequestDurationMetric + "_bucket",
		Labels: []telemetry.KV{{Key: labelEndpoint, Value: q.Endpoint}, {Key: labelSpanKind, Value: clientSpanKind}},
		Start:  from, End: to,
	}
	exemplars, err := e.Metrics.Exemplars(ctx, search)
	if err != nil {
		return nil, err
	}
	var traceIDs []string
	seen := map[string]bool{}
	for _, x := range exemplars {
		if x.Value < q.MinDurationMs || seen[x.TraceID] {
			continue
		}
		if q.ErrorsOnly {
			if code := x.Series[labelStatusCode]; len(code) != 3 || code[0] != '5' {
				continue
			}
		}
		seen[x.TraceID] = true
		traceIDs = append(traceIDs, x.TraceID)
	}
	if len(traceIDs) == 0 {
		ns.query("no exemplar of %s matches in this time range (%d exemplars of the endpoint)", q.Endpoint, len(exemplars))
		return res, nil
	}

	// Each exemplar's trace names its session: the newest exemplars first,
	// until limit sessions are found.
	bySession := map[string]*correlation.SessionSummary{}
	missing := 0
	for i, id := range traceIDs {
		if len(res.Sessions) == q.Limit {
			ns.query("showing the sessions of the newest exemplars (limit %d); %d more exemplar traces not read", q.Limit, len(traceIDs)-i)
			break
		}
		r, err := e.TraceToSession(ctx, id, from, to)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			ns.store(roleTraces, "trace %s of an exemplar: %v", id, err)
			// A store that did not answer in time is not asked again
			// in this query: the next lookup would wait as long.
			if timedOut(err) {
				ns.store(roleTraces, "%d more exemplar traces not read: the trace store timed out", len(traceIDs)-i-1)
				break
			}
			continue
		}
		if r.Session == nil || schema.ValidSessionID(r.Session.SessionID) != nil {
			missing++ // sampled out, not kept by the trace store, or no session
			continue
		}
		if bySession[r.Session.SessionID] == nil {
			bySession[r.Session.SessionID] = r.Session
			res.Sessions = append(res.Sessions, r.Session)
		}
	}
	if missing > 0 {
		ns.query("%d exemplar traces were not found in the trace store or carry no session (sampled out, not kept, or not from the app)", missing)
	}
	ns.query("exemplars are a sample Prometheus keeps per bucket: these are sessions behind the spike, not all of them")
	return res, nil
}
