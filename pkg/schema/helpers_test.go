package schema

import (
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

type traceFlags = trace.TraceFlags

// baggageFromPairs builds baggage from key/value pairs in order (a later
// duplicate replaces an earlier one). A pair that OpenTelemetry refuses as a
// member (empty key, invalid UTF-8) is bad_member.
func baggageFromPairs(pairs []struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}) (baggage.Baggage, error) {
	b := baggage.Baggage{}
	for _, p := range pairs {
		m, err := baggage.NewMemberRaw(p.Key, p.Value)
		if err != nil {
			return baggage.Baggage{}, newErr(CodeBadMember, "%v", err)
		}
		if b, err = b.SetMember(m); err != nil {
			return baggage.Baggage{}, newErr(CodeBadMember, "%v", err)
		}
	}
	return b, nil
}
