package correlation

import (
	"sort"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Index is the spans a store returned for one query, deduplicated and joined
// once: every span by reference, the children of each span, and every client
// request of the app joined to the backend span it caused and to its user
// action, with each session's device clock offset. The timeline and every
// analytic read the same index, so "which backend span did this request
// cause" and "how far off is this device's clock" have one answer.
type Index struct {
	// spans are the distinct spans, in start order (device times raw).
	spans    []*telemetry.Span
	byRef    map[SpanRef]*telemetry.Span
	children map[SpanRef][]*telemetry.Span
	// requests are the app's client spans joined, in start order.
	requests []*Request
	// offsets are each session's device clock offsets, by session.id.
	offsets map[string]ClockOffset
}

// ClockOffset is a device clock minus the backend clock, estimated from the
// session's client/server span pairs.
type ClockOffset struct {
	Offset time.Duration
	// Samples is how many client/server pairs the estimate rests on; zero
	// means no estimate (the offset is then zero).
	Samples int
}

// NewIndex deduplicates the traces' spans (a trace found through two
// searches counts once) and joins them.
func NewIndex(traces []telemetry.Trace) *Index {
	n := 0
	for i := range traces {
		n += len(traces[i].Spans)
	}
	x := &Index{
		spans:    make([]*telemetry.Span, 0, n),
		byRef:    make(map[SpanRef]*telemetry.Span, n),
		children: make(map[SpanRef][]*telemetry.Span, n),
	}
	for ti := range traces {
		for si := range traces[ti].Spans {
			s := &traces[ti].Spans[si]
			ref := SpanRef{s.TraceID, s.SpanID}
			if _, dup := x.byRef[ref]; dup {
				continue
			}
			x.byRef[ref] = s
			x.spans = append(x.spans, s)
		}
	}
	// Start order, ties by reference, so every consumer sees one order
	// whatever order the store answered in.
	sort.SliceStable(x.spans, func(i, j int) bool {
		a, b := x.spans[i], x.spans[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.TraceID != b.TraceID {
			return a.TraceID < b.TraceID
		}
		return a.SpanID < b.SpanID
	})
	for _, s := range x.spans {
		if s.ParentSpanID != "" {
			p := SpanRef{s.TraceID, s.ParentSpanID}
			x.children[p] = append(x.children[p], s)
		}
	}
	pairs := map[string][]*Request{}
	for _, s := range x.spans {
		if !IsDeviceSpan(s) || s.Kind != telemetry.KindClient {
			continue
		}
		r := &Request{Client: s, ServerRoot: x.serverRoot(s)}
		if s.ParentSpanID != "" {
			if p := x.byRef[SpanRef{s.TraceID, s.ParentSpanID}]; p != nil && IsDeviceSpan(p) {
				r.Action = p
			}
		}
		x.requests = append(x.requests, r)
		if r.ServerRoot != nil {
			sid := s.Attr(schema.AttrSessionID)
			pairs[sid] = append(pairs[sid], r)
		}
	}
	x.offsets = make(map[string]ClockOffset, len(pairs))
	for sid, reqs := range pairs {
		off, samples := EstimateClockOffset(reqs)
		x.offsets[sid] = ClockOffset{Offset: off, Samples: samples}
	}
	return x
}

// serverRoot is the rule for the backend span a client request caused: its
// earliest backend child (the children are in start order). A later one is a
// second hop the same client span reached (a redirect, a proxy's retry), not
// the request's answer.
func (x *Index) serverRoot(client *telemetry.Span) *telemetry.Span {
	for _, c := range x.children[SpanRef{client.TraceID, client.SpanID}] {
		if !IsDeviceSpan(c) {
			return c
		}
	}
	return nil
}

// Spans are the distinct spans, in start order.
func (x *Index) Spans() []*telemetry.Span { return x.spans }

// Span looks a span up by reference.
func (x *Index) Span(ref SpanRef) *telemetry.Span { return x.byRef[ref] }

// Children are a span's children, in start order.
func (x *Index) Children(s *telemetry.Span) []*telemetry.Span {
	return x.children[SpanRef{s.TraceID, s.SpanID}]
}

// Requests are the app's client requests, each joined to its action and the
// backend span it caused, in start order.
func (x *Index) Requests() []*Request { return x.requests }

// Offset is a session's device clock offset; zero samples when none of its
// requests reached a backend.
func (x *Index) Offset(sessionID string) ClockOffset { return x.offsets[sessionID] }

// AlignedStart is a span's start on the backend clock: a device span is
// shifted by its session's clock offset.
func (x *Index) AlignedStart(s *telemetry.Span) time.Time {
	if !IsDeviceSpan(s) {
		return s.Start
	}
	return s.Start.Add(-x.offsets[s.Attr(schema.AttrSessionID)].Offset)
}

// AlignedLogTime is a log record's time on the backend clock, given its
// session's device clock offset: the app's records are shifted like its
// spans; backend records are the reference clock.
func AlignedLogTime(l *telemetry.LogRecord, offset time.Duration) time.Time {
	if IsDeviceLog(l) {
		return l.Time.Add(-offset)
	}
	return l.Time
}

// Subtree is root and every backend span below it, depth first, children in
// start order.
func (x *Index) Subtree(root *telemetry.Span) []*telemetry.Span {
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
		kids := x.Children(s)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return out
}
