package tempo

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// Tempo's trace-by-ID answers are read as they arrive (wireReader): the v2
// wrapper field by field, and the trace's ResourceSpans one at a time, each
// decoded with pdata and converted before the next is read. pdata decodes
// only whole messages from bytes, so one ResourceSpans is the piece held
// in its wire form; the body is never held whole, nor the pdata of the
// whole trace beside the converted trace.

// wireReader reads protobuf's wire format from a stream, counting the
// bytes read so that nested messages end where their length says.
type wireReader struct {
	r   *bufio.Reader
	pos int64
}

func newWireReader(r io.Reader) *wireReader { return &wireReader{r: bufio.NewReader(r)} }

func (w *wireReader) ReadByte() (byte, error) {
	b, err := w.r.ReadByte()
	if err == nil {
		w.pos++
	}
	return b, err
}

func (w *wireReader) varint() (uint64, error) {
	v, err := binary.ReadUvarint(w)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return v, err
}

// tag reads a field's tag; io.EOF at a message's end (end < 0: the body's).
func (w *wireReader) tag(end int64) (protowire.Number, protowire.Type, error) {
	if end >= 0 && w.pos >= end {
		return 0, 0, io.EOF
	}
	if end < 0 {
		if _, err := w.r.Peek(1); err == io.EOF {
			return 0, 0, io.EOF
		}
	}
	v, err := w.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber {
		return 0, 0, errors.New("invalid field number")
	}
	return num, typ, nil
}

// length reads a length-delimited field's length, which must fit in the
// enclosing message (end < 0: the body, at most storehttp.MaxBodyBytes).
func (w *wireReader) length(end int64) (int64, error) {
	v, err := w.varint()
	if err != nil {
		return 0, err
	}
	if end < 0 {
		end = storehttp.MaxBodyBytes
	}
	remaining := end - w.pos
	if remaining < 0 || v > uint64(remaining) { // #nosec G115 -- remaining ≥ 0 here
		return 0, io.ErrUnexpectedEOF
	}
	return int64(v), nil // #nosec G115 -- v ≤ remaining, an int64
}

// read fills b from the stream.
func (w *wireReader) read(b []byte) error {
	n, err := io.ReadFull(w.r, b)
	w.pos += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// skip reads past a field's value of type typ, as
// protowire.ConsumeFieldValue would.
func (w *wireReader) skip(num protowire.Number, typ protowire.Type, end int64) error {
	var n int64
	switch typ {
	case protowire.VarintType:
		_, err := w.varint()
		return err
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		l, err := w.length(end)
		if err != nil {
			return err
		}
		n = l
	case protowire.StartGroupType:
		for {
			gnum, gtyp, err := w.tag(end)
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			if err != nil {
				return err
			}
			if gtyp == protowire.EndGroupType {
				if gnum != num {
					return errors.New("mismatching end group")
				}
				return nil
			}
			if err := w.skip(gnum, gtyp, end); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("field %d: invalid wire type %d", num, typ)
	}
	copied, err := io.CopyN(io.Discard, w.r, n)
	w.pos += copied
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readTraceByIDResponse reads the v2 wrapper's fields, skipping any it does
// not know (new fields are additive in protobuf); trace is called at each
// trace field (repeated occurrences of a message field merge), to read it up
// to end.
func readTraceByIDResponse(w *wireReader, trace func(end int64) error) (partial bool, message string, err error) {
	for {
		num, typ, err := w.tag(-1)
		if err == io.EOF {
			return partial, message, nil
		}
		if err != nil {
			return false, "", fmt.Errorf("wrapper: %w", err)
		}
		switch {
		case num == wrapperFieldTrace && typ == protowire.BytesType:
			n, err := w.length(-1)
			if err != nil {
				return false, "", fmt.Errorf("wrapper trace: %w", err)
			}
			end := w.pos + n
			if err := trace(end); err != nil {
				return false, "", err
			}
			if w.pos != end {
				return false, "", errors.New("wrapper trace: its fields overrun its length")
			}
		case num == wrapperFieldStatus && typ == protowire.VarintType:
			v, err := w.varint()
			if err != nil {
				return false, "", fmt.Errorf("wrapper status: %w", err)
			}
			partial = v == statusPartial
		case num == wrapperFieldMessage && typ == protowire.BytesType:
			n, err := w.length(-1)
			if err == nil {
				b := make([]byte, n)
				err = w.read(b)
				message = string(b)
			}
			if err != nil {
				return false, "", fmt.Errorf("wrapper message: %w", err)
			}
		default:
			if err := w.skip(num, typ, -1); err != nil {
				return false, "", fmt.Errorf("wrapper field %d: %w", num, err)
			}
		}
	}
}

// tracesDataResourceSpans is TracesData's field 1: repeated ResourceSpans.
const tracesDataResourceSpans protowire.Number = 1

// readTracesData reads a TracesData up to end (end < 0: the body's end)
// and calls rs with each of its ResourceSpans, as a TracesData of its own
// (what pdata decodes).
func readTracesData(w *wireReader, end int64, rs func(td []byte) error) error {
	for {
		num, typ, err := w.tag(end)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("OTLP trace: %w", err)
		}
		if num != tracesDataResourceSpans {
			if err := w.skip(num, typ, end); err != nil {
				return fmt.Errorf("OTLP trace: %w", err)
			}
			continue
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("OTLP trace: wrong wire type %d for resource spans", typ)
		}
		n, err := w.length(end)
		if err != nil {
			return fmt.Errorf("OTLP trace: %w", err)
		}
		// The field's tag and length, then its bytes read in place.
		head := protowire.AppendTag(nil, tracesDataResourceSpans, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(n)) // #nosec G115 -- length() returns 0 ≤ n ≤ the body's size
		td := make([]byte, len(head)+int(n))
		copy(td, head)
		if err := w.read(td[len(head):]); err != nil {
			return fmt.Errorf("OTLP trace: %w", err)
		}
		if err := rs(td); err != nil {
			return err
		}
	}
}

// otlpTrace converts the ResourceSpans readTracesData reads into a trace.
type otlpTrace struct{ t *telemetry.Trace }

func (o otlpTrace) add(b []byte) error {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		return fmt.Errorf("OTLP trace: %w", err)
	}
	appendOTLP(o.t, td)
	return nil
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
	body, err := s.client.Stream(ctx, path, params, acceptProtobuf)
	if isStatus(err, http.StatusUnprocessableEntity) {
		// Tempo 2.6's v2 still refused traces over the size limit.
		return nil, traceTooLarge(err, id)
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	t, partial, message, err := decodeTraceV2(body, id)
	if err != nil && !errors.Is(err, stores.ErrNotFound) {
		return nil, body.NotTheAPI(err)
	}
	if err != nil {
		return nil, err
	}
	if partial {
		// Over max_bytes_per_trace (and, in 3.x, when Tempo pruned or
		// filtered the trace): Tempo's message says which.
		t.Partial = true
		t.Notice = "Tempo returned part of the trace"
		if message != "" {
			t.Notice += ": " + message
		}
	}
	return t, nil
}

func (s *Store) traceV1(ctx context.Context, id string, params url.Values) (*telemetry.Trace, error) {
	path := v1TracePath + id
	body, err := s.client.Stream(ctx, path, params, acceptProtobuf)
	switch {
	case isStatus(err, http.StatusNotFound):
		return nil, stores.ErrNotFound
	case isStatus(err, http.StatusUnprocessableEntity):
		return nil, traceTooLarge(err, id)
	case err != nil:
		return nil, err
	}
	defer body.Close()
	t, err := decodeTraceV1(body, id)
	if err != nil && !errors.Is(err, stores.ErrNotFound) {
		return nil, body.NotTheAPI(err)
	}
	return t, err
}

// decodeTraceV2 reads a v2 answer: the trace in its wrapper, and whether
// Tempo marked it partial, and why. A trace without spans is not found.
func decodeTraceV2(r io.Reader, id string) (t *telemetry.Trace, partial bool, message string, err error) {
	w := newWireReader(r)
	t = &telemetry.Trace{TraceID: id}
	partial, message, err = readTraceByIDResponse(w, func(end int64) error {
		return readTracesData(w, end, otlpTrace{t}.add)
	})
	if err == nil && len(t.Spans) == 0 {
		err = stores.ErrNotFound
	}
	if err != nil {
		return nil, false, "", err
	}
	return t, partial, message, nil
}

// decodeTraceV1 reads a v1 answer, a TracesData-shaped trace. A trace
// without spans is not found.
func decodeTraceV1(r io.Reader, id string) (*telemetry.Trace, error) {
	t := &telemetry.Trace{TraceID: id}
	if err := readTracesData(newWireReader(r), -1, otlpTrace{t}.add); err != nil {
		return nil, err
	}
	if len(t.Spans) == 0 {
		return nil, stores.ErrNotFound
	}
	return t, nil
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

func isStatus(err error, code int) bool {
	var se *storehttp.Error
	return errors.As(err, &se) && se.StatusCode == code
}
