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
	Logs    []telemetry.LogRecord
	// LogsBySpan indexes Logs by the span they belong to.
	LogsBySpan map[SpanRef][]int

	// Attributes of the app and device, from the device spans' resource.
	App AppInfo
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
	n := 0
	for i := range in.Traces {
		n += len(in.Traces[i].Spans)
	}
	// Maps and slices sized up front: the join's cost is mostly allocation.
	t := &Timeline{SessionID: in.SessionID, LogsBySpan: make(map[SpanRef][]int, len(in.Logs))}

	// Deduplicate spans by (trace, span) and index them.
	byRef := make(map[SpanRef]*telemetry.Span, n)
	spans := make([]*telemetry.Span, 0, n)
	for ti := range in.Traces {
		for si := range in.Traces[ti].Spans {
			s := &in.Traces[ti].Spans[si]
			ref := SpanRef{s.TraceID, s.SpanID}
			if _, dup := byRef[ref]; dup {
				continue
			}
			byRef[ref] = s
			spans = append(spans, s)
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })

	children := make(map[SpanRef][]*telemetry.Span, n)
	for _, s := range spans {
		if s.ParentSpanID != "" {
			p := SpanRef{s.TraceID, s.ParentSpanID}
			children[p] = append(children[p], s)
		}
	}

	for _, s := range spans {
		// Spans that name another session never join this one, even when
		// a store returns them in the same trace.
		if sid := s.Attr(schema.AttrSessionID); sid != "" && sid != in.SessionID {
			continue
		}
		if !IsDeviceSpan(s) {
			t.Backend = append(t.Backend, s)
			continue
		}
		t.fillApp(s)
		switch {
		case s.Kind == telemetry.KindClient:
			t.Requests = append(t.Requests, &Request{Client: s})
		case s.Attr(schema.AttrStitchActionName) != "" || s.Attr(schema.AttrStitchActionID) != "":
			t.Actions = append(t.Actions, s)
		default:
			t.OtherDevice = append(t.OtherDevice, s)
		}
	}

	for _, r := range t.Requests {
		if r.Client.ParentSpanID != "" {
			if p, ok := byRef[SpanRef{r.Client.TraceID, r.Client.ParentSpanID}]; ok && IsDeviceSpan(p) {
				r.Action = p
			}
		}
		for _, c := range children[SpanRef{r.Client.TraceID, r.Client.SpanID}] {
			if !IsDeviceSpan(c) {
				r.ServerRoot = c
				break
			}
		}
		if r.ServerRoot != nil {
			r.Backend = subtree(r.ServerRoot, children)
		} else {
			r.MissingReason = missingReason(r.Client)
		}
	}

	t.ClockOffset, t.OffsetSamples = EstimateClockOffset(t.Requests)

	t.Logs = append(make([]telemetry.LogRecord, 0, len(in.Logs)), in.Logs...)
	sort.SliceStable(t.Logs, func(i, j int) bool { return t.Logs[i].Time.Before(t.Logs[j].Time) })
	for i, l := range t.Logs {
		if l.TraceID != "" && l.SpanID != "" {
			ref := SpanRef{l.TraceID, l.SpanID}
			t.LogsBySpan[ref] = append(t.LogsBySpan[ref], i)
		}
	}
	t.bounds(spans)
	return t
}

// subtree returns root and every backend span below it, depth first.
func subtree(root *telemetry.Span, children map[SpanRef][]*telemetry.Span) []*telemetry.Span {
	var out []*telemetry.Span
	stack := []*telemetry.Span{root}
	seen := map[*telemetry.Span]bool{}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] || IsDeviceSpan(s) {
			continue
		}
		seen[s] = true
		out = append(out, s)
		kids := children[SpanRef{s.TraceID, s.SpanID}]
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return out
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

func (t *Timeline) fillApp(s *telemetry.Span) {
	set := func(dst *string, key string) {
		if *dst == "" {
			*dst = s.Attr(key)
		}
	}
	set(&t.App.Service, schema.AttrServiceName)
	if t.App.Service == "" {
		t.App.Service = s.Service
	}
	set(&t.App.Version, schema.AttrServiceVersion)
	set(&t.App.OSName, schema.AttrOSName)
	set(&t.App.OSVersion, schema.AttrOSVersion)
	set(&t.App.DeviceModel, schema.AttrDeviceModelIdentifier)
	set(&t.App.NetworkType, schema.AttrNetworkConnectionType)
}

// Aligned converts a device timestamp to the backend clock.
func (t *Timeline) Aligned(s *telemetry.Span) time.Time {
	if IsDeviceSpan(s) {
		return s.Start.Add(-t.ClockOffset)
	}
	return s.Start
}

func (t *Timeline) bounds(spans []*telemetry.Span) {
	for _, s := range spans {
		start := t.Aligned(s)
		end := start.Add(s.Duration)
		if t.Start.IsZero() || start.Before(t.Start) {
			t.Start = start
		}
		if end.After(t.End) {
			t.End = end
		}
	}
	for _, l := range t.Logs {
		lt := l.Time
		if IsDeviceLog(&l) {
			lt = lt.Add(-t.ClockOffset)
		}
		if t.Start.IsZero() || lt.Before(t.Start) {
			t.Start = lt
		}
		if lt.After(t.End) {
			t.End = lt
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
