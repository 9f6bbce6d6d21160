// Package correlation is Stitch's join: it takes the spans and log records the
// stores returned for one session and builds the session as one connected
// story — user actions, the app's client requests, the backend spans each
// request caused and the log records of each — with the device clock aligned
// to the backends'. It joins only on the shared schema's names (session.id,
// trace and span IDs, the device resource attributes) and has no I/O.
package correlation

import (
	"fmt"
	"sort"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Layer is where in the story an item sits.
type Layer string

const (
	LayerAction    Layer = "action"
	LayerClient    Layer = "client"
	LayerNetwork   Layer = "network"
	LayerServer    Layer = "server"
	LayerLog       Layer = "log"
	LayerLifecycle Layer = "lifecycle"
)

// IsDeviceSpan tells a span the app wrote from a backend span: the schema
// requires device resource attributes (device.model.identifier) on
// everything the app sends, and no backend sets them.
func IsDeviceSpan(s *telemetry.Span) bool {
	_, ok := s.Resource.Get(schema.AttrDeviceModelIdentifier)
	return ok
}

// IsDeviceLog tells the app's log records from backend ones, as IsDeviceSpan.
func IsDeviceLog(r *telemetry.LogRecord) bool {
	_, ok := r.Attributes.Get(schema.AttrDeviceModelIdentifier)
	return ok
}

// SpanRef identifies a span across traces.
type SpanRef struct{ TraceID, SpanID string }

// Request is one client request the app made, joined to what it caused.
type Request struct {
	Client *telemetry.Span
	// Action is the user action the request belongs to, if recorded.
	Action *telemetry.Span
	// ServerRoot is the first backend span the request caused (its parent
	// is the client span), nil when no backend span was found.
	ServerRoot *telemetry.Span
	// Backend holds every backend span of the request's trace.
	Backend []*telemetry.Span
	// MissingReason says why no backend span was found.
	MissingReason string
}

// NetworkTime is the client span's duration minus the server span's:
// network and queueing, from durations only so a skewed device clock cannot
// distort it. Zero when the request has no server span.
func (r *Request) NetworkTime() time.Duration {
	if r.ServerRoot == nil {
		return 0
	}
	d := r.Client.Duration - r.ServerRoot.Duration
	if d < 0 {
		return 0
	}
	return d
}

// Timeline is one session, joined.
type Timeline struct {
	SessionID string
	// Start and End bound everything in the session, on the backend clock.
	Start, End time.Time
	// ClockOffset is the device clock minus the backend clock, estimated
	// from client/server span pairs; device times are shifted by it.
	ClockOffset time.Duration
	// OffsetSamples is how many client/server pairs the estimate rests on.
	OffsetSamples int

	Actions  []*telemetry.Span
	Requests []*Request
	// OtherDevice holds device spans that are neither actions nor requests.
	OtherDevice []*telemetry.Span
	// Backend holds every backend span, across all traces.
	Backend []*telemetry.Span
	// Logs are the session's log records in time order (backend clock).
	Logs []TimelineLog
	// Unjoined are the backend spans of Backend that joined no request
	// (e.g. a background job carrying the session), in start order.
	Unjoined []*telemetry.Span

	// index, logStart and logIdx place each span's log records (see
	// LogsOf).
	index            *Index
	logStart, logIdx []int32

	// Attributes of the app and device, from the device spans' resource.
	App AppInfo
}

// TimelineLog is one log record of the session, placed on the timeline.
type TimelineLog struct {
	// The record as the store returned it, shared, not copied.
	*telemetry.LogRecord
	// At is the record's time on the backend clock.
	At time.Time
	// Layer is LayerLifecycle for the schema's session and app lifecycle
	// events, LayerLog otherwise.
	Layer Layer
}

// AppInfo is what the session's device spans say about the app and device.
type AppInfo struct {
	Service, Version, OSName, OSVersion, DeviceModel, NetworkType string
}

// Input is what the stores returned for one session.
type Input struct {
	SessionID string
	Traces    []telemetry.Trace
	Logs      []telemetry.LogRecord
}

// BuildTimeline joins one session's spans and logs.
func BuildTimeline(in Input) *Timeline {
	x := NewIndex(in.Traces)
	t := &Timeline{SessionID: in.SessionID, Backend: make([]*telemetry.Span, 0, len(x.spans))}
	ofSession := func(s *telemetry.Span) bool {
		// Spans that name another session never join this one, even when
		// a store returns them in the same trace.
		sid := s.Attr(schema.AttrSessionID)
		return sid == "" || sid == in.SessionID
	}
	inSession := make([]bool, len(x.spans))
	for p, s := range x.spans {
		if !ofSession(s) {
			continue
		}
		inSession[p] = true
		if !x.device[p] {
			t.Backend = append(t.Backend, s)
			continue
		}
		t.fillApp(s)
		switch {
		case s.Kind == telemetry.KindClient:
			// Joined below, from the index.
		case s.Attr(schema.AttrStitchActionName) != "" || s.Attr(schema.AttrStitchActionID) != "":
			t.Actions = append(t.Actions, s)
		default:
			t.OtherDevice = append(t.OtherDevice, s)
		}
	}
	// Every request's backend spans are slices of one list, walked once:
	// a span joins the first request that reaches it.
	walk := subtreeWalk{x: x, seen: make([]bool, len(x.spans))}
	joined := make([]*telemetry.Span, 0, len(t.Backend))
	t.Requests = make([]*Request, 0, len(x.requests))
	for _, r := range x.requests {
		// The index is this timeline's own: its requests are completed in
		// place.
		if !ofSession(r.Client) {
			continue
		}
		if r.ServerRoot != nil {
			from := len(joined)
			joined = walk.appendSubtree(joined, x.place(r.ServerRoot))
			r.Backend = joined[from:len(joined):len(joined)]
		} else {
			r.MissingReason = missingReason(r.Client)
		}
		t.Requests = append(t.Requests, r)
	}
	for _, s := range t.Backend {
		if !walk.seen[x.place(s)] {
			t.Unjoined = append(t.Unjoined, s)
		}
	}
	off := x.Offset(in.SessionID)
	t.ClockOffset, t.OffsetSamples = off.Offset, off.Samples

	// Logs in backend-clock order, ties in the order the stores returned
	// them; sorted as small keys, then placed once.
	keys := sortByTime(len(in.Logs), func(i int) time.Time { return AlignedLogTime(&in.Logs[i], t.ClockOffset) })
	t.Logs = make([]TimelineLog, len(in.Logs))
	// Each span's log records: counted by span place, then placed (a
	// counting sort), so the waterfall reads them without a map.
	logSpan := make([]int32, len(in.Logs))
	t.logStart = make([]int32, len(x.spans)+1)
	for k, key := range keys {
		l := &in.Logs[key.i]
		t.Logs[k] = TimelineLog{LogRecord: l, At: AlignedLogTime(l, t.ClockOffset), Layer: logLayer(l)}
		logSpan[k] = -1
		if l.TraceID != "" && l.SpanID != "" {
			if p := x.placeOf(SpanRef{l.TraceID, l.SpanID}); p >= 0 {
				logSpan[k] = p
				t.logStart[p+1]++
			}
		}
	}
	for i := 1; i < len(t.logStart); i++ {
		t.logStart[i] += t.logStart[i-1]
	}
	t.logIdx = make([]int32, t.logStart[len(x.spans)])
	fill := make([]int32, len(x.spans))
	copy(fill, t.logStart)
	for k, p := range logSpan {
		if p >= 0 {
			t.logIdx[fill[p]] = int32(k)
			fill[p]++
		}
	}
	t.index = x
	t.bounds(x, inSession)
	return t
}

// LogsOf are the indexes in Logs of a span's log records, in time order.
func (t *Timeline) LogsOf(s *telemetry.Span) []int32 {
	if t.index == nil {
		return nil
	}
	p := t.index.place(s)
	if p < 0 {
		return nil
	}
	return t.logIdx[t.logStart[p]:t.logStart[p+1]:t.logStart[p+1]]
}

// logLayer tells the schema's lifecycle events (by body or event.name) from
// other log records.
func logLayer(l *telemetry.LogRecord) Layer {
	for _, name := range []string{l.Body, l.Attributes.Value("event.name")} {
		switch name {
		case schema.EventSessionStart, schema.EventSessionEnd, schema.EventDeviceAppLifecycle:
			return LayerLifecycle
		}
	}
	return LayerLog
}

// missingReason explains a client request with no backend span under it.
func missingReason(client *telemetry.Span) string {
	host := client.Attr(schema.AttrServerAddress)
	if host == "" {
		host = "the server"
	}
	// A device span of a sampled-out session is exported only when the
	// schema's rule keeps it anyway (error or latency); the backend, told by
	// traceparent that the trace is not sampled, records nothing.
	if SessionSampledOut(client) {
		return fmt.Sprintf("no backend trace: the session is sampled out (this request was kept for %s)", client.Attr(schema.AttrStitchSamplingReason))
	}
	return fmt.Sprintf("no backend trace continues this request (trace %s): %s did not continue traceparent, the backend sampled it out, or its spans have not arrived yet", client.TraceID, host)
}

func (t *Timeline) fillApp(s *telemetry.Span) { t.App.fill(s) }

// fill sets the app and device fields still empty from a device span.
func (a *AppInfo) fill(s *telemetry.Span) {
	set := func(dst *string, key string) {
		if *dst == "" {
			*dst = s.Attr(key)
		}
	}
	set(&a.Service, schema.AttrServiceName)
	if a.Service == "" {
		a.Service = s.Service
	}
	set(&a.Version, schema.AttrServiceVersion)
	set(&a.OSName, schema.AttrOSName)
	set(&a.OSVersion, schema.AttrOSVersion)
	set(&a.DeviceModel, schema.AttrDeviceModelIdentifier)
	set(&a.NetworkType, schema.AttrNetworkConnectionType)
}

// Aligned converts a span's start to the backend clock.
func (t *Timeline) Aligned(s *telemetry.Span) time.Time {
	if IsDeviceSpan(s) {
		return s.Start.Add(-t.ClockOffset)
	}
	return s.Start
}

func (t *Timeline) bounds(x *Index, inSession []bool) {
	for p, s := range x.spans {
		if !inSession[p] {
			continue
		}
		start := s.Start
		if x.device[p] {
			start = start.Add(-t.ClockOffset)
		}
		end := start.Add(s.Duration)
		if t.Start.IsZero() || start.Before(t.Start) {
			t.Start = start
		}
		if end.After(t.End) {
			t.End = end
		}
	}
	for _, l := range t.Logs {
		if t.Start.IsZero() || l.At.Before(t.Start) {
			t.Start = l.At
		}
		if l.At.After(t.End) {
			t.End = l.At
		}
	}
}

// EstimateClockOffset estimates the device clock minus the backend clock from
// client/server span pairs: for a request, the server span sits inside the
// client span, so with the network time split evenly the two midpoints
// coincide. The median over all pairs resists outliers (retries, queueing).
func EstimateClockOffset(reqs []*Request) (time.Duration, int) {
	var offsets []time.Duration
	for _, r := range reqs {
		if r.ServerRoot == nil {
			continue
		}
		clientMid := r.Client.Start.Add(r.Client.Duration / 2)
		serverMid := r.ServerRoot.Start.Add(r.ServerRoot.Duration / 2)
		offsets = append(offsets, clientMid.Sub(serverMid))
	}
	if len(offsets) == 0 {
		return 0, 0
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	n := len(offsets)
	if n%2 == 1 {
		return offsets[n/2], n
	}
	return (offsets[n/2-1] + offsets[n/2]) / 2, n
}
