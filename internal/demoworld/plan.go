package demoworld

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// Size limits of a world.
const (
	DefaultSessions = 60
	MaxSessions     = 2000
)

// World is a planned demo world: every device's script and the ground truth
// the script must produce. Plan builds it from a seed without I/O; Run
// executes it against the stores.
type World struct {
	Seed     int64
	Sessions int
	Devices  []*Device
	// Truth is the planned ground truth; Run records observations into it.
	Truth *GroundTruth

	faults backendFaults
	// collector: the world sends through the reference collector, whose
	// tail sampling decides what the backends' telemetry keeps.
	collector bool
	// names are the variant's app service, versions and hosts.
	names naming
}

// PlanOptions say how the world's telemetry reaches the stores.
type PlanOptions struct {
	// Collector: everything goes through the reference collector
	// (deploy/collector). The backends then record every request, whatever
	// the traceparent's sampled flag says, and the collector applies the
	// schema's sampling rule to whole traces: a sampled-out session keeps
	// the traces of its errors and slow requests, device and backend spans
	// alike, and its backend log records only when they are errors.
	// Without it, the backends follow the sampled flag (head sampling) and
	// record nothing for a sampled-out session.
	Collector bool
	// Variant, when set, makes the world another app of the same shape: its
	// own app service name, app versions and app-facing hosts (see
	// variant.go). "" is the demo world.
	Variant string
}

// backendFaults configures the services' seeded faults.
type backendFaults struct {
	poisonedSKU  string            // inventory never reserves it (cascade)
	flakyKeys    map[string]bool   // payments fails the first attempt (retry)
	legacyTraces map[string]string // request ID → the legacy host's root trace ID
}

// Device is one simulated installation and its script.
type Device struct {
	Name  string
	Truth *DeviceTruth
	// Resource holds the device's resource attributes (without run tags).
	Resource []attribute.KeyValue
	Steps    []*Step
	// ClockOffset is the device clock minus true time.
	ClockOffset time.Duration
	// userPath is the signed-in user's ID as it appears in raw URLs.
	userPath string
}

// StepKind is one thing that happens on a device.
type StepKind string

// Step kinds. launch, foreground, background, terminate and
// background_fetch are SessionMachine events; an action is a tick; crash,
// offline and online are not events (a crash leaves no trace but the
// persisted state).
const (
	StepLaunch          StepKind = "launch"
	StepForeground      StepKind = "foreground"
	StepBackground      StepKind = "background"
	StepTerminate       StepKind = "terminate"
	StepCrash           StepKind = "crash"
	StepAction          StepKind = "action"
	StepBackgroundFetch StepKind = "background_fetch"
	StepOffline         StepKind = "offline"
	StepOnline          StepKind = "online"
)

var machineEvent = map[StepKind]schema.EventKind{
	StepLaunch:          schema.LifecycleLaunch,
	StepForeground:      schema.LifecycleForeground,
	StepBackground:      schema.LifecycleBackground,
	StepTerminate:       schema.LifecycleTerminate,
	StepAction:          schema.LifecycleTick,
	StepBackgroundFetch: schema.LifecycleBackgroundFetch,
}

// Step is one scripted moment of a device.
type Step struct {
	Kind StepKind
	// VirtualMs is the device's virtual clock, which drove the session
	// rules; Pause is the real time to wait before the step.
	VirtualMs int64
	Pause     time.Duration
	// SessionID is the session current after the step.
	SessionID string
	// Logs are written at the step, in order (session.end, session.start,
	// device.app.lifecycle).
	Logs   []*LogRecord
	Action *Action
}

// LogRecord is one planned device log record.
type LogRecord struct {
	Truth    *DeviceLogTruth
	Event    string
	Body     string
	Severity log.Severity
	Attrs    []attribute.KeyValue
}

// Action is one user action: the root span of a device trace.
type Action struct {
	Truth    *ActionTruth
	Attrs    []attribute.KeyValue
	Requests []*Request
	// ErrorLog is written when the action fails (the app shows an error).
	ErrorLog *LogRecord
}

// Request is one app request.
type Request struct {
	Truth    *RequestTruth
	ep       endpoint
	Method   string
	Host     string // logical host (server.address)
	Target   string // path and query actually requested
	Body     string
	SpanName string
	Attempts []*Attempt
}

// Attempt is one HTTP attempt (one client span).
type Attempt struct {
	Truth *AttemptTruth
	// Attrs are the client span's planned attributes; the executor replaces
	// the result-dependent ones with what it measured.
	Attrs []attribute.KeyValue
	// Backoff is the real pause before a resend.
	Backoff time.Duration
}

// clientOverheadMs is the planner's estimate of device-side time around the
// backend's work, used to predict latency sampling.
const clientOverheadMs = 10

// sessionPlan is what one session will contain, decided before the
// SessionMachine runs.
type sessionPlan struct {
	ordinal                                    int
	sampledOut, cascade, retry, stripped, slow bool
	offline                                    bool
	visits                                     [][]actionPlan
	offlineVisit, offlineFirst, offlineLast    int
	targetRequests                             int
}

type actionPlan struct {
	name     string
	legacy   bool
	missing  bool
	poisoned bool
	flaky    bool
	queued   bool
	forced   bool
}

func (a actionPlan) requests() int {
	switch a.name {
	case actViewCatalog:
		if a.legacy {
			return 2
		}
	case actCheckout:
		if !a.poisoned {
			return 2
		}
	}
	return 1
}

// Plan builds the world for a seed. It does no I/O and reads no clock: the
// same seed and size always give the same world and ground truth.
//
// Every seeded fault is present when sessions >= 2 (with one session the
// only session is also the sampled-out one, which hides backend faults).
func Plan(seed int64, sessions int) (*World, error) {
	return PlanWith(seed, sessions, PlanOptions{})
}

// PlanWith is Plan for a world sent as opts say. The choice changes only
// what the backends record and what sampling keeps, never the world itself
// (sessions, IDs, faults are the same).
func PlanWith(seed int64, sessions int, opts PlanOptions) (*World, error) {
	if sessions < 1 || sessions > MaxSessions {
		return nil, fmt.Errorf("demoworld: sessions must be between 1 and %d, got %d", MaxSessions, sessions)
	}
	names, err := newNaming(opts.Variant)
	if err != nil {
		return nil, err
	}
	g := newRNG(seed)
	gt := &GroundTruth{
		Format:            GroundTruthFormat,
		Seed:              seed,
		SessionsRequested: sessions,
		Collector:         opts.Collector,
		SchemaVersion:     schema.SchemaVersion,
		App: AppTruth{
			ServiceName:        names.appService(),
			Variant:            opts.Variant,
			SamplingRate:       AppSamplingRate,
			LatencyThresholdMs: schema.Default().Rules.Sampling.DefaultLatencyThresholdMs,
			PseudonymKeyNote:   "app.installation.id and user.id are HMAC-SHA-256 under the published demo key " + strconv.Quote(string(pseudonymKey)),
		},
	}
	for _, svc := range backendServices {
		h := serviceHost[svc]
		gt.Services = append(gt.Services, ServiceTruth{
			Name: svc, Version: serviceVersions[svc], Host: names.host(h),
			AppFacing: h == hostAPI || h == hostLegacy, StripsTraceparent: svc == svcLegacy,
		})
	}
	w := &World{
		Seed: seed, Sessions: sessions, Truth: gt, collector: opts.Collector, names: names,
		faults: backendFaults{poisonedSKU: "sku-" + g.hexID(3), flakyKeys: map[string]bool{}, legacyTraces: map[string]string{}},
	}

	// Sessions per device (at least two devices when there are two
	// sessions, so that both kinds of clock skew exist).
	var perDevice []int
	for rem := sessions; rem > 0; {
		k := min(1+g.intn(3), rem)
		if len(perDevice) == 0 && k == rem && rem > 1 {
			k = rem - 1
		}
		perDevice = append(perDevice, k)
		rem -= k
	}

	// Session designations, by the order sessions are created in.
	des := designate(g, sessions)

	// Device designations.
	nd := len(perDevice)
	late := map[int]bool{}
	for _, i := range g.perm(nd)[:max(1, nd/8)] {
		late[i] = true
	}
	skewed := g.perm(nd)[:min(nd, max(2, nd/5))]
	maxDurDevice, fetchDevice := -1, -1
	for _, i := range g.perm(nd) {
		if perDevice[i] < 2 {
			continue
		}
		if maxDurDevice < 0 {
			maxDurDevice = i
		} else if fetchDevice < 0 {
			fetchDevice = i
		}
	}

	ids := &plannedSessionIDs{g: g, rate: AppSamplingRate, sampledOut: des.sampledOut, ordinalOf: map[string]int{}}
	ordinal := 0
	for i, n := range perDevice {
		d := newDevice(g, i, names)
		switch {
		case slices.Index(skewed, i) == 0:
			d.Truth.ClockTrueOffsetMs = signed(g, g.between(5_000, 40_000))
		case slices.Index(skewed, i) == 1:
			d.Truth.ClockTrueOffsetMs = signed(g, g.between(70_000, 300_000))
		case slices.Contains(skewed, i):
			d.Truth.ClockTrueOffsetMs = signed(g, g.between(5_000, 300_000))
		default:
			d.Truth.ClockTrueOffsetMs = signed(g, g.between(0, 900))
		}
		d.Truth.ClockOffsetAttrMs = -d.Truth.ClockTrueOffsetMs + g.between(-25, 25)
		d.ClockOffset = time.Duration(d.Truth.ClockTrueOffsetMs) * time.Millisecond
		d.Truth.LateUpload = late[i]
		d.Resource = deviceResource(d.Truth, names)

		plans := make([]*sessionPlan, n)
		for k := range plans {
			plans[k] = planSession(g, ordinal+k, des)
		}
		b := &deviceBuilder{
			w: w, g: g, d: d, ids: ids,
			m:            schema.NewSessionMachine(schema.DefaultSessionConfig(), schema.SessionState{}, ids),
			sessions:     map[string]*SessionTruth{},
			maxDuration:  i == maxDurDevice,
			expiredFetch: i == fetchDevice,
		}
		if err := b.build(plans); err != nil {
			return nil, fmt.Errorf("demoworld: planning %s: %w", d.Name, err)
		}
		ordinal += n
		w.Devices = append(w.Devices, d)
		gt.Devices = append(gt.Devices, d.Truth)
	}
	if len(gt.Sessions) != sessions {
		return nil, fmt.Errorf("demoworld: planned %d sessions, want %d", len(gt.Sessions), sessions)
	}
	w.summarizeFaults()
	gt.computeExpectations()
	return w, nil
}

func signed(g *rng, v int64) int64 {
	if g.chance(0.5) {
		return -v
	}
	return v
}

// designations picks which sessions (by creation order) carry which fault.
type designations struct {
	sampledOut                                  map[int]bool
	cascade, retry, stripped, slow, offlineSess map[int]bool
}

func designate(g *rng, n int) designations {
	d := designations{
		sampledOut: map[int]bool{}, cascade: map[int]bool{}, retry: map[int]bool{},
		stripped: map[int]bool{}, slow: map[int]bool{}, offlineSess: map[int]bool{},
	}
	perm := g.perm(n)
	nOut := max(1, n/30)
	if n < 2 {
		nOut = 1
	}
	for _, o := range perm[:min(nOut, n)] {
		d.sampledOut[o] = true
	}
	rest := perm[min(nOut, n-1):]
	next := 0
	take := func(set map[int]bool, k int) {
		for range k {
			set[rest[next%len(rest)]] = true
			next++
		}
	}
	take(d.cascade, max(1, n/20))
	take(d.retry, max(1, n/15))
	take(d.stripped, max(1, n/12))
	take(d.slow, 1)
	take(d.offlineSess, max(1, n/15))
	return d
}

// plannedSessionIDs is the SessionMachine's ID source: seeded random IDs,
// drawn again until the schema's sampling rule gives the designated verdict
// (sampled out for designated sessions, sampled in for all others).
type plannedSessionIDs struct {
	g          *rng
	rate       float64
	sampledOut map[int]bool
	next       int
	ordinalOf  map[string]int
}

func (p *plannedSessionIDs) NextSessionID() (string, error) {
	want := !p.sampledOut[p.next]
	for range 10_000 {
		id := p.g.traceID()
		ok, err := schema.SessionSampled(id, p.rate)
		if err != nil {
			return "", err
		}
		if ok == want {
			p.ordinalOf[id] = p.next
			p.next++
			return id, nil
		}
	}
	return "", fmt.Errorf("no session ID with sampled=%v after 10000 draws", want)
}

func newDevice(g *rng, i int, names naming) *Device {
	m := pick(g, deviceModels)
	t := &DeviceTruth{
		Name:       fmt.Sprintf("device-%03d", i),
		Model:      m.id,
		OSName:     m.osName,
		OSVersion:  pick(g, m.osVersions),
		AppVersion: pick(g, names.appVersions()),
	}
	net := pick(g, m.networks)
	t.Network, t.NetworkSubtype = net.Type, net.Subtype
	inst, err := schema.PseudonymousID(pseudonymKey, "installation/"+g.uuid())
	if err != nil {
		panic(err) // the key is long enough and the input non-empty
	}
	t.InstallationID = inst
	d := &Device{Name: t.Name, Truth: t, userPath: g.uuid()}
	if g.chance(0.75) {
		uid, err := schema.PseudonymousID(pseudonymKey, "user/"+d.userPath)
		if err != nil {
			panic(err)
		}
		t.UserID, t.UserTier = uid, pick(g, userTiers)
	}
	return d
}

func deviceResource(t *DeviceTruth, names naming) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String(schema.AttrServiceName, names.appService()),
		attribute.String(schema.AttrServiceVersion, t.AppVersion),
		attribute.String(schema.AttrOSName, t.OSName),
		attribute.String(schema.AttrOSVersion, t.OSVersion),
		attribute.String(schema.AttrDeviceModelIdentifier, t.Model),
		attribute.String(schema.AttrAppInstallationID, t.InstallationID),
		attribute.String(schema.AttrStitchSchemaVersion, schema.SchemaVersion),
		attribute.String(schema.AttrStitchConsent, "granted"),
		// stitch.sampling.rate is allowed on the resource too, but it is
		// on every span and record already; twice would make VictoriaLogs
		// return the field twice.
	}
}

// planSession decides a session's actions and visits.
func planSession(g *rng, ordinal int, des designations) *sessionPlan {
	sp := &sessionPlan{ordinal: ordinal, targetRequests: int(g.between(8, 12))}
	sp.sampledOut = des.sampledOut[ordinal]
	sp.cascade = des.cascade[ordinal]
	sp.retry = des.retry[ordinal]
	sp.stripped = des.stripped[ordinal]
	sp.slow = des.slow[ordinal]
	sp.offline = des.offlineSess[ordinal]

	var acts []actionPlan
	if sp.sampledOut {
		// Kept despite sampling: one slow request and one error.
		acts = append(acts, actionPlan{name: actSearch, forced: true}, actionPlan{name: actOpenOrder, missing: true, forced: true})
	}
	if sp.cascade {
		acts = append(acts, actionPlan{name: actCheckout, poisoned: true, forced: true})
	}
	if sp.retry {
		acts = append(acts, actionPlan{name: actCheckout, flaky: true, forced: true})
	}
	if sp.stripped {
		acts = append(acts, actionPlan{name: actViewCatalog, legacy: true, forced: true})
	}
	if sp.slow {
		acts = append(acts, actionPlan{name: actSearch, forced: true})
	}
	count := func() int {
		n := 0
		for _, a := range acts {
			n += a.requests()
		}
		return n
	}
	for count() < sp.targetRequests {
		acts = append(acts, randomAction(g))
	}
	shuffled := make([]actionPlan, len(acts))
	for i, j := range g.perm(len(acts)) {
		shuffled[j] = acts[i]
	}
	acts = shuffled

	// One or two visits (foreground periods) per session.
	if len(acts) >= 5 && g.chance(0.45) {
		cut := 2 + g.intn(len(acts)-3)
		sp.visits = [][]actionPlan{acts[:cut], acts[cut:]}
	} else {
		sp.visits = [][]actionPlan{acts}
	}

	if sp.offline {
		// 1-2 extra actions while offline: their requests wait in the queue.
		v := g.intn(len(sp.visits))
		at := g.intn(len(sp.visits[v]) + 1)
		var queued []actionPlan
		for range 1 + g.intn(2) {
			q := actionPlan{name: pick(g, []string{actViewOrders, actRefreshCatalog, actOpenOrder}), queued: true}
			queued = append(queued, q)
		}
		visit := slices.Insert(slices.Clone(sp.visits[v]), at, queued...)
		sp.visits[v] = visit
		sp.offlineVisit, sp.offlineFirst, sp.offlineLast = v, at, at+len(queued)-1
	}
	return sp
}

func randomAction(g *rng) actionPlan {
	total := 0
	for _, a := range randomActions {
		total += a.weight
	}
	n := g.intn(total)
	name := randomActions[0].name
	for _, a := range randomActions {
		if n < a.weight {
			name = a.name
			break
		}
		n -= a.weight
	}
	a := actionPlan{name: name}
	switch name {
	case actViewCatalog:
		a.legacy = g.chance(0.25)
	case actOpenOrder:
		a.missing = g.chance(0.07)
	}
	return a
}

// deviceBuilder turns session plans into a device script, running the
// schema's SessionMachine on the device's virtual clock.
type deviceBuilder struct {
	w        *World
	g        *rng
	d        *Device
	ids      *plannedSessionIDs
	m        *schema.SessionMachine
	sessions map[string]*SessionTruth
	cur      *SessionTruth

	t       int64 // virtual device clock, ms
	alive   bool  // the app's process is running
	offline bool

	maxDuration  bool // the first session ends by max_duration
	expiredFetch bool // a background fetch runs in the expired first session
}

func (b *deviceBuilder) build(plans []*sessionPlan) error {
	stayedForeground := false
	for si, sp := range plans {
		for vi, visit := range sp.visits {
			if !(stayedForeground && vi == 0) {
				relaunched := !b.alive
				if !b.alive {
					if _, err := b.step(StepLaunch, b.pause(30, 80)); err != nil {
						return err
					}
					b.alive = true
					b.t += b.g.between(400, 1500)
				}
				before := ""
				if b.cur != nil {
					before = b.cur.ID
				}
				if _, err := b.step(StepForeground, b.pause(120, 300)); err != nil {
					return err
				}
				if relaunched && vi > 0 && b.cur.ID == before && !slices.Contains(b.w.Truth.Faults.Restarts, before) {
					b.w.Truth.Faults.Restarts = append(b.w.Truth.Faults.Restarts, before)
				}
			}
			stayedForeground = false
			for ai, ap := range visit {
				if sp.offline && vi == sp.offlineVisit && ai == sp.offlineFirst {
					b.offline = true
					if _, err := b.step(StepOffline, b.pause(20, 40)); err != nil {
						return err
					}
				}
				b.t += b.g.between(4_000, 45_000)
				if err := b.action(sp, ap, b.pause(60, 220), false); err != nil {
					return err
				}
				if sp.offline && vi == sp.offlineVisit && ai == sp.offlineLast {
					b.t += b.g.between(2_000, 20_000)
					b.offline = false
					if _, err := b.step(StepOnline, b.pause(400, 900)); err != nil {
						return err
					}
				}
			}
			lastVisit := vi == len(sp.visits)-1
			lastSession := si == len(plans)-1
			if lastVisit && !lastSession && si == 0 && b.maxDuration {
				// The app stays in the foreground past the session's
				// maximum duration; the next tick rotates.
				b.t += schema.DefaultSessionConfig().MaxDurationMs + b.g.between(60_000, 480_000)
				stayedForeground = true
				continue
			}
			end := StepBackground
			switch n := b.g.intn(100); {
			case lastVisit && !lastSession && si == 0 && b.expiredFetch:
			case n < 12:
				end = StepTerminate
			case n < 30:
				end = StepCrash
			}
			if _, err := b.step(end, b.pause(40, 100)); err != nil {
				return err
			}
			if end != StepBackground {
				b.alive = false
			}
			switch {
			case !lastVisit:
				b.t += b.g.between(60_000, 540_000) // inside the 15 min window
			case lastSession:
			case si == 0 && b.expiredFetch:
				// Background refresh after the session expired: it still
				// carries the old session; the next foreground rotates.
				b.t += b.g.between(20*60_000, 40*60_000)
				if err := b.action(sp, actionPlan{name: actBackgroundFetch}, b.pause(100, 200), true); err != nil {
					return err
				}
				b.t += b.g.between(2*60_000, 8*60_000)
			default:
				gap := b.g.between(16*60_000, 150*60_000)
				b.t += gap
				if gap > 30*60_000 {
					b.alive = false // the system reclaimed the suspended app
				}
			}
		}
	}
	return nil
}

func (b *deviceBuilder) pause(loMs, hiMs int64) time.Duration {
	return time.Duration(b.g.between(loMs, hiMs)) * time.Millisecond
}

func (b *deviceBuilder) network() Network {
	if b.offline {
		return unavailable
	}
	return Network{b.d.Truth.Network, b.d.Truth.NetworkSubtype}
}

// step applies one step to the SessionMachine and records its logs.
func (b *deviceBuilder) step(kind StepKind, pause time.Duration) (*Step, error) {
	st := &Step{Kind: kind, VirtualMs: b.t, Pause: pause}
	if ev, ok := machineEvent[kind]; ok {
		res, err := b.m.Apply(schema.LifecycleEvent{Kind: ev, AtMs: b.t})
		if err != nil {
			return nil, err
		}
		if res.NewSession {
			b.rotate(st, res)
		}
		st.SessionID = res.SessionID
	} else if b.cur != nil {
		st.SessionID = b.cur.ID
	}
	if b.cur != nil && b.cur.ID == st.SessionID {
		b.cur.VirtualEndMs = b.t
	}
	state := map[StepKind]string{StepForeground: "foreground", StepBackground: "background", StepTerminate: "terminate"}[kind]
	if state != "" && st.SessionID != "" {
		st.Logs = append(st.Logs, b.deviceLog(st.SessionID, schema.EventDeviceAppLifecycle, schema.EventDeviceAppLifecycle, log.SeverityInfo, "",
			[]attribute.KeyValue{attribute.String(schema.AttrIOSAppState, state)}, false, state))
	}
	b.d.Steps = append(b.d.Steps, st)
	return st, nil
}

// rotate records a new session (and the end of the old one).
func (b *deviceBuilder) rotate(st *Step, res schema.SessionStep) {
	gt := b.w.Truth
	if res.EndedID != "" {
		old := b.sessions[res.EndedID]
		old.Ended, old.EndReason, old.VirtualEndMs = true, string(res.Reason), b.t
		st.Logs = append(st.Logs, b.deviceLog(old.ID, schema.EventSessionEnd, schema.EventSessionEnd, log.SeverityInfo, "", nil, false, ""))
	}
	t := b.d.Truth
	ok, _ := schema.SessionSampled(res.SessionID, AppSamplingRate)
	s := &SessionTruth{
		ID: res.SessionID, PreviousID: res.PreviousID, Device: t.Name,
		AppVersion: t.AppVersion, OSName: t.OSName, OSVersion: t.OSVersion, DeviceModel: t.Model,
		Network: t.Network, StartReason: string(res.Reason), Sampled: ok, SampleRate: AppSamplingRate,
		VirtualStartMs: b.t, VirtualEndMs: b.t,
	}
	b.sessions[s.ID] = s
	b.cur = s
	gt.Sessions = append(gt.Sessions, s)
	t.Sessions = append(t.Sessions, s.ID)
	attrs := []attribute.KeyValue{attribute.String(schema.AttrStitchSessionStartReason, string(res.Reason))}
	if res.PreviousID != "" {
		attrs = append([]attribute.KeyValue{attribute.String(schema.AttrSessionPreviousID, res.PreviousID)}, attrs...)
	}
	st.Logs = append(st.Logs, b.deviceLog(s.ID, schema.EventSessionStart, schema.EventSessionStart, log.SeverityInfo, "", attrs, false, ""))
}

// sample applies the schema's sampling rule.
func sample(sessionID string, hasError bool, durationMs int64) schema.SampleResult {
	res, err := schema.Sample(schema.SampleInput{
		SessionID: sessionID, Rate: AppSamplingRate, HasError: hasError,
		DurationMs: durationMs, ThresholdMs: schema.Default().Rules.Sampling.DefaultLatencyThresholdMs,
	})
	if err != nil {
		panic(err) // planned session IDs are valid and the rate is in range
	}
	return res
}

func samplingAttrs(res schema.SampleResult) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String(schema.AttrStitchSamplingDecision, string(res.Decision)),
		attribute.String(schema.AttrStitchSamplingReason, string(res.Reason)),
		attribute.Float64(schema.AttrStitchSamplingRate, AppSamplingRate),
	}
}

// common are the attributes on every device span and log record.
func (b *deviceBuilder) common(sessionID string, net Network) []attribute.KeyValue {
	t := b.d.Truth
	attrs := []attribute.KeyValue{
		attribute.String(schema.AttrSessionID, sessionID),
		attribute.String(schema.AttrNetworkConnectionType, net.Type),
	}
	if net.Subtype != "" {
		attrs = append(attrs, attribute.String(schema.AttrNetworkConnectionSubtype, net.Subtype))
	}
	if t.UserID != "" {
		attrs = append(attrs, attribute.String(schema.AttrUserID, t.UserID), attribute.String(schema.AttrStitchUserTier, t.UserTier))
	}
	return append(attrs, attribute.Int64(schema.AttrStitchClockOffsetMs, t.ClockOffsetAttrMs))
}

func (b *deviceBuilder) deviceLog(sessionID, event, body string, sev log.Severity, traceID string, extra []attribute.KeyValue, hasError bool, state string) *LogRecord {
	res := sample(sessionID, hasError, 0)
	attrs := append(b.common(sessionID, b.network()), extra...)
	attrs = append(attrs, samplingAttrs(res)...)
	tr := &DeviceLogTruth{
		Device: b.d.Name, SessionID: sessionID, Event: event, Body: body, Severity: severityText(sev),
		AppState: state, TraceID: traceID, Exported: res.Keep(), SamplingReason: string(res.Reason),
	}
	b.w.Truth.DeviceLogs = append(b.w.Truth.DeviceLogs, tr)
	return &LogRecord{Truth: tr, Event: event, Body: body, Severity: sev, Attrs: attrs}
}

func severityText(s log.Severity) string {
	switch {
	case s >= log.SeverityError:
		return sevError
	case s >= log.SeverityWarn:
		return sevWarn
	}
	return sevInfo
}

// requestSpec is one request an action makes.
type requestSpec struct {
	ep      endpoint
	orderID int
	poison  bool
	flaky   bool
}

// action plans one action step with its requests.
func (b *deviceBuilder) action(sp *sessionPlan, ap actionPlan, pause time.Duration, background bool) error {
	kind := StepAction
	if background {
		kind = StepBackgroundFetch
	}
	st, err := b.step(kind, pause)
	if err != nil {
		return err
	}
	sid := st.SessionID
	if got := b.ids.ordinalOf[sid]; got != sp.ordinal {
		return fmt.Errorf("action %s ran in session #%d, planned in #%d: the session rules rotated where the plan did not expect it", ap.name, got, sp.ordinal)
	}
	sess := b.sessions[sid]
	g := b.g
	at := &ActionTruth{
		ID: g.spanID(), Name: ap.name, Screen: actionScreen[ap.name], SessionID: sid, Device: b.d.Name,
		TraceID: g.traceID(), SpanID: g.spanID(), Queued: ap.queued,
	}
	a := &Action{Truth: at}
	st.Action = a

	var specs []requestSpec
	switch ap.name {
	case actViewCatalog, actRefreshCatalog:
		specs = append(specs, requestSpec{ep: epCatalog})
		if ap.legacy {
			specs = append(specs, requestSpec{ep: epPromotions})
		}
	case actSearch:
		specs = append(specs, requestSpec{ep: epSearch})
	case actViewOrders, actBackgroundFetch:
		specs = append(specs, requestSpec{ep: epUserOrders})
	case actOpenOrder:
		id := int(g.between(10_000, missingOrderFrom-1))
		if ap.missing {
			id = int(g.between(missingOrderFrom, 999_999))
		}
		specs = append(specs, requestSpec{ep: epOrder, orderID: id})
	case actCheckout:
		specs = append(specs, requestSpec{ep: epCheckout, poison: ap.poisoned})
		if !ap.poisoned {
			specs = append(specs, requestSpec{ep: epPayment, flaky: ap.flaky})
		}
	}

	failed, errType := false, ""
	var durMs int64
	for _, rs := range specs {
		r, err := b.request(sess, a, rs, ap)
		if err != nil {
			return err
		}
		a.Requests = append(a.Requests, r)
		sess.Requests++
		if ap.queued {
			continue
		}
		for _, att := range r.Attempts {
			durMs += att.Truth.PlannedServerMs + clientOverheadMs + att.Backoff.Milliseconds()
		}
		if r.Truth.Outcome == "error" {
			failed, errType = true, r.Attempts[len(r.Attempts)-1].Truth.ErrorType
		}
	}
	if b.w.collector && !sess.Sampled {
		tailSample(a, b.w.Truth.App.LatencyThresholdMs)
	}
	sess.Actions++
	res := sample(sid, failed, durMs)
	at.Error, at.Exported, at.SamplingReason = failed, res.Keep(), string(res.Reason)
	attrs := b.common(sid, b.network())
	if at.Screen != "" {
		attrs = append(attrs, attribute.String(schema.AttrAppScreenName, at.Screen))
	}
	attrs = append(attrs, attribute.String(schema.AttrStitchActionName, at.Name), attribute.String(schema.AttrStitchActionID, at.ID))
	a.Attrs = append(attrs, samplingAttrs(res)...)
	b.w.Truth.Actions = append(b.w.Truth.Actions, at)

	if failed {
		extra := []attribute.KeyValue{}
		if at.Screen != "" {
			extra = append(extra, attribute.String(schema.AttrAppScreenName, at.Screen))
		}
		extra = append(extra,
			attribute.String(schema.AttrStitchActionName, at.Name),
			attribute.String(schema.AttrStitchActionID, at.ID),
			attribute.String(schema.AttrErrorType, errType))
		a.ErrorLog = b.deviceLog(sid, "", "error alert shown", log.SeverityError, at.TraceID, extra, true, "")
	}
	return nil
}

// tailSample applies the collector's decision to an action of a sampled-out
// session: its trace (the action's trace, which every propagated attempt
// continues) is kept when one of its backend spans is an error (an answer
// of 400 or more anywhere on the path) or slow; otherwise what the backends
// recorded is dropped. The device's own spans are not decided here: the
// device exports only spans its rule keeps (errors, slow ones), and each of
// them is kept by the collector on its own.
func tailSample(a *Action, thresholdMs int64) {
	kept := false
	for _, r := range a.Requests {
		for _, at := range r.Truth.Attempts {
			if at.Propagation != PropagationPropagated {
				continue
			}
			if at.PlannedServerMs >= thresholdMs {
				kept = true
			}
			for _, sv := range at.Served {
				if sv.Status >= 400 {
					kept = true
				}
			}
		}
	}
	for _, r := range a.Requests {
		for _, at := range r.Truth.Attempts {
			if at.Propagation != PropagationPropagated {
				continue
			}
			if kept {
				at.TailSampling = TailKept
				continue
			}
			at.TailSampling = TailDropped
			at.DroppedSpans = at.BackendSpans
			at.BackendSpans = nil
			at.BackendTraceID = ""
			at.Propagation = PropagationSampledOut
			at.NoBackendTrace = PropagationSampledOut
		}
	}
}

// request plans one request and its attempts.
func (b *deviceBuilder) request(sess *SessionTruth, a *Action, rs requestSpec, ap actionPlan) (*Request, error) {
	g := b.g
	spec := endpoints[rs.ep]
	spec.host = b.w.names.host(spec.host)
	id := g.hexID(8)
	var target, body string
	switch rs.ep {
	case epCatalog:
		target = "/v1/catalog/items?page=" + strconv.Itoa(1+g.intn(4))
	case epSearch:
		target = "/v1/search?q=" + pick(g, searchTerms)
	case epOrder:
		target = "/v1/orders/" + strconv.Itoa(rs.orderID)
	case epUserOrders:
		target = "/v1/users/" + b.d.userPath + "/orders?limit=20"
	case epCheckout:
		target = "/v1/checkout"
		sku := fmt.Sprintf("sku-%06d", g.between(1, 99_999))
		if rs.poison {
			sku = b.w.faults.poisonedSKU
		}
		body = `{"sku":"` + sku + `","quantity":1}`
	case epPayment:
		target = "/v1/payments"
		body = `{"order_ref":"` + g.hexID(6) + `","amount_cents":` + strconv.FormatInt(g.between(499, 25_999), 10) + `}`
	case epPromotions:
		target = "/catalog/v1/promotions?region=eu"
	}
	tmpl, err := schema.TemplateURL("https://" + spec.host + target)
	if err != nil {
		return nil, err
	}
	if tmpl.Template != spec.template || tmpl.ServerAddress != spec.host {
		return nil, fmt.Errorf("%s templates to %s %s, want %s %s", target, tmpl.ServerAddress, tmpl.Template, spec.host, spec.template)
	}
	at := a.Truth
	rt := &RequestTruth{
		ID: id, SessionID: sess.ID, ActionID: at.ID, Device: b.d.Name,
		Method: spec.method, URLTemplate: spec.template, ServerAddress: spec.host,
		Endpoint: spec.method + " " + spec.host + spec.template, TraceID: at.TraceID, Queued: ap.queued,
	}
	r := &Request{Truth: rt, ep: rs.ep, Method: spec.method, Host: spec.host, Target: target, Body: body, SpanName: spec.method + " " + spec.template}

	net := b.network()
	if ap.queued {
		net = Network{b.d.Truth.Network, b.d.Truth.NetworkSubtype} // sent once back online
	}
	attempts := 1
	if rs.flaky {
		attempts = 2
		b.w.faults.flakyKeys[id] = true
	}
	for i := range attempts {
		in := backendInput{ep: rs.ep, traceID: at.TraceID, orderID: rs.orderID, poisoned: rs.poison, failing: rs.flaky && i == 0}
		tr := &AttemptTruth{ClientSpanID: g.spanID(), ResendCount: i}
		switch {
		case rs.ep == epPromotions: // the legacy host's only endpoint
			tr.Propagation = PropagationStripped
			tr.BackendTraceID = g.traceID()
			in.traceID = tr.BackendTraceID
			b.w.faults.legacyTraces[id] = tr.BackendTraceID
		case !sess.Sampled && !b.w.collector:
			tr.Propagation = PropagationSampledOut
			tr.NoBackendTrace = PropagationSampledOut
		default:
			// Through the collector the backends record a sampled-out
			// session too; action() decides what tail sampling keeps.
			tr.Propagation = PropagationPropagated
			tr.BackendTraceID = at.TraceID
		}
		o := outcomeFor(in)
		tr.Status, tr.ErrorType = o.status, errorTypeFor(o.status)
		tr.Served, tr.PlannedServerMs = o.served, o.serverMs
		if tr.Propagation != PropagationSampledOut {
			tr.BackendSpans = o.spans
			tr.BackendLogs = len(o.logs)
			for _, l := range o.logs {
				if !sess.Sampled && l.severity != sevError && tr.Propagation == PropagationPropagated {
					// The collector keeps a sampled-out session's records
					// only when they are errors.
					tr.BackendLogs--
					tr.DroppedLogs++
					continue
				}
				bl := &BackendLogTruth{Service: l.service, Severity: l.severity, Body: l.body, TraceID: tr.BackendTraceID, RequestID: id, Attempt: i}
				if tr.Propagation == PropagationPropagated {
					bl.SessionID = sess.ID
				}
				b.w.Truth.BackendLogs = append(b.w.Truth.BackendLogs, bl)
			}
		}
		res := sample(sess.ID, o.status >= 400, o.serverMs+clientOverheadMs)
		tr.Exported, tr.SamplingReason = res.Keep(), string(res.Reason)

		attrs := b.common(sess.ID, net)
		attrs = append(attrs,
			attribute.String(schema.AttrHTTPRequestMethod, spec.method),
			attribute.String(schema.AttrURLTemplate, spec.template),
			attribute.String(schema.AttrServerAddress, spec.host),
			attribute.Int(schema.AttrHTTPResponseStatusCode, o.status))
		if tr.ErrorType != "" {
			attrs = append(attrs, attribute.String(schema.AttrErrorType, tr.ErrorType))
		}
		if i > 0 {
			attrs = append(attrs, attribute.Int(schema.AttrHTTPRequestResendCount, i))
		}
		if ap.queued {
			// Placeholder of the right type; the executor measures the delay.
			attrs = append(attrs, attribute.Int64(schema.AttrStitchRequestQueueDelayMs, 1))
		}
		if at.Screen != "" {
			attrs = append(attrs, attribute.String(schema.AttrAppScreenName, at.Screen))
		}
		attrs = append(attrs, attribute.String(schema.AttrStitchActionName, at.Name), attribute.String(schema.AttrStitchActionID, at.ID))
		attrs = append(attrs, samplingAttrs(res)...)
		att := &Attempt{Truth: tr, Attrs: attrs}
		if i > 0 {
			att.Backoff = b.pause(150, 250)
		}
		r.Attempts = append(r.Attempts, att)
		rt.Attempts = append(rt.Attempts, tr)
	}
	last := rt.Attempts[len(rt.Attempts)-1]
	rt.Status = last.Status
	rt.Outcome = "ok"
	if last.Status >= 400 {
		rt.Outcome = "error"
	}
	if rs.poison {
		rt.Faults = append(rt.Faults, "cascade")
	}
	if rs.flaky {
		rt.Faults = append(rt.Faults, "retry")
	}
	if rs.ep == epSearch {
		rt.Faults = append(rt.Faults, "slow_endpoint")
	}
	if rs.ep == epPromotions {
		rt.Faults = append(rt.Faults, "stripped")
	}
	if ap.queued {
		rt.Faults = append(rt.Faults, "offline_queue")
	}
	if !sess.Sampled {
		rt.Faults = append(rt.Faults, "sampled_out")
	}
	if rs.ep == epOrder && rs.orderID >= missingOrderFrom {
		rt.Faults = append(rt.Faults, "not_found")
	}
	if ap.name == actBackgroundFetch {
		rt.Faults = append(rt.Faults, "expired_session_fetch")
	}
	b.w.Truth.Requests = append(b.w.Truth.Requests, rt)
	return r, nil
}

// summarizeFaults fills the ground truth's fault and break lists.
func (w *World) summarizeFaults() {
	gt := w.Truth
	f := &gt.Faults
	f.SlowEndpoint = SlowEndpointFault{
		Endpoint:       http.MethodGet + " " + w.names.host(hostAPI) + endpoints[epSearch].template,
		BackendService: svcInventory, BackendRoute: "GET /search",
		MinDelayMs: slowSearchMinMs, MaxDelayMs: slowSearchMinMs + slowSearchJitterMs - 1,
	}
	f.Cascade = CascadeFault{
		SKU: w.faults.poisonedSKU,
		Chain: []string{
			"inventory: POST /reservations waits on a row lock for sku " + w.faults.poisonedSKU,
			"orders: gives up after " + ordersInventoryTimeout.String() + " and answers 500",
			"gateway: answers 502",
			"app: the action fails and shows an error (error.type 502)",
		},
	}
	f.Retries = RetryFault{Service: svcPayments, Status: http.StatusServiceUnavailable}
	f.StrippingHost = StrippingHostFault{ServerAddress: w.names.host(hostLegacy), Service: svcLegacy}
	f.SampledOut = SampledOutFault{Rate: AppSamplingRate}
	f.Rotations = map[string]int{}
	byID := map[string]*SessionTruth{}
	for _, s := range gt.Sessions {
		byID[s.ID] = s
		f.Rotations[s.StartReason]++
		if !s.Sampled {
			f.SampledOut.Sessions = append(f.SampledOut.Sessions, s.ID)
			s.Faults = append(s.Faults, "sampled_out")
		}
	}
	for _, d := range gt.Devices {
		if abs(d.ClockTrueOffsetMs) >= 5_000 {
			f.ClockSkew = append(f.ClockSkew, ClockSkewFault{Device: d.Name, ClockTrueOffsetMs: d.ClockTrueOffsetMs})
		}
		if d.LateUpload {
			f.LateUpload = append(f.LateUpload, d.Name)
		}
	}
	for _, a := range gt.Actions {
		if a.Exported && !byID[a.SessionID].Sampled {
			f.SampledOut.KeptSpans = append(f.SampledOut.KeptSpans, a.SpanID)
		}
	}
	for _, r := range gt.Requests {
		for i, a := range r.Attempts {
			if a.Exported && !byID[r.SessionID].Sampled {
				f.SampledOut.KeptSpans = append(f.SampledOut.KeptSpans, a.ClientSpanID)
			}
			if a.Propagation != PropagationPropagated {
				gt.PropagationBreaks = append(gt.PropagationBreaks, BreakTruth{
					RequestID: r.ID, Attempt: i, ClientTraceID: r.TraceID, BackendTraceID: a.BackendTraceID, Reason: a.Propagation,
				})
			}
		}
		for _, tag := range r.Faults {
			switch tag {
			case "cascade":
				f.Cascade.Requests = append(f.Cascade.Requests, r.ID)
				if !slices.Contains(f.Cascade.Sessions, r.SessionID) {
					f.Cascade.Sessions = append(f.Cascade.Sessions, r.SessionID)
				}
			case "retry":
				f.Retries.Requests = append(f.Retries.Requests, r.ID)
			case "slow_endpoint":
				f.SlowEndpoint.Requests = append(f.SlowEndpoint.Requests, r.ID)
			case "stripped":
				f.StrippingHost.Requests = append(f.StrippingHost.Requests, r.ID)
			case "offline_queue":
				f.OfflineQueue = append(f.OfflineQueue, r.ID)
			case "not_found":
				f.NotFound = append(f.NotFound, r.ID)
			case "expired_session_fetch":
				f.ExpiredFetch = append(f.ExpiredFetch, r.ID)
			}
		}
	}
	for _, r := range gt.Requests {
		s := byID[r.SessionID]
		for _, tag := range r.Faults {
			if !slices.Contains(s.Faults, tag) {
				s.Faults = append(s.Faults, tag)
			}
		}
	}
	for _, s := range gt.Sessions {
		slices.Sort(s.Faults)
	}
	// Empty lists are written as [], never null.
	for _, l := range []*[]string{
		&f.SlowEndpoint.Requests, &f.Cascade.Sessions, &f.Cascade.Requests, &f.Retries.Requests,
		&f.StrippingHost.Requests, &f.LateUpload, &f.SampledOut.Sessions, &f.SampledOut.KeptSpans,
		&f.OfflineQueue, &f.NotFound, &f.Restarts, &f.ExpiredFetch,
	} {
		if *l == nil {
			*l = []string{}
		}
	}
	if f.ClockSkew == nil {
		f.ClockSkew = []ClockSkewFault{}
	}
	if gt.PropagationBreaks == nil {
		gt.PropagationBreaks = []BreakTruth{}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// GroundTruth returns a copy of the planned ground truth.
func (w *World) GroundTruth() *GroundTruth { return w.Truth.clone() }

// EmittedAttribute is one attribute the world emits, with where.
type EmittedAttribute struct {
	Where string
	KV    attribute.KeyValue
}

// EmittedAttributes lists every planned attribute of every device resource,
// span and log record (backend spans are the services' own).
func (w *World) EmittedAttributes() []EmittedAttribute {
	var out []EmittedAttribute
	add := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			out = append(out, EmittedAttribute{where, kv})
		}
	}
	for _, d := range w.Devices {
		add(d.Name+" resource", d.Resource)
		for _, st := range d.Steps {
			for _, l := range st.Logs {
				add(d.Name+" log "+l.Body, l.Attrs)
			}
			if a := st.Action; a != nil {
				add(d.Name+" action "+a.Truth.Name, a.Attrs)
				if a.ErrorLog != nil {
					add(d.Name+" log "+a.ErrorLog.Body, a.ErrorLog.Attrs)
				}
				for _, r := range a.Requests {
					for _, at := range r.Attempts {
						add(d.Name+" client span "+r.SpanName, at.Attrs)
					}
				}
			}
		}
	}
	return out
}
