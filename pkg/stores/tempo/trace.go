package tempo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// Trace by ID (API docs, "Query" and "Query V2"). With
// Accept: application/protobuf, v1 answers the trace itself, wire-identical
// to OTLP's TracesData (field 1: repeated ResourceSpans); v2 wraps it:
//
//	1: trace   (message, the same TracesData-shaped trace)
//	2: metrics (message, ignored)
//	3: status  (enum: 0 COMPLETE, 1 PARTIAL)
//	4: message (string, why a trace is partial)
//
// The field numbers are those of Tempo's published TraceByIDResponse; Stitch
// reads them with protowire rather than importing Tempo's (AGPL) tempopb.
const (
	v2TracePath = "/api/v2/traces/"
	v1TracePath = "/api/traces/"

	wrapperFieldTrace   protowire.Number = 1
	wrapperFieldStatus  protowire.Number = 3
	wrapperFieldMessage protowire.Number = 4

	statusPartial = 1

	acceptProtobuf = "application/protobuf"
)

// traceByIDResponse is the decoded v2 wrapper.
type traceByIDResponse struct {
	trace   []byte
	partial bool
	message string
}

// decodeTraceByIDResponse reads the v2 wrapper's fields, skipping any it
// does not know (new fields are additive in protobuf).
func decodeTraceByIDResponse(b []byte) (traceByIDResponse, error) {
	var r traceByIDResponse
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, fmt.Errorf("wrapper: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == wrapperFieldTrace && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fmt.Errorf("wrapper trace: %w", protowire.ParseError(n))
			}
			r.trace, b = append(r.trace, v...), b[n:] // repeated occurrences of a message field merge
		case num == wrapperFieldStatus && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fmt.Errorf("wrapper status: %w", protowire.ParseError(n))
			}
			r.partial, b = v == statusPartial, b[n:]
		case num == wrapperFieldMessage && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fmt.Errorf("wrapper message: %w", protowire.ParseError(n))
			}
			r.message, b = string(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, fmt.Errorf("wrapper field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return r, nil
}

// Trace fetches one trace by ID: v2 first (Tempo 2.6+; from 2.7 it marks
// partial traces), v1 where the v2 route is missing (Tempo before 2.6
// answers 404 for it). Tempo 2.6+ answers an unknown ID on v2 with 200 and an
// empty trace, never 404, so a v2 404 means the route is missing.
//
// A range ending near now is stretched by ClockSkewAllowance: device clocks
// run minutes ahead, and a trace stamped after the range's end would not be
// found by ID either.
func (s *Store) Trace(ctx context.Context, traceID string, start, end time.Time) (*telemetry.Trace, error) {
	id, err := normalizeHexID(traceID, 32)
	if err != nil {
		return nil, backend.DownstreamError(fmt.Errorf("trace ID %q: %w", traceID, err))
	}
	params := url.Values{}
	if !start.IsZero() && !end.IsZero() {
		end = s.skewedEnd(end)
		params.Set("start", strconv.FormatInt(start.Unix(), 10))
		params.Set("end", strconv.FormatInt(ceilUnix(end), 10))
	}
	if !s.noV2.Load() {
		t, err := s.traceV2(ctx, id, params)
		if !isStatus(err, http.StatusNotFound) {
			return t, err
		}
		s.noV2.Store(true)
	}
	return s.traceV1(ctx, id, params)
}

func (s *Store) traceV2(ctx context.Context, id string, params url.Values) (*telemetry.Trace, error) {
	path := v2TracePath + id
	body, err := s.client.Get(ctx, path, params, acceptProtobuf)
	if isStatus(err, http.StatusUnprocessableEntity) {
		// Tempo 2.6's v2 still refused traces over the size limit.
		return nil, traceTooLarge(err, id)
	}
	if err != nil {
		return nil, err
	}
	w, err := decodeTraceByIDResponse(body)
	if err != nil {
		return nil, s.client.NotTheAPI(path, body, err)
	}
	t, err := s.decodeTrace(path, id, w.trace, body)
	if err != nil {
		return nil, err
	}
	if w.partial {
		// Over max_bytes_per_trace (and, in 3.x, when Tempo pruned or
		// filtered the trace): Tempo's message says which.
		t.Partial = true
		t.Notice = "Tempo returned part of the trace"
		if w.message != "" {
			t.Notice += ": " + w.message
		}
	}
	return t, nil
}

func (s *Store) traceV1(ctx context.Context, id string, params url.Values) (*telemetry.Trace, error) {
	path := v1TracePath + id
	body, err := s.client.Get(ctx, path, params, acceptProtobuf)
	switch {
	case isStatus(err, http.StatusNotFound):
		return nil, stores.ErrNotFound
	case isStatus(err, http.StatusUnprocessableEntity):
		return nil, traceTooLarge(err, id)
	case err != nil:
		return nil, err
	}
	return s.decodeTrace(path, id, body, body)
}

// traceTooLarge words Tempo's 422 for a trace over max_bytes_per_trace (v1,
// and v2 in Tempo 2.6): this Tempo returns no part of it.
func traceTooLarge(err error, id string) error {
	var se *storehttp.Error
	if !errors.As(err, &se) {
		return err
	}
	se.Msg = "trace " + id + " is larger than Tempo's max_bytes_per_trace and this Tempo returns no part of it " +
		"(raise max_bytes_per_trace, or use Tempo 2.7 or later, which returns part of the trace): " + se.Msg
	return se
}

// ClockSkewAllowance is how far past now a range ending near now is
// stretched: device clocks run minutes ahead, so a fresh device span is
// stamped in the future, and a range ending at now would leave it out.
const ClockSkewAllowance = 15 * time.Minute

// skewedEnd stretches an end near now to now + ClockSkewAllowance.
func (s *Store) skewedEnd(end time.Time) time.Time {
	now := s.now()
	if end.After(now.Add(-ClockSkewAllowance)) && end.Before(now.Add(ClockSkewAllowance)) {
		return now.Add(ClockSkewAllowance)
	}
	return end
}

// decodeTrace decodes a TracesData-shaped trace; no spans is not found.
func (s *Store) decodeTrace(path, id string, trace, body []byte) (*telemetry.Trace, error) {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(trace)
	if err != nil {
		return nil, s.client.NotTheAPI(path, body, fmt.Errorf("OTLP trace: %w", err))
	}
	t := fromOTLP(id, td)
	if len(t.Spans) == 0 {
		return nil, stores.ErrNotFound
	}
	return t, nil
}

func isStatus(err error, code int) bool {
	var se *storehttp.Error
	return errors.As(err, &se) && se.StatusCode == code
}
