package correlation

import (
	"cmp"
	"hash/maphash"
	"slices"
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
//
// It is built for sessions of 10⁵ spans and more: spans are numbered by
// their place in start order, and everything per span (device or backend,
// children, parent) is a flat slice over those numbers; the one map is from
// a span's reference to its number.
type Index struct {
	// spans are the distinct spans, in start order (device times raw).
	spans []*telemetry.Span
	// pos numbers the spans in the order first seen; rank maps that
	// number to the span's place in spans.
	pos  spanTable
	rank []int32
	// device tells, by place, the app's spans from backend ones.
	device []bool
	// children[childStart[i]:childStart[i+1]] are the children of
	// spans[i], in start order.
	childStart []int32
	children   []*telemetry.Span
	childPos   []int32
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
	x := &Index{}
	distinct := make([]*telemetry.Span, 0, n)
	x.pos = newSpanTable(n, &distinct)
	for ti := range traces {
		for si := range traces[ti].Spans {
			x.pos.add(&traces[ti].Spans[si])
		}
	}
	// Start order, ties by reference, so every consumer sees one order
	// whatever order the store answered in.
	start := func(i int) time.Time { return distinct[i].Start }
	keys := sortByTime(len(distinct), start)
	sameTimeRuns(keys, start, func(run []timeKey) {
		slices.SortFunc(run, func(a, b timeKey) int {
			sa, sb := distinct[a.i], distinct[b.i]
			if c := cmp.Compare(sa.TraceID, sb.TraceID); c != 0 {
				return c
			}
			return cmp.Compare(sa.SpanID, sb.SpanID)
		})
	})
	n = len(distinct)
	x.rank = make([]int32, n)
	x.spans = make([]*telemetry.Span, n)
	x.device = make([]bool, n)
	for p, k := range keys {
		s := distinct[k.i]
		x.spans[p] = s
		x.rank[k.i] = int32(p)
		x.device[p] = IsDeviceSpan(s)
	}

	// Children, grouped by parent, each group in start order: count, then
	// place (a counting sort over the parents' places).
	parent := make([]int32, n)
	x.childStart = make([]int32, n+1)
	for p, s := range x.spans {
		parent[p] = -1
		if s.ParentSpanID != "" {
			if pp := x.placeOf(SpanRef{s.TraceID, s.ParentSpanID}); pp >= 0 {
				parent[p] = pp
				x.childStart[pp+1]++
			}
		}
	}
	for i := 1; i <= n; i++ {
		x.childStart[i] += x.childStart[i-1]
	}
	x.children = make([]*telemetry.Span, x.childStart[n])
	x.childPos = make([]int32, x.childStart[n])
	fill := make([]int32, n)
	copy(fill, x.childStart[:n])
	for p, s := range x.spans {
		if pp := parent[p]; pp >= 0 {
			x.children[fill[pp]] = s
			x.childPos[fill[pp]] = int32(p)
			fill[pp]++
		}
	}

	clients := 0
	for p, s := range x.spans {
		if x.device[p] && s.Kind == telemetry.KindClient {
			clients++
		}
	}
	slab := make([]Request, 0, clients)
	x.requests = make([]*Request, 0, clients)
	pairs := map[string][]*Request{}
	for p, s := range x.spans {
		if !x.device[p] || s.Kind != telemetry.KindClient {
			continue
		}
		slab = append(slab, Request{Client: s, ServerRoot: x.serverRoot(int32(p))})
		r := &slab[len(slab)-1]
		if pp := parent[p]; pp >= 0 && x.device[pp] {
			r.Action = x.spans[pp]
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
func (x *Index) serverRoot(client int32) *telemetry.Span {
	for _, c := range x.childPos[x.childStart[client]:x.childStart[client+1]] {
		if !x.device[c] {
			return x.spans[c]
		}
	}
	return nil
}

// Spans are the distinct spans, in start order.
func (x *Index) Spans() []*telemetry.Span { return x.spans }

// Span looks a span up by reference.
func (x *Index) Span(ref SpanRef) *telemetry.Span {
	if p := x.placeOf(ref); p >= 0 {
		return x.spans[p]
	}
	return nil
}

// placeOf is a span's place in start order, -1 if the index lacks it.
func (x *Index) placeOf(ref SpanRef) int32 {
	if i := x.pos.find(ref.TraceID, ref.SpanID); i >= 0 {
		return x.rank[i]
	}
	return -1
}

func (x *Index) place(s *telemetry.Span) int32 { return x.placeOf(SpanRef{s.TraceID, s.SpanID}) }

// Children are a span's children, in start order.
func (x *Index) Children(s *telemetry.Span) []*telemetry.Span {
	p := x.place(s)
	if p < 0 {
		return nil
	}
	return x.children[x.childStart[p]:x.childStart[p+1]:x.childStart[p+1]]
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
	p := x.place(root)
	if p < 0 {
		if IsDeviceSpan(root) {
			return nil
		}
		return []*telemetry.Span{root}
	}
	w := subtreeWalk{x: x, seen: make([]bool, len(x.spans))}
	return w.appendSubtree(nil, p)
}

// subtreeWalk walks backend subtrees; seen (by place) keeps a span from
// being walked twice, across every walk that shares it.
type subtreeWalk struct {
	x     *Index
	seen  []bool
	stack []int32
}

// appendSubtree appends root and every backend span below it not walked
// before, depth first, children in start order.
func (w *subtreeWalk) appendSubtree(dst []*telemetry.Span, root int32) []*telemetry.Span {
	x := w.x
	w.stack = append(w.stack[:0], root)
	for len(w.stack) > 0 {
		p := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if w.seen[p] || x.device[p] {
			continue
		}
		w.seen[p] = true
		dst = append(dst, x.spans[p])
		kids := x.childPos[x.childStart[p]:x.childStart[p+1]]
		for i := len(kids) - 1; i >= 0; i-- {
			w.stack = append(w.stack, kids[i])
		}
	}
	return dst
}

// spanTable numbers distinct spans by reference, in the order first seen:
// an open-addressing table of the numbers, the references read from the
// spans themselves. A Go map keyed by SpanRef would hold a copy of both
// IDs per span (~150 bytes with its overhead, 10⁵ spans → 15 MB); this
// holds 16 bytes per span.
type spanTable struct {
	seed  maphash.Seed
	slots []spanSlot
	mask  uint64
	spans *[]*telemetry.Span
}

// spanSlot is a span's number plus one (zero: empty) and the high bits of
// its hash, so most probes compare no string.
type spanSlot struct {
	tag uint32
	n   int32
}

func newSpanTable(n int, spans *[]*telemetry.Span) spanTable {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return spanTable{seed: maphash.MakeSeed(), slots: make([]spanSlot, size), mask: uint64(size - 1), spans: spans} // #nosec G115 -- size is a power of two ≥ 16
}

func (t *spanTable) hash(traceID, spanID string) uint64 {
	return maphash.String(t.seed, spanID) ^ maphash.String(t.seed, traceID)*0x9e3779b97f4a7c15
}

// find is the number of the span with the reference, -1 if none.
func (t *spanTable) find(traceID, spanID string) int32 {
	h := t.hash(traceID, spanID)
	tag := uint32(h >> 32)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := t.slots[i]
		if sl.n == 0 {
			return -1
		}
		if sl.tag == tag {
			if s := (*t.spans)[sl.n-1]; s.SpanID == spanID && s.TraceID == traceID {
				return sl.n - 1
			}
		}
	}
}

// add numbers s and appends it to the spans, unless a span with its
// reference is there already.
func (t *spanTable) add(s *telemetry.Span) {
	h := t.hash(s.TraceID, s.SpanID)
	tag := uint32(h >> 32)
	i := h & t.mask
	for ; t.slots[i].n != 0; i = (i + 1) & t.mask {
		if sl := t.slots[i]; sl.tag == tag {
			if o := (*t.spans)[sl.n-1]; o.SpanID == s.SpanID && o.TraceID == s.TraceID {
				return
			}
		}
	}
	*t.spans = append(*t.spans, s)
	// A response is capped at 64 MiB (storehttp.MaxBodyBytes), far fewer
	// spans than an int32 counts.
	t.slots[i] = spanSlot{tag: tag, n: int32(len(*t.spans))} // #nosec G115 -- see above
}
