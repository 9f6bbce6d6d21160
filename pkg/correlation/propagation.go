package correlation

import (
	"sort"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// HostPropagation is how well one host the app calls continues its traces.
type HostPropagation struct {
	Host string
	// Requests are the app's client spans to the host.
	Requests int
	// WithBackendTrace have a backend span under the client span.
	WithBackendTrace int
	// SampledOut are requests of sampled-out sessions: no backend trace is
	// expected for them.
	SampledOut int
	// Disagreements are requests of sampled-out sessions that the backend
	// recorded anyway although the schema's rule drops them: client and
	// backend disagree on sampling. A request kept for its error or its
	// latency is kept on every layer when sampling happens on whole traces
	// (the reference collector's tail sampling), so its backend trace is
	// no disagreement.
	Disagreements int
	// ExampleOrphan is a trace ID of a request with no backend trace that
	// should have had one.
	ExampleOrphan string
}

// Coverage is the share of requests expecting a backend trace that have one.
func (h *HostPropagation) Coverage() float64 {
	expected := h.Requests - h.SampledOut
	if expected <= 0 {
		return 1
	}
	return float64(h.WithBackendTrace-min(h.Disagreements, h.WithBackendTrace)) / float64(expected)
}

// ServicePropagation is how well one backend service carries the session.
type ServicePropagation struct {
	Service          string
	Spans            int
	SpansWithSession int
}

// SessionCoverage is the share of the service's spans carrying session.id.
func (s *ServicePropagation) SessionCoverage() float64 {
	if s.Spans == 0 {
		return 0
	}
	return float64(s.SpansWithSession) / float64(s.Spans)
}

// OffsetBucket counts sessions whose device clock is off by a range.
type OffsetBucket struct {
	Label    string
	Sessions int
}

// Propagation is the drift audit: do identifiers stay consistent across
// services, and does sampling leave the story whole.
type Propagation struct {
	Hosts        []*HostPropagation
	Services     []*ServicePropagation
	ClockOffsets []OffsetBucket
}

// SessionSampledOut tells an app span of a sampled-out session. The schema's
// rule keeps an error or slow span whatever the session's decision, so its
// reason alone does not say; the session decision is a pure function of
// session.id and the rate, which the span carries.
func SessionSampledOut(s *telemetry.Span) bool {
	switch s.Attr(schema.AttrStitchSamplingReason) {
	case "session_not_sampled":
		return true
	case "error", "latency":
		rate, err := strconv.ParseFloat(s.Attr(schema.AttrStitchSamplingRate), 64)
		if err != nil {
			return false
		}
		sampled, err := schema.SessionSampled(s.Attr(schema.AttrSessionID), rate)
		return err == nil && !sampled
	}
	return false
}

// keptAnyway tells an app span the schema's rule keeps whatever the session
// decision: an error or a slow request.
func keptAnyway(s *telemetry.Span) bool {
	switch s.Attr(schema.AttrStitchSamplingReason) {
	case string(schema.ReasonError), string(schema.ReasonLatency):
		return true
	}
	return false
}

var offsetBuckets = []struct {
	label string
	upTo  time.Duration
}{
	{"< 1s", time.Second}, {"1s – 10s", 10 * time.Second}, {"10s – 1m", time.Minute}, {"1m – 5m", 5 * time.Minute}, {"≥ 5m", 1<<63 - 1},
}

// AuditPropagation computes the propagation health of the traces: per host
// the app calls, per backend service, and the device clock offsets.
func AuditPropagation(x *Index) *Propagation {
	hosts := map[string]*HostPropagation{}
	services := map[string]*ServicePropagation{}
	for _, s := range x.Spans() {
		if IsDeviceSpan(s) {
			continue
		}
		sp := services[s.Service]
		if sp == nil {
			sp = &ServicePropagation{Service: s.Service}
			services[s.Service] = sp
		}
		sp.Spans++
		if schema.ValidSessionID(s.Attr(schema.AttrSessionID)) == nil {
			sp.SpansWithSession++
		}
	}
	sessions := map[string]bool{}
	for _, r := range x.Requests() {
		s := r.Client
		host := s.Attr(schema.AttrServerAddress)
		h := hosts[host]
		if h == nil {
			h = &HostPropagation{Host: host}
			hosts[host] = h
		}
		h.Requests++
		out := SessionSampledOut(s)
		switch {
		case out && r.ServerRoot != nil && keptAnyway(s):
			// Sampled out, kept whole by tail sampling: it counts like
			// any request that continues into a backend trace.
			h.WithBackendTrace++
		case out && r.ServerRoot != nil:
			h.SampledOut++
			h.Disagreements++
			h.WithBackendTrace++
		case out:
			h.SampledOut++
		case r.ServerRoot != nil:
			h.WithBackendTrace++
		default:
			if h.ExampleOrphan == "" {
				h.ExampleOrphan = s.TraceID
			}
		}
		sessions[s.Attr(schema.AttrSessionID)] = true
	}
	p := &Propagation{}
	for _, h := range hosts {
		p.Hosts = append(p.Hosts, h)
	}
	sort.Slice(p.Hosts, func(i, j int) bool {
		if ci, cj := p.Hosts[i].Coverage(), p.Hosts[j].Coverage(); ci != cj {
			return ci < cj // worst first: a stripping host stands out on top
		}
		return p.Hosts[i].Host < p.Hosts[j].Host
	})
	for _, s := range services {
		p.Services = append(p.Services, s)
	}
	sort.Slice(p.Services, func(i, j int) bool {
		if ci, cj := p.Services[i].SessionCoverage(), p.Services[j].SessionCoverage(); ci != cj {
			return ci < cj
		}
		return p.Services[i].Service < p.Services[j].Service
	})
	counts := make([]int, len(offsetBuckets))
	for sid := range sessions {
		o := x.Offset(sid)
		if o.Samples == 0 {
			continue
		}
		off := o.Offset
		if off < 0 {
			off = -off
		}
		for i, b := range offsetBuckets {
			if off < b.upTo {
				counts[i]++
				break
			}
		}
	}
	for i, b := range offsetBuckets {
		p.ClockOffsets = append(p.ClockOffsets, OffsetBucket{Label: b.label, Sessions: counts[i]})
	}
	return p
}
