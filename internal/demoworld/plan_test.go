package demoworld

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/stitch-observability/stitch/pkg/schema"
)

func mustPlan(t *testing.T, seed int64, sessions int) *World {
	t.Helper()
	w, err := Plan(seed, sessions)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func truthJSON(t *testing.T, w *World) []byte {
	t.Helper()
	b, err := w.GroundTruth().JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanIsReproducible(t *testing.T) {
	for _, n := range []int{1, 8, DefaultSessions} {
		a, b := mustPlan(t, 42, n), mustPlan(t, 42, n)
		if ja, jb := truthJSON(t, a), truthJSON(t, b); !bytes.Equal(ja, jb) {
			t.Fatalf("%d sessions: same seed, different ground truth", n)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%d sessions: same seed, different worlds", n)
		}
	}
}

func TestPlanDependsOnSeed(t *testing.T) {
	a, b := mustPlan(t, 1, 20), mustPlan(t, 2, 20)
	if bytes.Equal(truthJSON(t, a), truthJSON(t, b)) {
		t.Fatal("different seeds gave the same ground truth")
	}
	if a.Truth.Sessions[0].ID == b.Truth.Sessions[0].ID {
		t.Fatal("different seeds gave the same first session ID")
	}
}

func TestPlanRejectsBadSizes(t *testing.T) {
	for _, n := range []int{0, -1, MaxSessions + 1} {
		if _, err := Plan(1, n); err == nil {
			t.Errorf("Plan(1, %d) succeeded", n)
		}
	}
}

func TestPlanHasTheRequestedSize(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8, 17, DefaultSessions, 200} {
		w := mustPlan(t, int64(n), n)
		if got := len(w.Truth.Sessions); got != n {
			t.Errorf("%d sessions requested, %d planned", n, got)
		}
		for _, s := range w.Truth.Sessions {
			if s.Requests < 8 {
				t.Errorf("%d: session %s has %d requests, want at least 8", n, s.ID, s.Requests)
			}
		}
	}
}

// TestPlanHasEveryFault checks that each seeded fault is present, with
// the answer the ground truth gives for it, for several seeds and sizes.
func TestPlanHasEveryFault(t *testing.T) {
	for _, tc := range []struct {
		seed     int64
		sessions int
	}{{1, DefaultSessions}, {7, DefaultSessions}, {3, 8}, {99, 8}, {5, 2}, {11, 30}} {
		w := mustPlan(t, tc.seed, tc.sessions)
		gt := w.Truth
		f := gt.Faults
		name := func(s string) string { return s }
		check := func(ok bool, what string) {
			t.Helper()
			if !ok {
				t.Errorf("seed %d, %d sessions: %s", tc.seed, tc.sessions, name(what))
			}
		}

		// Slow endpoint: sampled-in requests that are slow on the backend.
		slowSeen := false
		for _, id := range f.SlowEndpoint.Requests {
			r := gt.Request(id)
			a := r.Attempts[0]
			check(a.PlannedServerMs >= f.SlowEndpoint.MinDelayMs, "slow request below the slow delay")
			if a.Propagation == PropagationPropagated {
				slowSeen = true
				check(a.SamplingReason == string(schema.ReasonError) || a.SamplingReason == string(schema.ReasonLatency), "slow request not kept for latency")
			}
		}
		check(slowSeen, "no traced request to the slow endpoint")

		// Cascade: 502 to the app, orders and inventory errors on the backend.
		check(len(f.Cascade.Sessions) > 0 && len(f.Cascade.Requests) > 0, "no cascade")
		for _, id := range f.Cascade.Requests {
			r := gt.Request(id)
			check(r.Status == 502 && r.Outcome == "error", "cascade request does not end in 502")
			check(r.Attempts[0].BackendSpans["inventory"] == 1 && r.Attempts[0].BackendSpans["orders"] == 2, "cascade spans")
			var bodies []string
			for _, l := range gt.BackendLogs {
				if l.RequestID == id {
					bodies = append(bodies, l.Service+":"+l.Severity+":"+l.Body)
				}
			}
			check(slices.Equal(bodies, []string{
				"inventory:WARN:" + msgLockWait, "inventory:ERROR:" + msgReservationAbort,
				"orders:ERROR:" + msgReservationFail, "gateway:ERROR:" + msgBadGateway,
			}), "cascade logs")
			check(slices.Contains(gt.Session(r.SessionID).Faults, "cascade"), "cascade session not tagged")
		}

		// Retries: two attempts in the same trace, 503 then 200, resend_count 1.
		check(len(f.Retries.Requests) > 0, "no retry")
		for _, id := range f.Retries.Requests {
			r := gt.Request(id)
			check(len(r.Attempts) == 2 && r.Attempts[0].Status == 503 && r.Attempts[1].Status == 200, "retry statuses")
			check(r.Attempts[1].ResendCount == 1 && r.Attempts[0].ClientSpanID != r.Attempts[1].ClientSpanID, "retry span")
			check(r.Attempts[0].BackendTraceID == r.TraceID && r.Attempts[1].BackendTraceID == r.TraceID, "retry trace")
		}

		// Stripping host: its own trace, no session on its logs.
		check(len(f.StrippingHost.Requests) > 0, "no request to the stripping host")
		for _, id := range f.StrippingHost.Requests {
			r := gt.Request(id)
			a := r.Attempts[0]
			check(a.Propagation == PropagationStripped && a.BackendTraceID != "" && a.BackendTraceID != r.TraceID, "stripped trace")
		}
		for _, l := range gt.BackendLogs {
			if l.Service == svcLegacy {
				check(l.SessionID == "", "legacy log with a session")
			}
		}

		// Clock skew: seconds and minutes.
		var secs, mins bool
		for _, s := range f.ClockSkew {
			o := abs(s.ClockTrueOffsetMs)
			secs = secs || o < 60_000
			mins = mins || o >= 60_000
		}
		check(secs && mins, "no skew of seconds and of minutes")

		check(len(f.LateUpload) > 0, "no late upload")
		check(len(f.OfflineQueue) > 0, "no queued request")
		check(f.Rotations["first"] > 0, "no first session")
		if tc.sessions >= 8 {
			check(f.Rotations["background_timeout"] > 0, "no background_timeout rotation")
		}
		if tc.sessions >= 30 {
			check(f.Rotations["max_duration"] > 0, "no max_duration rotation")
			check(len(f.ExpiredFetch) > 0, "no background fetch in an expired session")
			check(len(f.Restarts) > 0, "no session surviving a restart")
		}

		// Sampled out: rule says so, backend has nothing, device keeps only
		// errors and slow spans, and at least one of each.
		check(len(f.SampledOut.Sessions) > 0, "no sampled-out session")
		for _, sid := range f.SampledOut.Sessions {
			ok, err := schema.SessionSampled(sid, AppSamplingRate)
			check(err == nil && !ok, "sampled-out session is sampled by the schema rule")
		}
		var keptErr, keptSlow bool
		for _, r := range gt.Requests {
			if gt.Session(r.SessionID).Sampled {
				continue
			}
			for _, a := range r.Attempts {
				if a.Propagation == PropagationSampledOut {
					check(a.BackendTraceID == "" && len(a.BackendSpans) == 0 && a.BackendLogs == 0, "sampled-out attempt has backend data")
				}
				switch a.SamplingReason {
				case string(schema.ReasonError):
					keptErr = true
					check(a.Exported, "error span not exported")
				case string(schema.ReasonLatency):
					keptSlow = true
					check(a.Exported, "slow span not exported")
				default:
					check(!a.Exported, "sampled-out span exported")
				}
			}
		}
		check(keptErr && keptSlow, "sampled-out session keeps no error and no slow span")
		for _, s := range gt.Sessions {
			ok, _ := schema.SessionSampled(s.ID, AppSamplingRate)
			check(ok == s.Sampled, "session sampled flag disagrees with the schema rule")
		}
	}
}

func TestPlannedSessionIDsAreValidAndChained(t *testing.T) {
	w := mustPlan(t, 3, DefaultSessions)
	seen := map[string]bool{}
	for _, d := range w.Truth.Devices {
		prev := ""
		for _, id := range d.Sessions {
			if err := schema.ValidSessionID(id); err != nil {
				t.Fatalf("session %q: %v", id, err)
			}
			if seen[id] {
				t.Fatalf("session %s used twice", id)
			}
			seen[id] = true
			s := w.Truth.Session(id)
			if s.PreviousID != prev {
				t.Errorf("session %s: previous %q, want %q", id, s.PreviousID, prev)
			}
			if (prev == "") != (s.StartReason == string(schema.StartFirst)) {
				t.Errorf("session %s: start reason %s with previous %q", id, s.StartReason, prev)
			}
			prev = id
		}
	}
	for _, r := range w.Truth.Requests {
		if !seen[r.SessionID] {
			t.Errorf("request %s in unknown session %s", r.ID, r.SessionID)
		}
		if err := schema.ValidTraceID(r.TraceID); err != nil {
			t.Errorf("request %s: %v", r.ID, err)
		}
		for _, a := range r.Attempts {
			if err := schema.ValidSpanID(a.ClientSpanID); err != nil {
				t.Errorf("request %s: %v", r.ID, err)
			}
		}
	}
}

func TestEveryEmittedAttributePassesTheSchema(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		w := mustPlan(t, seed, DefaultSessions)
		attrs := w.EmittedAttributes()
		if len(attrs) < 1000 {
			t.Fatalf("only %d attributes planned", len(attrs))
		}
		for _, a := range attrs {
			if err := schema.ValidateKeyValue(a.KV); err != nil {
				t.Errorf("%s: %s=%v: %v", a.Where, a.KV.Key, a.KV.Value.Emit(), err)
			}
		}
	}
}

func TestDeviceTelemetryFollowsTheSchema(t *testing.T) {
	w := mustPlan(t, 5, DefaultSessions)
	required := []string{schema.AttrServiceName, schema.AttrServiceVersion, schema.AttrOSName, schema.AttrOSVersion,
		schema.AttrDeviceModelIdentifier, schema.AttrStitchSchemaVersion, schema.AttrStitchConsent}
	for _, d := range w.Devices {
		for _, k := range required {
			if !slices.ContainsFunc(d.Resource, func(kv attributeKV) bool { return string(kv.Key) == k }) {
				t.Errorf("%s: resource has no %s", d.Name, k)
			}
		}
		for _, st := range d.Steps {
			if st.Action == nil {
				continue
			}
			for _, r := range st.Action.Requests {
				for i, a := range r.Attempts {
					has := func(k string) bool {
						return slices.ContainsFunc(a.Attrs, func(kv attributeKV) bool { return string(kv.Key) == k })
					}
					for _, k := range []string{schema.AttrSessionID, schema.AttrHTTPRequestMethod, schema.AttrURLTemplate,
						schema.AttrServerAddress, schema.AttrStitchSamplingDecision, schema.AttrStitchSamplingReason, schema.AttrStitchSamplingRate} {
						if !has(k) {
							t.Errorf("%s %s: client span has no %s", d.Name, r.SpanName, k)
						}
					}
					if has(schema.AttrHTTPRequestResendCount) != (i > 0) {
						t.Errorf("%s %s attempt %d: resend_count presence wrong", d.Name, r.SpanName, i)
					}
					if has(schema.AttrStitchRequestQueueDelayMs) != r.Truth.Queued {
						t.Errorf("%s %s: queue delay presence wrong", d.Name, r.SpanName)
					}
				}
			}
		}
	}
	// Session events carry what the schema requires.
	for _, d := range w.Devices {
		for _, st := range d.Steps {
			for _, l := range st.Logs {
				keys := map[string]bool{}
				for _, kv := range l.Attrs {
					keys[string(kv.Key)] = true
				}
				switch l.Event {
				case schema.EventSessionStart:
					if !keys[schema.AttrSessionID] || !keys[schema.AttrStitchSessionStartReason] {
						t.Errorf("%s: session.start without its attributes", d.Name)
					}
				case schema.EventDeviceAppLifecycle:
					if !keys[schema.AttrSessionID] || !keys[schema.AttrIOSAppState] {
						t.Errorf("%s: lifecycle event without its attributes", d.Name)
					}
				case schema.EventSessionEnd:
					if !keys[schema.AttrSessionID] {
						t.Errorf("%s: session.end without session.id", d.Name)
					}
				}
			}
		}
	}
}

type attributeKV = attribute.KeyValue

// A variant is another app of the same shape: its own app service, versions
// and app-facing hosts in every request and fault it records, and still
// within the schema; the default world stays the demo's.
func TestVariantIsAnotherAppOfTheSameShape(t *testing.T) {
	base := mustPlan(t, 7, 12)
	v, err := PlanWith(7, 12, PlanOptions{Variant: "kiosk"})
	if err != nil {
		t.Fatal(err)
	}
	if base.Truth.App.ServiceName != AppServiceName || base.Truth.Faults.StrippingHost.ServerAddress != hostLegacy {
		t.Fatalf("the default world changed: %s, %s", base.Truth.App.ServiceName, base.Truth.Faults.StrippingHost.ServerAddress)
	}
	if v.Truth.App.ServiceName == AppServiceName || v.Truth.App.Variant != "kiosk" {
		t.Fatalf("variant app service %q", v.Truth.App.ServiceName)
	}
	if len(v.Truth.Requests) != len(base.Truth.Requests) || len(v.Truth.Sessions) != len(base.Truth.Sessions) {
		t.Fatal("a variant changed the world's shape")
	}
	baseHosts := map[string]bool{}
	for _, r := range base.Truth.Requests {
		baseHosts[r.ServerAddress] = true
	}
	for _, r := range v.Truth.Requests {
		if baseHosts[r.ServerAddress] {
			t.Errorf("request %s calls the default world's host %s", r.ID, r.ServerAddress)
		}
	}
	for _, d := range v.Truth.Devices {
		if slices.Contains(appVersions, d.AppVersion) {
			t.Errorf("device %s runs the default world's app version %s", d.Name, d.AppVersion)
		}
	}
	if v.Truth.Faults.StrippingHost.ServerAddress == hostLegacy || v.Truth.Faults.SlowEndpoint.Endpoint == base.Truth.Faults.SlowEndpoint.Endpoint {
		t.Error("the variant's faults name the default world's hosts")
	}
	for _, a := range v.EmittedAttributes() {
		if err := schema.ValidateKeyValue(a.KV); err != nil {
			t.Errorf("%s: %s=%v: %v", a.Where, a.KV.Key, a.KV.Value.Emit(), err)
		}
	}
	for _, bad := range []string{"Kiosk", "a b", "1x", "waytoolongvariantname"} {
		if _, err := PlanWith(7, 2, PlanOptions{Variant: bad}); err == nil {
			t.Errorf("variant %q accepted", bad)
		}
	}
}
