package schema

import (
	"bytes"
	"encoding/json"
	"path"
	"reflect"
	"strings"
	"testing"

	schemafiles "github.com/stitch-observability/stitch/schema"
)

// The language-neutral vectors in schema/vectors. Each vector file has one
// test here; every vector runs as a subtest named by its id, and none is
// skipped.

type vectorFile struct {
	Category      string   `json:"category"`
	SchemaVersion string   `json:"schema_version"`
	Description   string   `json:"description"`
	Vectors       []vector `json:"vectors"`
}

type vector struct {
	ID          string          `json:"id"`
	Description string          `json:"description"`
	Input       json.RawMessage `json:"input"`
	Expected    json.RawMessage `json:"expected"`
}

func loadVectorFile(t testing.TB, name string) vectorFile {
	t.Helper()
	raw, err := schemafiles.Vectors.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var f vectorFile
	if err := strictJSON(raw, &f); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

// strictJSON decodes JSON rejecting unknown fields, so that a typo in a
// vector fails instead of being ignored.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}

func runVectors[In, Exp any](t *testing.T, file string, run func(t *testing.T, in In) Exp) {
	f := loadVectorFile(t, "vectors/"+file)
	if f.Category+".json" != file {
		t.Fatalf("%s: category %q does not match the file name", file, f.Category)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s has no vectors", file)
	}
	for _, v := range f.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			var in In
			if err := strictJSON(v.Input, &in); err != nil {
				t.Fatalf("input: %v", err)
			}
			var want Exp
			if err := strictJSON(v.Expected, &want); err != nil {
				t.Fatalf("expected: %v", err)
			}
			got := run(t, in)
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("%s\n got: %s\nwant: %s", v.Description, g, w)
			}
		})
	}
}

func strPtr(s string) *string { return &s }

func codePtr(err error) *string {
	if err == nil {
		return nil
	}
	return strPtr(string(CodeOf(err)))
}

// ---------------------------------------------------------------- traceparent

type traceparentIn struct {
	Op         string `json:"op"`
	Header     string `json:"header"`
	TraceID    string `json:"trace_id"`
	SpanID     string `json:"span_id"`
	TraceFlags string `json:"trace_flags"`
}

type traceparentExp struct {
	Valid      *bool   `json:"valid,omitempty"`
	TraceID    *string `json:"trace_id,omitempty"`
	SpanID     *string `json:"span_id,omitempty"`
	TraceFlags *string `json:"trace_flags,omitempty"`
	Sampled    *bool   `json:"sampled,omitempty"`
	Random     *bool   `json:"random,omitempty"`
	Header     *string `json:"header,omitempty"`
	Error      *string `json:"error,omitempty"`
}

func TestVectorsTraceparent(t *testing.T) {
	runVectors(t, "traceparent.json", func(t *testing.T, in traceparentIn) traceparentExp {
		switch in.Op {
		case "decode":
			sc, err := ParseTraceparent(in.Header)
			valid := err == nil
			out := traceparentExp{Valid: &valid, Error: codePtr(err)}
			if valid {
				sampled, random := sc.IsSampled(), sc.IsRandom()
				out.TraceID = strPtr(sc.TraceID().String())
				out.SpanID = strPtr(sc.SpanID().String())
				out.TraceFlags = strPtr(sc.TraceFlags().String())
				out.Sampled, out.Random = &sampled, &random
			}
			return out
		case "encode":
			flags, ok := parseHexByte(in.TraceFlags)
			if !ok {
				t.Fatalf("bad trace_flags %q in vector", in.TraceFlags)
			}
			h, err := NewTraceparent(in.TraceID, in.SpanID, flags)
			if err != nil {
				return traceparentExp{Error: codePtr(err)}
			}
			return traceparentExp{Header: &h}
		}
		t.Fatalf("unknown op %q", in.Op)
		return traceparentExp{}
	})
}

func parseHexByte(s string) (tf traceFlags, ok bool) {
	if len(s) != 2 || hexNibbleAnyCase(s[0]) > 15 || hexNibbleAnyCase(s[1]) > 15 {
		return 0, false
	}
	return traceFlags(hexNibbleAnyCase(s[0])<<4 | hexNibbleAnyCase(s[1])), true
}

// ---------------------------------------------------------------- baggage

type baggageIn struct {
	Op        string `json:"op"`
	Header    string `json:"header"`
	SessionID string `json:"session_id"`
	Members   []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"members"`
}

type baggageExp struct {
	Status       *string            `json:"status,omitempty"`
	MemberCount  *json.Number       `json:"member_count,omitempty"`
	Members      *map[string]string `json:"members,omitempty"`
	SessionID    *string            `json:"session_id"`
	SessionError *string            `json:"session_error"`
	Header       *string            `json:"header,omitempty"`
	Error        *string            `json:"error,omitempty"`
}

func TestVectorsBaggage(t *testing.T) {
	f := loadVectorFile(t, "vectors/baggage.json")
	// Which vectors list their members decides whether members are compared.
	withMembers := map[string]bool{}
	for _, v := range f.Vectors {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(v.Expected, &m)
		_, withMembers[v.ID] = m["members"]
	}
	runVectors(t, "baggage.json", func(t *testing.T, in baggageIn) baggageExp {
		switch in.Op {
		case "decode":
			b, err := DecodeBaggage(in.Header)
			status := "ok"
			if err != nil {
				status = string(CodeOf(err))
			}
			n := json.Number(formatInt(int64(b.Len())))
			out := baggageExp{Status: &status, MemberCount: &n}
			if withMembers[testVectorID(t)] {
				members := map[string]string{}
				for _, m := range b.Members() {
					members[m.Key()] = m.Value()
				}
				out.Members = &members
			}
			id, serr := ExtractSessionID(in.Header)
			if serr == nil {
				out.SessionID = &id
			}
			out.SessionError = codePtr(serr)
			return out
		case "encode":
			extra, err := baggageFromPairs(in.Members)
			if err == nil {
				var h string
				h, err = EncodeBaggage(in.SessionID, extra)
				if err == nil {
					return baggageExp{Header: &h}
				}
			}
			return baggageExp{Error: codePtr(err)}
		}
		t.Fatalf("unknown op %q", in.Op)
		return baggageExp{}
	})
}

// testVectorID returns the subtest's vector id (the last element of its name).
func testVectorID(t *testing.T) string {
	return path.Base(t.Name())
}

// ---------------------------------------------------------------- session rotation

type rotationIn struct {
	InitialState *SessionState `json:"initial_state"`
	IDs          []string      `json:"ids"`
	Events       []struct {
		Kind string `json:"kind"`
		TMs  int64  `json:"t_ms"`
	} `json:"events"`
}

type rotationStep struct {
	SessionID  *string `json:"session_id"`
	PreviousID *string `json:"previous_id"`
	NewSession bool    `json:"new_session"`
	Reason     *string `json:"reason"`
}

type rotationError struct {
	Code    string `json:"code"`
	AtEvent int    `json:"at_event"`
}

type rotationExp struct {
	Steps []rotationStep `json:"steps"`
	Error *rotationError `json:"error,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func TestVectorsSessionRotation(t *testing.T) {
	runVectors(t, "session_rotation.json", func(t *testing.T, in rotationIn) rotationExp {
		var initial SessionState
		if in.InitialState != nil {
			initial = *in.InitialState
		}
		m := NewSessionMachine(DefaultSessionConfig(), initial, &IDList{IDs: in.IDs})
		out := rotationExp{Steps: []rotationStep{}}
		for i, ev := range in.Events {
			step, err := m.Apply(LifecycleEvent{Kind: EventKind(ev.Kind), AtMs: ev.TMs})
			if err != nil {
				out.Error = &rotationError{Code: string(CodeOf(err)), AtEvent: i}
				break
			}
			out.Steps = append(out.Steps, rotationStep{
				SessionID:  optional(step.SessionID),
				PreviousID: optional(step.PreviousID),
				NewSession: step.NewSession,
				Reason:     optional(string(step.Reason)),
			})
		}
		return out
	})
}

// ---------------------------------------------------------------- url template

type urlIn struct {
	URL string `json:"url"`
}

type urlExp struct {
	Template      *string `json:"template,omitempty"`
	ServerAddress *string `json:"server_address"`
	Error         *string `json:"error,omitempty"`
}

func TestVectorsURLTemplate(t *testing.T) {
	runVectors(t, "url_template.json", func(t *testing.T, in urlIn) urlExp {
		u, err := TemplateURL(in.URL)
		if err != nil {
			return urlExp{Error: codePtr(err)}
		}
		return urlExp{Template: &u.Template, ServerAddress: optional(u.ServerAddress)}
	})
}

// ---------------------------------------------------------------- pseudonymous id

type pseudoIn struct {
	KeyHex string `json:"key_hex"`
	ID     string `json:"id"`
}

type pseudoExp struct {
	Hash  *string `json:"hash,omitempty"`
	Error *string `json:"error,omitempty"`
}

func TestVectorsPseudonymousID(t *testing.T) {
	runVectors(t, "pseudonymous_id.json", func(t *testing.T, in pseudoIn) pseudoExp {
		key, ok := decodeHexString(in.KeyHex)
		if !ok {
			t.Fatalf("bad key_hex in vector")
		}
		h, err := PseudonymousID(key, in.ID)
		if err != nil {
			return pseudoExp{Error: codePtr(err)}
		}
		return pseudoExp{Hash: &h}
	})
}

func decodeHexString(s string) ([]byte, bool) {
	if len(s)%2 != 0 {
		return nil, false
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		hi, lo := hexNibbleAnyCase(s[2*i]), hexNibbleAnyCase(s[2*i+1])
		if hi > 15 || lo > 15 {
			return nil, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

// ---------------------------------------------------------------- sampling

type samplingIn struct {
	SessionID   string      `json:"session_id"`
	Rate        json.Number `json:"rate"`
	HasError    bool        `json:"has_error"`
	DurationMs  int64       `json:"duration_ms"`
	ThresholdMs int64       `json:"threshold_ms"`
}

type samplingExp struct {
	Decision *string `json:"decision,omitempty"`
	Reason   *string `json:"reason,omitempty"`
	Error    *string `json:"error,omitempty"`
}

func TestVectorsSampling(t *testing.T) {
	runVectors(t, "sampling.json", func(t *testing.T, in samplingIn) samplingExp {
		rate, err := in.Rate.Float64()
		if err != nil {
			t.Fatalf("bad rate in vector: %v", err)
		}
		r, err := Sample(SampleInput{SessionID: in.SessionID, Rate: rate, HasError: in.HasError, DurationMs: in.DurationMs, ThresholdMs: in.ThresholdMs})
		if err != nil {
			return samplingExp{Error: codePtr(err)}
		}
		return samplingExp{Decision: strPtr(string(r.Decision)), Reason: strPtr(string(r.Reason))}
	})
}

// ---------------------------------------------------------------- validation

type validationIn struct {
	Attribute string          `json:"attribute"`
	Type      string          `json:"type"`
	Value     json.RawMessage `json:"value"`
}

type validationExp struct {
	Valid bool    `json:"valid"`
	Error *string `json:"error,omitempty"`
}

// vectorValue builds the Go value a vector describes: the JSON value read as
// the named type.
func vectorValue(t *testing.T, typ string, raw json.RawMessage) any {
	var v any
	var err error
	switch typ {
	case "string":
		var s string
		err = json.Unmarshal(raw, &s)
		v = s
	case "int":
		var n json.Number
		if err = strictJSON(raw, &n); err == nil {
			v, err = n.Int64()
		}
	case "double":
		var f float64
		err = json.Unmarshal(raw, &f)
		v = f
	case "boolean":
		var b bool
		err = json.Unmarshal(raw, &b)
		v = b
	case "null":
		if strings.TrimSpace(string(raw)) != "null" {
			t.Fatalf("type null with value %s", raw)
		}
		v = nil
	case "array":
		var a []any
		err = json.Unmarshal(raw, &a)
		v = a
	default:
		t.Fatalf("unknown value type %q in vector", typ)
	}
	if err != nil {
		t.Fatalf("value %s is not a %s: %v", raw, typ, err)
	}
	return v
}

func TestVectorsValidation(t *testing.T) {
	runVectors(t, "validation.json", func(t *testing.T, in validationIn) validationExp {
		err := Validate(in.Attribute, vectorValue(t, in.Type, in.Value))
		return validationExp{Valid: err == nil, Error: codePtr(err)}
	})
}

// ---------------------------------------------------------------- catalogue

// TestVectorCatalog checks the vector files as a whole: every category file
// is present, there are at least 150 vectors, ids are unique across files,
// every vector has an id, a one-line description, an input and an expected
// value, and every reason code used is defined in the schema.
func TestVectorCatalog(t *testing.T) {
	entries, err := schemafiles.Vectors.ReadDir("vectors")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			onDisk = append(onDisk, "vectors/"+e.Name())
		}
	}
	listed := append([]string(nil), schemafiles.VectorFiles...)
	if !sameSet(onDisk, listed) {
		t.Fatalf("vector files %v differ from schemafiles.VectorFiles %v", onDisk, listed)
	}
	codes := map[string]bool{}
	for _, c := range Default().ReasonCodes {
		codes[c.Code] = true
	}
	seen := map[string]string{}
	total := 0
	for _, name := range schemafiles.VectorFiles {
		f := loadVectorFile(t, name)
		if f.SchemaVersion != SchemaVersion {
			t.Errorf("%s: schema_version %q, want %q", name, f.SchemaVersion, SchemaVersion)
		}
		if f.Description == "" {
			t.Errorf("%s: no description", name)
		}
		for i, v := range f.Vectors {
			total++
			if v.ID == "" {
				t.Errorf("%s: vector #%d has no id", name, i)
				continue
			}
			if other, dup := seen[v.ID]; dup {
				t.Errorf("vector id %q appears in %s and %s", v.ID, other, name)
			}
			seen[v.ID] = name
			if v.Description == "" || strings.ContainsAny(v.Description, "\r\n") {
				t.Errorf("%s: %s: description must be one non-empty line", name, v.ID)
			}
			if len(v.Input) == 0 || len(v.Expected) == 0 {
				t.Errorf("%s: %s: input and expected are required", name, v.ID)
			}
			for _, c := range codesIn(v.Expected) {
				if !codes[c] {
					t.Errorf("%s: %s: reason code %q is not in the schema's reason_codes", name, v.ID, c)
				}
			}
		}
	}
	if total < 150 {
		t.Errorf("%d vectors, want at least 150", total)
	}
	t.Logf("%d vectors in %d files", total, len(schemafiles.VectorFiles))
}

// codesIn returns the reason codes an expected value uses.
func codesIn(raw json.RawMessage) []string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for _, k := range []string{"error", "session_error"} {
		switch v := m[k].(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			if c, ok := v["code"].(string); ok {
				out = append(out, c)
			}
		}
	}
	if s, ok := m["status"].(string); ok && s != "ok" {
		out = append(out, s)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
