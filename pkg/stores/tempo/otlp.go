package tempo

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// appendOTLP converts (a part of) an OTLP trace, as Tempo returns it by ID,
// into the store-neutral model and appends its spans to t, keeping every
// OpenTelemetry field the model has: kind, status, events, links, scope,
// trace state, resource.
func appendOTLP(t *telemetry.Trace, td ptrace.Traces) {
	t.Spans = slices.Grow(t.Spans, td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		// The spans of one resource share its attribute slice (len == cap,
		// so an append by a reader copies rather than writes through).
		resource := attrs(rs.Resource().Attributes())
		service := resource.Value(schema.AttrServiceName)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				out := telemetry.Span{
					TraceID:       hexTraceID(sp.TraceID()),
					SpanID:        hexSpanID(sp.SpanID()),
					ParentSpanID:  hexSpanID(sp.ParentSpanID()),
					Name:          sp.Name(),
					Service:       service,
					Kind:          kind(sp.Kind()),
					Start:         sp.StartTimestamp().AsTime().UTC(),
					StatusCode:    statusCode(sp.Status().Code()),
					StatusMessage: sp.Status().Message(),
					Attributes:    attrs(sp.Attributes()),
					Resource:      resource,
					ScopeName:     ss.Scope().Name(),
					ScopeVersion:  ss.Scope().Version(),
					TraceState:    sp.TraceState().AsRaw(),
				}
				if end := sp.EndTimestamp(); end > sp.StartTimestamp() {
					out.Duration = end.AsTime().Sub(sp.StartTimestamp().AsTime())
				}
				evs := sp.Events()
				for e := 0; e < evs.Len(); e++ {
					ev := evs.At(e)
					out.Events = append(out.Events, telemetry.Event{Time: ev.Timestamp().AsTime().UTC(), Name: ev.Name(), Attributes: attrs(ev.Attributes())})
				}
				links := sp.Links()
				for l := 0; l < links.Len(); l++ {
					ln := links.At(l)
					out.Links = append(out.Links, telemetry.Link{TraceID: hexTraceID(ln.TraceID()), SpanID: hexSpanID(ln.SpanID()), Attributes: attrs(ln.Attributes())})
				}
				t.Spans = append(t.Spans, out)
			}
		}
	}
}

// attrs renders an attribute map as strings, in the order the store sent.
func attrs(m pcommon.Map) telemetry.Attrs {
	if m.Len() == 0 {
		return nil
	}
	out := make(telemetry.Attrs, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, telemetry.KV{Key: k, Value: v.AsString()})
		return true
	})
	return out
}

func hexTraceID(id pcommon.TraceID) string {
	if id.IsEmpty() {
		return ""
	}
	return strings.ToLower(id.String())
}

func hexSpanID(id pcommon.SpanID) string {
	if id.IsEmpty() {
		return ""
	}
	return strings.ToLower(id.String())
}

func kind(k ptrace.SpanKind) telemetry.SpanKind {
	switch k {
	case ptrace.SpanKindInternal:
		return telemetry.KindInternal
	case ptrace.SpanKindServer:
		return telemetry.KindServer
	case ptrace.SpanKindClient:
		return telemetry.KindClient
	case ptrace.SpanKindProducer:
		return telemetry.KindProducer
	case ptrace.SpanKindConsumer:
		return telemetry.KindConsumer
	}
	return telemetry.KindUnspecified
}

func statusCode(c ptrace.StatusCode) telemetry.StatusCode {
	switch c {
	case ptrace.StatusCodeOk:
		return telemetry.StatusOK
	case ptrace.StatusCodeError:
		return telemetry.StatusError
	}
	return telemetry.StatusUnset
}
