// Package stores defines the store-neutral interfaces the correlation engine
// talks to. Each store adapter (Jaeger, Tempo, VictoriaLogs, Loki, Prometheus)
// lives in its own sub-package and implements the interface of its role.
package stores

import (
	"context"
	"errors"
	"time"

	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// HealthChecker checks a store through the same query path real queries take,
// not a ping: a store that answers its liveness endpoint but cannot run a
// query is not healthy.
type HealthChecker interface {
	// CheckHealth returns a short, user-facing detail on success
	// (e.g. "12 services").
	CheckHealth(ctx context.Context) (string, error)
}

// TraceStore holds traces (Jaeger or Tempo).
type TraceStore interface {
	HealthChecker
	SearchTraces(ctx context.Context, q TraceSearch) (TraceSearchResult, error)
	// Trace returns one trace by its 32-hex ID; ErrNotFound if absent.
	Trace(ctx context.Context, traceID string, start, end time.Time) (*telemetry.Trace, error)
}

// LogStore holds log records (VictoriaLogs or Loki).
type LogStore interface {
	HealthChecker
	SearchLogs(ctx context.Context, q LogSearch) (LogSearchResult, error)
}

// MetricStore holds metrics and exemplars (Prometheus).
type MetricStore interface {
	HealthChecker
	// Exemplars returns the exemplars of the series that match q.
	Exemplars(ctx context.Context, q ExemplarSearch) ([]Exemplar, error)
	// Histogram reads one histogram's observations made in [Start, End],
	// grouped: per group its quantiles (estimated from the buckets), the
	// observation count and sum, and the count of those that match the
	// error matchers. Groups with no observation are left out.
	Histogram(ctx context.Context, q HistogramQuery) (HistogramResult, error)
	// HistogramSeries reads one figure of a histogram (a quantile, or the
	// mean) as a time series per group: one point per step, each over the
	// observations made in the window ending at it.
	HistogramSeries(ctx context.Context, q HistogramSeriesQuery) (HistogramSeriesResult, error)
}

// LabelMatch matches one series label: equal to Value, or, with Regex, fully
// matching the regular expression Value (RE2, anchored); with Not, the
// opposite.
type LabelMatch struct {
	Name, Value string
	Regex, Not  bool
}

// HistogramQuery asks for the observations of one histogram (its name
// without the _bucket, _sum and _count suffixes) in the series matching
// every matcher of Match, grouped by the labels of GroupBy.
type HistogramQuery struct {
	Metric  string
	Match   []LabelMatch
	GroupBy []string
	// Quantiles are the φ (0 < φ < 1) to estimate per group.
	Quantiles []float64
	// Errors: an observation is an error when its series matches every
	// matcher of one of these sets. None: no errors counted.
	Errors     [][]LabelMatch
	Start, End time.Time
}

// HistogramGroup is one group of a histogram's observations.
type HistogramGroup struct {
	// Labels holds the value of each GroupBy label ("" when absent).
	Labels map[string]string
	// Quantiles, in the order asked; NaN where the store has no estimate.
	Quantiles []float64
	// Count, Sum and Errors of the observations in the window, in the
	// histogram's unit.
	Count, Sum, Errors float64
}

// HistogramResult is what a histogram read found.
type HistogramResult struct {
	Groups []HistogramGroup
	// Warnings the store returned with its answer (partial data).
	Warnings []string
	// Resets counts the series whose counters went back in the window (a
	// restarted writer): their counts before the reset are not included.
	Resets int
}

// HistogramSeriesQuery asks for one figure of a histogram (its name without
// the _bucket, _sum and _count suffixes) as time series, in the series
// matching every matcher of Match, grouped by the labels of GroupBy: a point
// at Start, Start+Step, … up to End, each over the observations made in the
// Window ending at it.
type HistogramSeriesQuery struct {
	Metric  string
	Match   []LabelMatch
	GroupBy []string
	// Quantile is the φ (0 < φ < 1) to estimate per point; 0 asks for the
	// mean (sum / count) instead.
	Quantile   float64
	Start, End time.Time
	Step       time.Duration
	Window     time.Duration
}

// HistogramSeries is one group's series; Values[i] is the figure at
// Times[i], NaN where the window held no observation.
type HistogramSeries struct {
	// Labels holds the value of each GroupBy label ("" when absent).
	Labels map[string]string
	Times  []time.Time
	Values []float64
}

// HistogramSeriesResult is what a histogram series read found: the groups
// with at least one point.
type HistogramSeriesResult struct {
	Series []HistogramSeries
	// Warnings the store returned with its answer (partial data).
	Warnings []string
}

// ExemplarSearch asks for the exemplars of one metric's series whose labels
// equal the ones given, in [Start, End].
type ExemplarSearch struct {
	Metric     string
	Labels     []telemetry.KV
	Start, End time.Time
}

// Exemplar is one exemplar: a sampled observation and the trace it came
// from.
type Exemplar struct {
	TraceID string // 32 lowercase hex
	SpanID  string
	Value   float64
	Time    time.Time
	// Series are the labels of the series the exemplar belongs to.
	Series map[string]string
}

// TraceSearch asks a trace store for traces with a span carrying every
// attribute given (exact matches), started inside [Start, End].
type TraceSearch struct {
	Attributes []telemetry.KV
	// Present names attributes every matched span must carry, whatever
	// the value. Stores that can filter on presence (Tempo) push it down;
	// the others (Jaeger) return a superset.
	Present    []string
	Start, End time.Time
	// Limit caps the traces returned.
	Limit int
	// AppOnly says the caller needs only traces holding a span of the app
	// (a span with the schema's device resource attributes; it finds
	// backend-only traces another way). A store that must search service
	// by service (Jaeger) then searches only the app's services, not every
	// service it knows; a store that searches all services at once
	// ignores it.
	AppOnly bool
}

// TraceSearchResult is what a trace search found. A store that returns only
// the matching spans of each trace (Tempo's span sets) leaves Complete false;
// the engine then fetches those traces by ID.
type TraceSearchResult struct {
	Traces   []telemetry.Trace
	Complete bool
	// Truncated is set when Limit cut the result.
	Truncated bool
	// Warnings are partial failures worth a notice (e.g. one service's
	// search failed while the others answered).
	Warnings []string
}

// LogSearch asks a log store for records of one session or of given traces.
type LogSearch struct {
	SessionID  string
	TraceIDs   []string
	Start, End time.Time
	Limit      int
}

// LogSearchResult is what a log search found.
type LogSearchResult struct {
	Records   []telemetry.LogRecord
	Truncated bool
	Warnings  []string
}

// ErrNotFound is returned when a store has no trace with the asked ID.
var ErrNotFound = errors.New("not found")

// LogCoverage counts one service's log records and those carrying a trace ID.
type LogCoverage struct {
	Records     int
	WithTraceID int
}

// LogCoverageCounter is a log store that can count, per service, the
// records in a window and those carrying a trace ID, as one aggregation
// pushed down to the store. Optional: the engine checks for it.
type LogCoverageCounter interface {
	LogCoverage(ctx context.Context, start, end time.Time) (map[string]LogCoverage, error)
}

// SessionOrder is the order a session list is ranked in, descending.
type SessionOrder string

// Session list orders.
const (
	OrderByStart    SessionOrder = "start"    // most recent first
	OrderByDuration SessionOrder = "duration" // longest first
	OrderByErrors   SessionOrder = "errors"   // most failed requests first
)

// SessionQuery asks a log store for the sessions whose app (device) log
// records in [Start, End] match: the log store is the session index, since
// every session writes device records carrying session.id and the app's
// resource attributes, and a store that aggregates can count them all.
type SessionQuery struct {
	Start, End time.Time
	// Match are exact matches on the app's resource attributes
	// (service.name, service.version, os.version, device.model.identifier):
	// the same on every device record of a session, so they filter records.
	Match []telemetry.KV
	// RecordMatch are exact matches on record attributes that change
	// during a session (network.connection.type): a session matches when
	// one of its device records does, and its extent still covers all.
	RecordMatch []telemetry.KV
	// Sessions, when not nil, restricts the index to these session IDs
	// (the sessions another store found for a filter it alone can answer).
	Sessions []string
	// ErrorsOnly keeps sessions with a device record carrying error.type
	// (the schema: the app records each failed request).
	ErrorsOnly  bool
	MinDuration time.Duration
	Order       SessionOrder
	// Limit caps the rows returned; it never changes Total.
	Limit int
}

// SessionRow is one session as the log store aggregates it from its device
// records.
type SessionRow struct {
	SessionID   string
	First, Last time.Time
	Records     int
	// Errors counts device records carrying error.type.
	Errors                                                int
	Service, Version, OSVersion, DeviceModel, NetworkType string
}

// SessionPage is the top Limit sessions in the order asked and how many
// matched in all.
type SessionPage struct {
	Rows  []SessionRow
	Total int
	// Warnings are partial failures worth a notice.
	Warnings []string
}

// SessionIndex is a log store that aggregates device records by session
// (VictoriaLogs `stats by (session.id)`, Loki metric queries), so a
// session list counts every session the store holds and reads only the
// rows it shows.
type SessionIndex interface {
	Sessions(ctx context.Context, q SessionQuery) (SessionPage, error)
}

// SessionCountQuery asks a log store to count, in buckets of Step from
// Start, the sessions active in each bucket (a device record of theirs in
// it) and those of them with a failed request (a device record carrying
// error.type), optionally per value of one device-record attribute.
type SessionCountQuery struct {
	Start, End time.Time
	Step       time.Duration
	Match      []telemetry.KV
	// GroupBy is an attribute of the device records ("" for one series).
	GroupBy string
}

// SessionCount is one bucket of one group. A session sampled at rate r < 1
// (its ID below the schema's boundary for r) stands for 1/r sessions; a
// sampled-out one, present only through its kept errors, for itself.
type SessionCount struct {
	Group         string
	Time          time.Time
	Sessions      float64
	ErrorSessions float64
}

// SessionCounts is the counted buckets; Weighted says a sampling rate
// below 1 scaled them.
type SessionCounts struct {
	Buckets  []SessionCount
	Weighted bool
}

// SessionCounter is a log store that counts sessions per bucket as one
// aggregation of its own, so alert series are the same at any store size.
type SessionCounter interface {
	SessionCounts(ctx context.Context, q SessionCountQuery) (SessionCounts, error)
}

// SessionsFound is the sessions of the spans a search matched.
type SessionsFound struct {
	Sessions []string
	// Truncated is set when the store could not count them all (its series
	// limit, or a bounded fallback): a notice says so.
	Truncated bool
	Warnings  []string
}

// SessionFinder is a trace store that finds the sessions of the spans
// matching a search as one aggregation of its own (Tempo: TraceQL metrics
// `count_over_time() by (span.session.id)`), without reading the traces.
// Optional: the engine otherwise reads every matching trace.
type SessionFinder interface {
	SessionsOf(ctx context.Context, q TraceSearch) (SessionsFound, error)
}
