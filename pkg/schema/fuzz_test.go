package schema

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Fuzz tests. `go test` runs the seed corpora (the vectors plus a few
// extras); `go test -fuzz=FuzzParseTraceparent ./pkg/schema` explores.

// vectorInputs returns the string field `field` of every vector input in
// file, to seed a fuzz corpus.
func vectorInputs(f *testing.F, file, field string) []string {
	vf := loadVectorFile(f, "vectors/"+file)
	var out []string
	for _, v := range vf.Vectors {
		var m map[string]any
		if err := json.Unmarshal(v.Input, &m); err != nil {
			f.Fatal(err)
		}
		if s, ok := m[field].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func FuzzParseTraceparent(f *testing.F) {
	for _, s := range vectorInputs(f, "traceparent.json", "header") {
		f.Add(s)
	}
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x00")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01--")
	errorOrder := Default().Rules.Propagation.Traceparent.ErrorOrder
	maxLen := Default().Rules.Propagation.Traceparent.MaxLength
	f.Fuzz(func(t *testing.T, h string) {
		sc, err := ParseTraceparent(h)

		// The hand-written explanation must agree with the OpenTelemetry
		// propagator wherever Stitch's own pre-checks do not apply.
		otel := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(
			context.Background(), propagation.MapCarrier{"traceparent": h})).IsValid()
		if h != "" && len(h) <= maxLen && !(strings.HasPrefix(h, "00-") && len(h) != 55) {
			_, explained := explainTraceparent(h)
			if otel == explained {
				t.Fatalf("OpenTelemetry valid=%v but explainTraceparent found a reason=%v for %q", otel, explained, h)
			}
			if otel != (err == nil) {
				t.Fatalf("OpenTelemetry valid=%v, ParseTraceparent err=%v for %q", otel, err, h)
			}
		}

		if err != nil {
			if sc.IsValid() {
				t.Fatalf("error %v with a valid span context", err)
			}
			if !contains(errorOrder, string(CodeOf(err))) {
				t.Fatalf("reason %q is not in error_order", CodeOf(err))
			}
			return
		}
		// The output re-validates and survives a round trip.
		if err := ValidTraceID(sc.TraceID().String()); err != nil {
			t.Fatalf("decoded trace-id invalid: %v", err)
		}
		if err := ValidSpanID(sc.SpanID().String()); err != nil {
			t.Fatalf("decoded span-id invalid: %v", err)
		}
		enc, err := FormatTraceparent(sc)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		sc2, err := ParseTraceparent(enc)
		if err != nil || sc2.TraceID() != sc.TraceID() || sc2.SpanID() != sc.SpanID() || sc2.TraceFlags() != sc.TraceFlags() {
			t.Fatalf("round trip of %q via %q: %v", h, enc, err)
		}
	})
}

func FuzzDecodeBaggage(f *testing.F) {
	for _, s := range vectorInputs(f, "baggage.json", "header") {
		f.Add(s)
	}
	f.Add("session.id=5b8efff798038103d269b633813fc60c;a=b;c,k=%E2%82")
	rules := Default().Rules.Propagation.Baggage
	const fallbackID = "5b8efff798038103d269b633813fc60c"
	f.Fuzz(func(t *testing.T, h string) {
		b, err := DecodeBaggage(h)
		switch CodeOf(err) {
		case "", CodePartial:
		case CodeOversized:
			if b.Len() != 0 {
				t.Fatalf("oversized baggage kept %d members", b.Len())
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if b.Len() > rules.MaxMembers {
			t.Fatalf("%d members kept, limit %d", b.Len(), rules.MaxMembers)
		}
		id, serr := ExtractSessionID(h)
		if serr == nil {
			if err := ValidSessionID(id); err != nil {
				t.Fatalf("extracted an invalid session ID %q", id)
			}
		} else if c := CodeOf(serr); c != CodeMissingSessionID && c != CodeBadSessionID && c != CodeOversized {
			t.Fatalf("unexpected session error %v", serr)
		}
		// Re-encoding what was kept and decoding it again loses nothing.
		if serr != nil {
			id = fallbackID
		}
		enc, err := EncodeBaggage(id, b)
		if err != nil {
			if c := CodeOf(err); c != CodeOversized && c != CodeTooManyMembers {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		b2, err := DecodeBaggage(enc)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		want := map[string]string{}
		for _, m := range b.Members() {
			want[m.Key()] = m.Value()
		}
		want[rules.SessionMember] = id
		if b2.Len() != len(want) {
			t.Fatalf("round trip kept %d members, want %d", b2.Len(), len(want))
		}
		for _, m := range b2.Members() {
			if want[m.Key()] != m.Value() {
				t.Fatalf("round trip changed %q: %q -> %q", m.Key(), want[m.Key()], m.Value())
			}
		}
	})
}

func FuzzTemplateURL(f *testing.F) {
	for _, s := range vectorInputs(f, "url_template.json", "url") {
		f.Add(s)
	}
	f.Add("https://h/a/%C2%85/\u0085")
	f.Add("//a@b@[::1]/x;y/%7Bid%7D")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := TemplateURL(raw)
		if err != nil {
			if c := CodeOf(err); c != CodeInvalidURL && c != CodeTooLong {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// The template is a valid url.template attribute value...
		if err := Validate(AttrURLTemplate, u.Template); err != nil {
			t.Fatalf("template %q of %q does not validate: %v", u.Template, raw, err)
		}
		// ...which implies templating is idempotent; check it directly too.
		again, err := TemplateURL(u.Template)
		if err != nil || again.Template != u.Template || again.ServerAddress != "" {
			t.Fatalf("templating %q again gave %+v, %v", u.Template, again, err)
		}
		if strings.ContainsAny(u.ServerAddress, ":@/[]?# ") || u.ServerAddress != asciiLower(u.ServerAddress) {
			t.Fatalf("server address %q", u.ServerAddress)
		}
		if u.ServerAddress != "" && isIPv4(u.ServerAddress) {
			t.Fatalf("IP literal %q reported as server address", u.ServerAddress)
		}
	})
}
