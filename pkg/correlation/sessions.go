package correlation

import (
	"sort"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// SessionSummary is one row of the sessions list.
type SessionSummary struct {
	SessionID       string
	Start, End      time.Time
	App             AppInfo
	Requests        int
	Errors          int
	BackendTraces   int
	SlowestRequest  time.Duration
	Sampled         bool
	SamplingReasons map[string]int
	// Endpoints are the url.template values of the session's requests.
	Endpoints      map[string]bool
	deviceTraceIDs map[string]bool
}

// Duration is the session's extent in the data found.
func (s *SessionSummary) Duration() time.Duration { return s.End.Sub(s.Start) }

// IsErrorRequest tells whether a client span failed: an error status, an
// error.type, or an HTTP status of 500 and above. Only schema names are read.
func IsErrorRequest(s *telemetry.Span) bool {
	if s.StatusCode == telemetry.StatusError || s.Attr(schema.AttrErrorType) != "" {
		return true
	}
	code, err := strconv.Atoi(s.Attr(schema.AttrHTTPResponseStatusCode))
	return err == nil && code >= 500
}

// SummarizeSessions groups the indexed device spans by session and
// summarizes each: its extent (on the backend clock, like the timeline), app
// and device, requests, failed requests, the backend traces its requests
// reached, the slowest request. Backend spans count toward a session through
// the trace they share with a client span of it.
func SummarizeSessions(x *Index) []*SessionSummary {
	byID := map[string]*SessionSummary{}
	backendTraces := map[string]bool{}
	for _, s := range x.Spans() {
		if !IsDeviceSpan(s) {
			backendTraces[s.TraceID] = true
			continue
		}
		sid := s.Attr(schema.AttrSessionID)
		if schema.ValidSessionID(sid) != nil {
			continue
		}
		sum := byID[sid]
		if sum == nil {
			sum = &SessionSummary{SessionID: sid, SamplingReasons: map[string]int{}, Endpoints: map[string]bool{}, deviceTraceIDs: map[string]bool{}, Sampled: true}
			byID[sid] = sum
		}
		if sum.Start.IsZero() || s.Start.Before(sum.Start) {
			sum.Start = s.Start
		}
		if s.End().After(sum.End) {
			sum.End = s.End()
		}
		sum.App.fill(s)
		if r := s.Attr(schema.AttrStitchSamplingReason); r != "" {
			sum.SamplingReasons[r]++
			if r != "session_sampled" {
				sum.Sampled = false
			}
		}
		if s.Kind == telemetry.KindClient {
			sum.Requests++
			sum.deviceTraceIDs[s.TraceID] = true
			if e := s.Attr(schema.AttrURLTemplate); e != "" {
				sum.Endpoints[e] = true
			}
			if IsErrorRequest(s) {
				sum.Errors++
			}
			if s.Duration > sum.SlowestRequest {
				sum.SlowestRequest = s.Duration
			}
		}
	}
	out := make([]*SessionSummary, 0, len(byID))
	for sid, s := range byID {
		off := x.Offset(sid).Offset
		s.Start, s.End = s.Start.Add(-off), s.End.Add(-off)
		for id := range s.deviceTraceIDs {
			if backendTraces[id] {
				s.BackendTraces++
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].SessionID < out[j].SessionID
	})
	return out
}
