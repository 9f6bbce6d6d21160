package schema

import (
	"context"
	"sort"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
)

// DecodeBaggage parses a W3C baggage header value with the OpenTelemetry
// baggage package.
//
// It returns:
//   - the full baggage and a nil error when every member was accepted
//     (an empty header gives empty baggage);
//   - the members that were accepted and an *Error with CodePartial when
//     some were skipped (invalid) or dropped (over max_members or max_bytes);
//   - empty baggage and CodeOversized when the header is longer than
//     max_bytes (nothing is kept, as in OpenTelemetry).
func DecodeBaggage(h string) (baggage.Baggage, error) {
	if max := Default().Rules.Propagation.Baggage.MaxBytes; len(h) > max {
		return baggage.Baggage{}, newErr(CodeOversized, "baggage is %d bytes, limit %d", len(h), max)
	}
	b, err := baggage.Parse(h)
	if err != nil {
		return b, newErr(CodePartial, "%v", err)
	}
	return b, nil
}

// SessionIDFromBaggage returns the valid session ID carried by the
// `session.id` member. It fails with CodeMissingSessionID when there is no
// such member and CodeBadSessionID when its value is not a session ID; an
// invalid value is never repaired.
func SessionIDFromBaggage(b baggage.Baggage) (string, error) {
	key := Default().Rules.Propagation.Baggage.SessionMember
	m := b.Member(key)
	if m.Key() == "" {
		return "", newErr(CodeMissingSessionID, "no %s member", key)
	}
	if err := ValidSessionID(m.Value()); err != nil {
		return "", err
	}
	return m.Value(), nil
}

// ExtractSessionID decodes a baggage header and returns its session ID.
// Members skipped by DecodeBaggage do not matter as long as session.id was
// kept.
func ExtractSessionID(h string) (string, error) {
	b, err := DecodeBaggage(h)
	if CodeOf(err) == CodeOversized {
		return "", err
	}
	return SessionIDFromBaggage(b)
}

// SessionIDFromContext returns the session ID from the baggage in ctx, as
// extracted by Propagator. Backends use it to copy session.id onto the spans
// and log records of a request.
func SessionIDFromContext(ctx context.Context) (string, error) {
	return SessionIDFromBaggage(baggage.FromContext(ctx))
}

// SessionAttribute returns the session.id attribute for the request in ctx,
// and false when the request carries no valid session ID.
func SessionAttribute(ctx context.Context) (attribute.KeyValue, bool) {
	id, err := SessionIDFromContext(ctx)
	if err != nil {
		return attribute.KeyValue{}, false
	}
	return attribute.String(AttrSessionID, id), true
}

// EncodeBaggage returns the baggage header value for a request: the member
// session.id=sessionID first, then the members of extra in ascending byte
// order of key (a session.id member in extra is replaced). Members are
// encoded by the OpenTelemetry baggage package; the deterministic order and
// the limits (too_many_members, oversized) are Stitch's.
func EncodeBaggage(sessionID string, extra baggage.Baggage) (string, error) {
	if err := ValidSessionID(sessionID); err != nil {
		return "", err
	}
	rules := Default().Rules.Propagation.Baggage
	sm, err := baggage.NewMemberRaw(rules.SessionMember, sessionID)
	if err != nil {
		return "", newErr(CodeBadMember, "%v", err)
	}
	others := extra.Members()
	sort.Slice(others, func(i, j int) bool { return others[i].Key() < others[j].Key() })
	members := []baggage.Member{sm}
	for _, m := range others {
		if m.Key() != rules.SessionMember {
			members = append(members, m)
		}
	}
	if len(members) > rules.MaxMembers {
		return "", newErr(CodeTooManyMembers, "%d members, limit %d", len(members), rules.MaxMembers)
	}
	var sb strings.Builder
	for i, m := range members {
		s := m.String()
		if s == "" {
			return "", newErr(CodeBadMember, "key %q is not a W3C baggage key", m.Key())
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(s)
	}
	if sb.Len() > rules.MaxBytes {
		return "", newErr(CodeOversized, "baggage would be %d bytes, limit %d", sb.Len(), rules.MaxBytes)
	}
	return sb.String(), nil
}
