package correlation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// CascadeLink is one span on the path from a failed app request down to the
// backend span that failed first.
type CascadeLink struct {
	Service    string
	Name       string
	StatusCode string // HTTP status when recorded, else "error"
}

func (l CascadeLink) String() string { return l.Service + " " + l.Name + " " + l.StatusCode }

// Cascade is one cause signature and the failed requests that share it.
type Cascade struct {
	// Chain runs from the app's client span to the root cause.
	Chain []CascadeLink
	// Signature is the chain as text: the grouping key.
	Signature string
	Count     int
	Sessions  map[string]bool
	// Examples are up to five session IDs, in order of appearance.
	Examples []string
	// ExampleTraceIDs are the traces of the examples.
	ExampleTraceIDs []string
	// FirstErrorLog is the earliest error log record of an example trace.
	FirstErrorLog string
	FirstSeen     time.Time
}

// failed tells whether a span recorded a failure: an error status, or an
// HTTP status of 500 and above.
func failed(s *telemetry.Span) bool {
	if s.StatusCode == telemetry.StatusError {
		return true
	}
	code, err := strconv.Atoi(s.Attr(schema.AttrHTTPResponseStatusCode))
	return err == nil && code >= 500
}

func linkOf(s *telemetry.Span) CascadeLink {
	code := s.Attr(schema.AttrHTTPResponseStatusCode)
	if code == "" {
		code = "error"
	}
	return CascadeLink{Service: s.Service, Name: s.Name, StatusCode: code}
}

// ErrorCascades follows every failed app request of a failed user action (a
// request whose action recovered, e.g. by a retry, is left out) down its backend spans to
// the span that failed first — the deepest failed span, the earliest among
// equals — and groups the chains by signature, most frequent first. A failed
// request with no failed backend span under it (a 4xx, a client-side error,
// a missing backend trace) is no cascade: it is only counted, in
// clientOnly. logs, when given, supply each signature's first error log line.
func ErrorCascades(x *Index, logs []telemetry.LogRecord) (cascades []*Cascade, clientOnly int) {
	// The first error record of a trace: the backends' first (their clock
	// is the reference), the app's own only when no backend wrote one.
	errorLogs, deviceErrorLogs := map[string]*telemetry.LogRecord{}, map[string]*telemetry.LogRecord{}
	for i := range logs {
		l := &logs[i]
		sev := strings.ToUpper(l.Severity)
		if l.TraceID == "" || !(strings.HasPrefix(sev, "ERROR") || strings.HasPrefix(sev, "FATAL")) {
			continue
		}
		m := errorLogs
		if IsDeviceLog(l) {
			m = deviceErrorLogs
		}
		if prev := m[l.TraceID]; prev == nil || l.Time.Before(prev.Time) {
			m[l.TraceID] = l
		}
	}
	for id, l := range deviceErrorLogs {
		if errorLogs[id] == nil {
			errorLogs[id] = l
		}
	}

	groups := map[string]*Cascade{}
	for _, c := range failedRequests(x) {
		chain, sig := signatureOf(c, x)
		if sig == "" {
			clientOnly++
			continue
		}
		g := groups[sig]
		if g == nil {
			g = &Cascade{Chain: chain, Signature: sig, Sessions: map[string]bool{}, FirstSeen: c.Start}
			groups[sig] = g
		}
		g.Count++
		sid := c.Attr(schema.AttrSessionID)
		if sid != "" && !g.Sessions[sid] {
			g.Sessions[sid] = true
			if len(g.Examples) < 5 {
				g.Examples = append(g.Examples, sid)
				g.ExampleTraceIDs = append(g.ExampleTraceIDs, c.TraceID)
			}
		}
		if g.FirstErrorLog == "" {
			if l := errorLogs[c.TraceID]; l != nil {
				g.FirstErrorLog = l.Service + ": " + l.Body
			}
		}
	}
	out := make([]*Cascade, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Signature < out[j].Signature
	})
	return out, clientOnly
}

// rootCause returns the path from the client span down to the backend span
// that failed first: at each step, descend into the failed backend children,
// deepest first; among siblings, the earliest.
func rootCause(client *telemetry.Span, x *Index) []*telemetry.Span {
	var best []*telemetry.Span
	var walk func(s *telemetry.Span, path []*telemetry.Span)
	walk = func(s *telemetry.Span, path []*telemetry.Span) {
		path = append(path, s)
		var failedKids []*telemetry.Span
		for _, k := range x.Children(s) {
			if !IsDeviceSpan(k) && failed(k) {
				failedKids = append(failedKids, k)
			}
		}
		if len(failedKids) == 0 {
			last := path[len(path)-1]
			if len(path) > len(best) || (len(path) == len(best) && last.Start.Before(best[len(best)-1].Start)) {
				best = append([]*telemetry.Span(nil), path...)
			}
			return
		}
		for _, k := range failedKids {
			walk(k, path)
		}
	}
	walk(client, nil)
	return best
}

// String renders a cascade for logs and tests.
func (c *Cascade) String() string {
	return fmt.Sprintf("%d× %s", c.Count, c.Signature)
}

// failedRequests are the failed app requests of failed user actions, in
// time order; a failed attempt whose action still succeeded (a retry
// recovered it) is no failed action.
func failedRequests(x *Index) []*telemetry.Span {
	var clients []*telemetry.Span
	for _, r := range x.Requests() {
		if !IsErrorRequest(r.Client) || (r.Action != nil && r.Action.StatusCode != telemetry.StatusError) {
			continue
		}
		clients = append(clients, r.Client)
	}
	return clients
}

// signatureOf is the cause chain and signature of a failed request; "" when
// no backend span failed under it (no cascade).
func signatureOf(c *telemetry.Span, x *Index) ([]CascadeLink, string) {
	path := rootCause(c, x)
	if len(path) < 2 {
		return nil, ""
	}
	chain := make([]CascadeLink, 0, len(path))
	parts := make([]string, 0, len(path))
	for _, s := range path {
		l := linkOf(s)
		chain, parts = append(chain, l), append(parts, l.String())
	}
	return chain, strings.Join(parts, " ← ")
}
