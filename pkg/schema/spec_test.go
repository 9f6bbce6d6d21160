package schema

import (
	"context"
	"errors"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	schemafiles "github.com/stitch-observability/stitch/schema"
)

func TestDefaultSchemaLoads(t *testing.T) {
	s := Default()
	if s.Version != SchemaVersion {
		t.Fatalf("YAML version %s, generated SchemaVersion %s: regenerate", s.Version, SchemaVersion)
	}
	if len(s.Attributes) != len(AttributeNames) {
		t.Fatalf("%d attributes in YAML, %d generated: regenerate", len(s.Attributes), len(AttributeNames))
	}
	for _, name := range AttributeNames {
		if _, ok := s.Attribute(name); !ok {
			t.Errorf("generated constant %q is not in the YAML", name)
		}
	}
}

func TestReasonCodesMatchYAML(t *testing.T) {
	var yaml, goCodes []string
	for _, c := range Default().ReasonCodes {
		yaml = append(yaml, c.Code)
	}
	for _, c := range allCodes {
		goCodes = append(goCodes, string(c))
	}
	if !sameSet(yaml, goCodes) {
		sort.Strings(yaml)
		sort.Strings(goCodes)
		t.Fatalf("reason codes differ:\nYAML %v\nGo   %v", yaml, goCodes)
	}
	for _, c := range Default().Rules.Propagation.Traceparent.ErrorOrder {
		if !contains(yaml, c) {
			t.Errorf("error_order code %q is not a reason code", c)
		}
	}
}

func enumOf(t *testing.T, attr string) []string {
	t.Helper()
	a, ok := Default().Attribute(attr)
	if !ok {
		t.Fatalf("attribute %s missing", attr)
	}
	return a.Validation.Enum
}

func TestGoEnumsMatchYAML(t *testing.T) {
	check := func(attr string, goVals ...string) {
		if y := enumOf(t, attr); !sameSet(y, goVals) {
			t.Errorf("%s: YAML enum %v, Go constants %v", attr, y, goVals)
		}
	}
	check(AttrStitchSamplingDecision, string(DecisionKeep), string(DecisionDrop))
	check(AttrStitchSamplingReason, string(ReasonError), string(ReasonLatency), string(ReasonSessionSampled), string(ReasonSessionNotSampled))
	check(AttrStitchSessionStartReason, string(StartFirst), string(StartBackgroundTimeout), string(StartMaxDuration), string(StartClockRegression))
	check(AttrStitchConsent, Default().Rules.Privacy.Consent...)
	kinds := []string{string(LifecycleLaunch), string(LifecycleForeground), string(LifecycleBackground), string(LifecycleTerminate), string(LifecycleTick), string(LifecycleBackgroundFetch), string(LifecyclePush)}
	if y := Default().Rules.Session.Events.Keys; !sameSet(y, kinds) {
		t.Errorf("rules.session.events %v, Go lifecycle kinds %v", y, kinds)
	}
}

// TestSemanticConventionNames checks every attribute outside the stitch.
// namespace, and every forbidden attribute, against the OpenTelemetry
// semantic conventions package, including the enum values.
func TestSemanticConventionNames(t *testing.T) {
	known := map[string]attribute.Key{
		"service.name":                semconv.ServiceNameKey,
		"service.version":             semconv.ServiceVersionKey,
		"os.name":                     semconv.OSNameKey,
		"os.version":                  semconv.OSVersionKey,
		"device.model.identifier":     semconv.DeviceModelIdentifierKey,
		"app.installation.id":         semconv.AppInstallationIDKey,
		"session.id":                  semconv.SessionIDKey,
		"session.previous_id":         semconv.SessionPreviousIDKey,
		"user.id":                     semconv.UserIDKey,
		"http.request.method":         semconv.HTTPRequestMethodKey,
		"url.template":                semconv.URLTemplateKey,
		"server.address":              semconv.ServerAddressKey,
		"http.response.status_code":   semconv.HTTPResponseStatusCodeKey,
		"http.request.resend_count":   semconv.HTTPRequestResendCountKey,
		"error.type":                  semconv.ErrorTypeKey,
		"network.connection.type":     semconv.NetworkConnectionTypeKey,
		"network.connection.subtype":  semconv.NetworkConnectionSubtypeKey,
		"ios.app.state":               semconv.IOSAppStateKey,
		"app.screen.name":             semconv.AppScreenNameKey,
		"feature_flag.key":            semconv.FeatureFlagKeyKey,
		"feature_flag.result.variant": semconv.FeatureFlagResultVariantKey,
		"url.full":                    semconv.URLFullKey,
		"url.path":                    semconv.URLPathKey,
		"url.query":                   semconv.URLQueryKey,
		"url.original":                semconv.URLOriginalKey,
		"client.address":              semconv.ClientAddressKey,
		"network.peer.address":        semconv.NetworkPeerAddressKey,
		"user.email":                  semconv.UserEmailKey,
		"user.name":                   semconv.UserNameKey,
		"user.full_name":              semconv.UserFullNameKey,
		"enduser.id":                  semconv.EnduserIDKey,
		"device.id":                   semconv.DeviceIDKey,
	}
	for name, key := range known {
		if string(key) != name {
			t.Errorf("semconv key %q != %q", key, name)
		}
	}
	s := Default()
	for _, a := range s.Attributes {
		if a.Namespace() == "stitch" {
			continue
		}
		if strings.Contains(a.Name, "stitch") {
			t.Errorf("%s: stitch names must start with stitch.", a.Name)
		}
		if _, ok := known[a.Name]; !ok {
			t.Errorf("%s is neither stitch.* nor a known semantic-convention attribute", a.Name)
		}
	}
	for _, f := range s.Forbidden {
		if _, ok := known[f.Name]; !ok && f.Name != "http.url" && f.Name != "device.name" {
			t.Errorf("forbidden %s is not a known attribute name", f.Name)
		}
	}
	if semconv.SchemaURL == "" {
		t.Fatal("semconv schema URL is empty")
	}

	enum := func(kvs ...attribute.KeyValue) []string {
		var out []string
		for _, kv := range kvs {
			out = append(out, kv.Value.AsString())
		}
		return out
	}
	for attr, want := range map[string][]string{
		"http.request.method": enum(semconv.HTTPRequestMethodConnect, semconv.HTTPRequestMethodDelete, semconv.HTTPRequestMethodGet,
			semconv.HTTPRequestMethodHead, semconv.HTTPRequestMethodOptions, semconv.HTTPRequestMethodPatch, semconv.HTTPRequestMethodPost,
			semconv.HTTPRequestMethodPut, semconv.HTTPRequestMethodQuery, semconv.HTTPRequestMethodTrace, semconv.HTTPRequestMethodOther),
		"network.connection.type": enum(semconv.NetworkConnectionTypeWifi, semconv.NetworkConnectionTypeWired, semconv.NetworkConnectionTypeCell,
			semconv.NetworkConnectionTypeUnavailable, semconv.NetworkConnectionTypeUnknown),
		"network.connection.subtype": enum(semconv.NetworkConnectionSubtypeGprs, semconv.NetworkConnectionSubtypeEdge, semconv.NetworkConnectionSubtypeUmts,
			semconv.NetworkConnectionSubtypeCdma, semconv.NetworkConnectionSubtypeEvdo0, semconv.NetworkConnectionSubtypeEvdoA,
			semconv.NetworkConnectionSubtypeCdma20001xrtt, semconv.NetworkConnectionSubtypeHsdpa, semconv.NetworkConnectionSubtypeHsupa,
			semconv.NetworkConnectionSubtypeHspa, semconv.NetworkConnectionSubtypeIden, semconv.NetworkConnectionSubtypeEvdoB,
			semconv.NetworkConnectionSubtypeLte, semconv.NetworkConnectionSubtypeEhrpd, semconv.NetworkConnectionSubtypeHspap,
			semconv.NetworkConnectionSubtypeGsm, semconv.NetworkConnectionSubtypeTdScdma, semconv.NetworkConnectionSubtypeIwlan,
			semconv.NetworkConnectionSubtypeNr, semconv.NetworkConnectionSubtypeNrnsa, semconv.NetworkConnectionSubtypeLteCa),
		"ios.app.state": enum(semconv.IOSAppStateActive, semconv.IOSAppStateInactive, semconv.IOSAppStateBackground,
			semconv.IOSAppStateForeground, semconv.IOSAppStateTerminate),
	} {
		if got := enumOf(t, attr); !sameSet(got, want) {
			t.Errorf("%s enum %v, semantic conventions %v", attr, got, want)
		}
	}
}

// TestSessionIDFormatMatchesYAML checks ValidSessionID (OpenTelemetry's
// trace-id parser) against the language-neutral definition in the YAML
// (regex plus not_in) on tricky inputs.
func TestSessionIDFormatMatchesYAML(t *testing.T) {
	f, _ := Default().Formats.Get("session_id")
	re := regexp.MustCompile(f.Regex)
	inputs := []string{
		"5b8efff798038103d269b633813fc60c", "5B8EFFF798038103D269B633813FC60C", strings.Repeat("0", 32),
		strings.Repeat("0", 31) + "1", strings.Repeat("f", 32), "5b8efff798038103d269b633813fc60", "5b8efff798038103d269b633813fc60c0",
		"5b8efff798038103d269b633813fc60g", "", " 5b8efff798038103d269b633813fc60", "5b8efff798038103d269b633813fc60\n",
		"5b8efff7-9803-8103-d269-b633813fc60c", "5b8efff798038103d269b633813fc6é",
	}
	for _, s := range inputs {
		yamlOK := re.MatchString(s) && !contains(f.NotIn, s)
		if goOK := ValidSessionID(s) == nil; goOK != yamlOK {
			t.Errorf("%q: ValidSessionID ok=%v, YAML definition ok=%v", s, goOK, yamlOK)
		}
	}
	if err := ValidSessionID(f.Example); err != nil {
		t.Errorf("format example %q: %v", f.Example, err)
	}
}

func TestTraceAndSpanIDs(t *testing.T) {
	for s, want := range map[string]Code{
		"4bf92f3577b34da6a3ce929d0e0e4736": "",
		"a3ce929d0e0e4736":                 "",
		strings.Repeat("0", 32):            CodeZeroTraceID,
		strings.Repeat("0", 16):            CodeZeroTraceID,
		"4BF92F3577B34DA6A3CE929D0E0E4736": CodeBadTraceID,
		"4bf92f3577b34da6a3ce929d0e0e473":  CodeBadTraceID,
		"":                                 CodeBadTraceID,
	} {
		if got := CodeOf(ValidTraceID(s)); got != want {
			t.Errorf("ValidTraceID(%q) = %q, want %q", s, got, want)
		}
	}
	id, _ := TraceIDFromString("a3ce929d0e0e4736")
	if id.String() != "0000000000000000a3ce929d0e0e4736" {
		t.Errorf("64-bit trace ID widened to %s", id)
	}
	for s, want := range map[string]Code{
		"00f067aa0ba902b7":      "",
		strings.Repeat("0", 16): CodeZeroSpanID,
		"00F067AA0BA902B7":      CodeBadSpanID,
		"00f067aa0ba902b":       CodeBadSpanID,
	} {
		if got := CodeOf(ValidSpanID(s)); got != want {
			t.Errorf("ValidSpanID(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestSessionSampledReference compares the float implementation with exact
// big-number arithmetic around the threshold for many rates.
func TestSessionSampledReference(t *testing.T) {
	rates := []float64{1e-300, 5e-324, 1e-9, 0.001, 0.01, 0.1, 0.2, 1.0 / 3, 0.5, 0.7, 0.9, 0.999, math.Nextafter(1, 0)}
	two64 := new(big.Float).SetMantExp(big.NewFloat(1), 64)
	for _, rate := range rates {
		x := new(big.Float).SetPrec(200).Mul(big.NewFloat(rate), two64)
		// Candidate V values around the threshold.
		base, _ := x.Int(nil)
		for d := int64(-2); d <= 2; d++ {
			v := new(big.Int).Add(base, big.NewInt(d))
			if v.Sign() < 0 || v.BitLen() > 64 {
				continue
			}
			sid := leftPad16(v.Text(16)) + "0123456789abcdef"
			want := new(big.Float).SetPrec(200).SetInt(v).Cmp(x) < 0
			got, err := SessionSampled(sid, rate)
			if err != nil || got != want {
				t.Errorf("rate %v V %s: got %v (%v), want %v", rate, v, got, err, want)
			}
		}
	}
}

func leftPad16(s string) string { return strings.Repeat("0", 16-len(s)) + s }

func TestValidateGoTypes(t *testing.T) {
	ok := []struct {
		name  string
		value any
	}{
		{AttrHTTPResponseStatusCode, 200},
		{AttrHTTPResponseStatusCode, int16(404)},
		{AttrHTTPResponseStatusCode, uint8(200)},
		{AttrHTTPResponseStatusCode, uint64(503)},
		{AttrStitchSamplingRate, float32(0.25)},
		{AttrStitchClockMonotonicNs, int64(math.MaxInt64)},
	}
	for _, c := range ok {
		if err := Validate(c.name, c.value); err != nil {
			t.Errorf("Validate(%s, %T %v): %v", c.name, c.value, c.value, err)
		}
	}
	bad := []struct {
		name  string
		value any
		code  Code
	}{
		{AttrHTTPResponseStatusCode, uint64(math.MaxUint64), CodeOutOfRange},
		{AttrStitchSamplingRate, math.NaN(), CodeOutOfRange},
		{AttrStitchSamplingRate, math.Inf(1), CodeOutOfRange},
		{AttrStitchSamplingRate, 1, CodeWrongType},
		{AttrAppScreenName, "bad\xffutf8", CodeBadCharacters},
		{AttrAppScreenName, []byte("x"), CodeWrongType},
	}
	for _, c := range bad {
		if got := CodeOf(Validate(c.name, c.value)); got != c.code {
			t.Errorf("Validate(%s, %T %v) = %q, want %q", c.name, c.value, c.value, got, c.code)
		}
	}
	if err := ValidateKeyValue(attribute.Int(AttrHTTPResponseStatusCode, 200)); err != nil {
		t.Error(err)
	}
	if got := CodeOf(ValidateKeyValue(attribute.Float64(AttrHTTPResponseStatusCode, 200))); got != CodeWrongType {
		t.Errorf("float status code: %q", got)
	}
	if got := CodeOf(ValidateKeyValue(attribute.StringSlice(AttrAppScreenName, []string{"a"}))); got != CodeWrongType {
		t.Errorf("slice screen name: %q", got)
	}
	if !errors.Is(Validate("nope", "x"), &Error{Code: CodeUnknownAttribute}) {
		t.Error("errors.Is on reason code")
	}
}

// TestBackendCopiesSessionFromBaggage walks the backend rule end to end: the
// device encodes the headers, the backend extracts them with Propagator and
// copies session.id from baggage.
func TestBackendCopiesSessionFromBaggage(t *testing.T) {
	const sid = "5b8efff798038103d269b633813fc60c"
	tp, err := NewTraceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := EncodeBaggage(sid, baggage.Baggage{})
	if err != nil {
		t.Fatal(err)
	}
	carrier := propagation.MapCarrier{HeaderTraceparent: tp, HeaderBaggage: bg}
	ctx := Propagator().Extract(context.Background(), carrier)
	kv, ok := SessionAttribute(ctx)
	if !ok || kv.Key != AttrSessionID || kv.Value.AsString() != sid {
		t.Fatalf("session attribute %v %v", kv, ok)
	}
	// An invalid session ID is dropped, not repaired.
	carrier[HeaderBaggage] = "session.id=" + strings.ToUpper(sid)
	if _, ok := SessionAttribute(Propagator().Extract(context.Background(), carrier)); ok {
		t.Fatal("uppercase session ID was accepted")
	}
	// The injected headers are what the encoders produce.
	out := propagation.MapCarrier{}
	Propagator().Inject(ctx, out)
	if out[HeaderTraceparent] != tp || out[HeaderBaggage] != bg {
		t.Fatalf("re-injected %v", out)
	}
}

func TestCanRead(t *testing.T) {
	for _, c := range []struct {
		current, data string
		ok            bool
	}{
		{"1.0.0", "1.0.0", true},
		{"1.0.0", "1.4.2", true},
		{"1.3.0", "1.0.0", true},
		{"1.0.0", "0.9.0", true},
		{"1.0.0", "2.0.0", false},
		{"3.1.0", "1.9.9", false},
		{"3.1.0", "2.0.0", true},
		{"0.4.0", "0.1.0", true},
		{"1.0.0", "1.0", false},
		{"1.0.0", "v1.0.0", false},
		{"1.0.0", "01.0.0", false},
	} {
		err := CanRead(c.current, c.data)
		if (err == nil) != c.ok {
			t.Errorf("CanRead(%s, %s) = %v, want ok=%v", c.current, c.data, err, c.ok)
		}
		if err != nil && CodeOf(err) != CodeBadVersion {
			t.Errorf("CanRead(%s, %s) code %q", c.current, c.data, CodeOf(err))
		}
	}
	if err := CanRead(SchemaVersion, Default().Version); err != nil {
		t.Error(err)
	}
}

func TestPseudonymousIDKnownAnswer(t *testing.T) {
	// RFC 4231 test case 6, an external known answer.
	key := make([]byte, 131)
	for i := range key {
		key[i] = 0xaa
	}
	got, err := PseudonymousID(key, "Test Using Larger Than Block-Size Key - Hash Key First")
	if err != nil || got != "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" {
		t.Fatalf("got %s, %v", got, err)
	}
	if err := Validate(AttrAppInstallationID, got); err != nil {
		t.Fatalf("hash does not validate as app.installation.id: %v", err)
	}
}

func TestSessionMachineStateIsolation(t *testing.T) {
	bs := int64(5)
	st := SessionState{SessionID: "5b8efff798038103d269b633813fc60c", BackgroundSinceMs: &bs, LastSeenMs: 5}
	m := NewSessionMachine(DefaultSessionConfig(), st, &IDList{})
	bs = 999 // the machine must have copied the persisted state
	if _, err := m.Apply(LifecycleEvent{Kind: LifecycleForeground, AtMs: 6}); err != nil {
		t.Fatal(err)
	}
	got := m.State()
	if got.BackgroundSinceMs != nil || !got.Foreground || got.LastSeenMs != 6 {
		t.Fatalf("state %+v", got)
	}
	// Failing events leave the state untouched.
	before := m.State()
	if _, err := m.Apply(LifecycleEvent{Kind: "nap", AtMs: 7}); CodeOf(err) != CodeBadEvent {
		t.Fatalf("err %v", err)
	}
	if after := m.State(); after.LastSeenMs != before.LastSeenMs {
		t.Fatal("state changed on error")
	}
	// Extreme times do not overflow.
	if _, err := m.Apply(LifecycleEvent{Kind: LifecycleTick, AtMs: math.MaxInt64}); CodeOf(err) != CodeIDsExhausted {
		t.Fatalf("max_duration rotation expected, got %v", err)
	}
}

func TestLoadRejectsBrokenSchemas(t *testing.T) {
	base := string(schemafiles.YAML)
	mutate := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("mutation anchor %q not found", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	cases := map[string]string{
		"unknown field":       mutate("schema: stitch-telemetry\n", "schema: stitch-telemetry\ncolour: blue\n"),
		"bad version":         mutate("version: 1.0.0\n", "version: 1.0\n"),
		"duplicate attribute": mutate("  - name: service.version\n", "  - name: service.name\n"),
		"unknown signal":      mutate("    signals: [span, span_event, log]\n", "    signals: [span, trace]\n"),
		"unknown privacy":     mutate("    privacy: must-be-redacted\n", "    privacy: secret\n"),
		"bad regex":           mutate(`regex: '^[a-z][a-z0-9_]*$'`, `regex: '^[a-z'`),
		"unknown format":      mutate("validation: {format: session_id}", "validation: {format: uuid}"),
		"since too new":       mutate("    since: 1.0.0\n", "    since: 1.1.0\n"),
		"event unknown attr":  mutate("      - {name: ios.app.state, requirement: required}", "      - {name: ios.app.mood, requirement: required}"),
		"int with regex":      mutate("    validation: {min: 100, max: 599}", "    validation: {min: 100, max: 599, regex: x}"),
		"forbidden defined":   mutate("  - {name: url.full,", "  - {name: url.template,"),
	}
	for name, doc := range cases {
		if _, err := Load([]byte(doc)); err == nil {
			t.Errorf("%s: Load accepted the broken schema", name)
		}
	}
	if _, err := Load([]byte(base)); err != nil {
		t.Fatalf("unmodified schema: %v", err)
	}
}
