package scaleworld

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Config chooses a scale world.
type Config struct {
	// Sessions is the number of app sessions (N).
	Sessions int
	// Seed decides the world's shape: devices, timings, endpoints, failures.
	Seed int64
	// Window is how long the sessions are spread over (default 1h).
	Window time.Duration
	// End is the end of the window (default: a minute before now).
	End time.Time
	// App is the app's service.name (default DefaultApp); the backend
	// services are named "<app>-<role>".
	App string
	// RunID tells one load from another: it is mixed into every ID (so the
	// same seed loaded twice gives distinct session, trace and span IDs)
	// and sent as service.instance.id. Default: random.
	RunID string
}

// DefaultWindow is Config.Window's default.
const DefaultWindow = time.Hour

// MaxSessions bounds Config.Sessions.
const MaxSessions = 1_000_000

// World is a planned scale world: every session, request, span and log
// record, decided before anything is sent.
type World struct {
	App         string
	RunID       string
	Seed        int64
	WindowStart time.Time
	WindowEnd   time.Time
	Services    []string
	Endpoints   []Endpoint
	Sessions    []*Session
	// devices are the distinct device resources (version, os, model).
	devices []device
}

type device struct{ version, osVersion, model string }

// Session is one app session on one device.
type Session struct {
	ID          string
	Version     string
	OSVersion   string
	Model       string
	Network     string
	StartReason string
	Start       time.Time
	// End is the session.end record's time when HasEnd, else the time of
	// the session's last record.
	End       time.Time
	HasEnd    bool
	Lifecycle []Lifecycle
	Requests  []*Request
	device    int
}

// Lifecycle is one device.app.lifecycle record.
type Lifecycle struct {
	At    time.Time
	State string
}

// Request is one app request: a trace with the device's client span and,
// unless the connection was lost, the backend's server span and children.
type Request struct {
	Endpoint     int
	TraceID      pcommon.TraceID
	ClientSpanID pcommon.SpanID
	ServerSpanID pcommon.SpanID
	Start        time.Time
	Client       time.Duration
	// ServerOffset is when the server span starts after the client span.
	ServerOffset time.Duration
	Server       time.Duration
	HasServer    bool
	// Status is the HTTP status the client got (0: no response).
	Status int
	// ServerStatus is the status the server answered with.
	ServerStatus int
	Failure      string
	ErrorType    string
	Children     []Child
}

// Child is a backend span under the server span.
type Child struct {
	SpanID   pcommon.SpanID
	Name     string
	Internal bool
	Offset   time.Duration
	Duration time.Duration
}

// Failed is the schema's error rule for the client span
// (correlation.IsErrorRequest): error status, error.type, or status >= 500.
func (r *Request) Failed() bool { return r.Failure != FailureNone }

// ServerFailed reports whether the server span is an error.
func (r *Request) ServerFailed() bool { return r.HasServer && r.ServerStatus >= 500 }

// ClientEnd is when the client span ends.
func (r *Request) ClientEnd() time.Time { return r.Start.Add(r.Client) }

// ServerStart is when the server span starts.
func (r *Request) ServerStart() time.Time { return r.Start.Add(r.ServerOffset) }

// ServerEnd is when the server span ends.
func (r *Request) ServerEnd() time.Time { return r.ServerStart().Add(r.Server) }

// HasError reports whether one of the session's requests failed.
func (s *Session) HasError() bool {
	for _, r := range s.Requests {
		if r.Failed() {
			return true
		}
	}
	return false
}

func (c Config) resolved() (Config, error) {
	if c.Sessions <= 0 || c.Sessions > MaxSessions {
		return c, fmt.Errorf("scaleworld: sessions must be in [1, %d], got %d", MaxSessions, c.Sessions)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Window < time.Minute {
		return c, errors.New("scaleworld: the window must be at least a minute")
	}
	if c.End.IsZero() {
		c.End = time.Now().Add(-time.Minute)
	}
	c.End = c.End.Truncate(time.Millisecond).UTC()
	if c.App == "" {
		c.App = DefaultApp
	}
	if err := checkApp(c.App); err != nil {
		return c, err
	}
	if c.RunID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return c, err
		}
		c.RunID = hex.EncodeToString(b[:])
	}
	if !serviceNameRE.MatchString(c.RunID) || len(c.RunID) > 64 {
		return c, fmt.Errorf("scaleworld: run ID %q: letters, digits, '.', '_', '-' only", c.RunID)
	}
	return c, nil
}

// Plan decides a world. It is a pure function of the (resolved) config: the
// same Seed, End, Window, App and RunID give the same world; the same Seed
// with another RunID gives the same shape with other IDs.
func Plan(cfg Config) (*World, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	p := &planner{
		// #nosec G115 G404 -- a seeded, reproducible generator is the point.
		shape: mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x5343_414c_4557_0001)),
		ids:   idSource(cfg),
		win:   cfg.Window,
	}
	w := &World{
		App: cfg.App, RunID: cfg.RunID, Seed: cfg.Seed,
		WindowStart: cfg.End.Add(-cfg.Window), WindowEnd: cfg.End,
		Services: BackendServices(cfg.App), Endpoints: endpointsFor(cfg.App),
	}
	p.cumWeights = cumulative(endpointSpecs)
	devIndex := map[device]int{}
	w.Sessions = make([]*Session, cfg.Sessions)
	for i := range w.Sessions {
		s := p.session(w)
		d := device{s.Version, s.OSVersion, s.Model}
		idx, ok := devIndex[d]
		if !ok {
			idx = len(w.devices)
			devIndex[d] = idx
			w.devices = append(w.devices, d)
		}
		s.device = idx
		w.Sessions[i] = s
	}
	return w, nil
}

// idSource is the generator of IDs: seeded from the seed, the run ID and
// the app, so IDs are reproducible for one run and distinct across runs.
func idSource(cfg Config) *mrand.Rand {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(cfg.Seed)) // #nosec G115 -- bits as they are
	h.Write(b[:])
	h.Write([]byte("\x00" + cfg.RunID + "\x00" + cfg.App))
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return mrand.New(mrand.NewChaCha8(seed)) // #nosec G404 -- reproducible on purpose
}

type planner struct {
	shape      *mrand.Rand
	ids        *mrand.Rand
	win        time.Duration
	cumWeights []int
}

func cumulative(specs []endpointSpec) []int {
	out := make([]int, len(specs))
	sum := 0
	for i, s := range specs {
		sum += s.weight
		out[i] = sum
	}
	return out
}

func (p *planner) pickWeighted(xs []weighted) string {
	total := 0
	for _, x := range xs {
		total += x.w
	}
	n := p.shape.IntN(total)
	for _, x := range xs {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return xs[len(xs)-1].v
}

func (p *planner) endpoint() int {
	n := p.shape.IntN(p.cumWeights[len(p.cumWeights)-1])
	for i, c := range p.cumWeights {
		if n < c {
			return i
		}
	}
	return len(p.cumWeights) - 1
}

func (p *planner) chance(x float64) bool { return p.shape.Float64() < x }

// uniformMs is a duration uniformly in [lo, hi] ms, at µs resolution.
func (p *planner) uniformMs(lo, hi float64) time.Duration {
	return msToDur(lo + p.shape.Float64()*(hi-lo))
}

// lognormalMs draws a lognormal duration with the given median and sigma,
// clipped to [lo, hi] ms, at µs resolution.
func (p *planner) lognormalMs(median, sigma, lo, hi float64) time.Duration {
	v := median * math.Exp(sigma*p.shape.NormFloat64())
	return msToDur(min(max(v, lo), hi))
}

// expMs draws an exponential duration with the given mean, clipped.
func (p *planner) expMs(mean, lo, hi float64) time.Duration {
	return msToDur(min(max(p.shape.ExpFloat64()*mean, lo), hi))
}

func msToDur(ms float64) time.Duration {
	return time.Duration(math.Round(ms*1000)) * time.Microsecond
}

func (p *planner) hexID(n int) []byte {
	b := make([]byte, n)
	for {
		for i := 0; i < n; i += 8 {
			binary.BigEndian.PutUint64(b[i:], p.ids.Uint64())
		}
		for _, c := range b {
			if c != 0 {
				return b
			}
		}
	}
}

func (p *planner) traceID() (t pcommon.TraceID) { copy(t[:], p.hexID(16)); return t }
func (p *planner) spanID() (s pcommon.SpanID)   { copy(s[:], p.hexID(8)); return s }

// requestCount is 1..20, skewed towards a few (median 4).
func (p *planner) requestCount() int {
	n := int(math.Round(math.Exp(math.Log(4) + 0.8*p.shape.NormFloat64())))
	return min(max(n, 1), 20)
}

// rtt is the network's share of a request, by connection type.
func (p *planner) rtt(network string) time.Duration {
	switch network {
	case "wifi":
		return p.lognormalMs(35, 0.5, 6, 1500)
	case "cell":
		return p.lognormalMs(110, 0.6, 6, 1500)
	default:
		return p.lognormalMs(70, 0.7, 6, 1500)
	}
}

// Shares of sessions and failures.
const (
	troubledShare = 0.24 // sessions with at least one failed request
	endShare      = 0.88 // sessions that record session.end
	backgroundMid = 0.25 // sessions that go to the background in the middle
	failServer    = 0.60
	failTimeout   = 0.25
)

var childWeights = []weighted{{"0", 20}, {"1", 35}, {"2", 30}, {"3", 15}}

func (p *planner) session(w *World) *Session {
	s := &Session{
		Version:     p.pickWeighted(appVersions),
		OSVersion:   p.pickWeighted(osVersions),
		Model:       p.pickWeighted(models),
		Network:     p.pickWeighted(networks),
		StartReason: p.pickWeighted(startReasons),
	}
	s.ID = hex.EncodeToString(p.hexID(16)) // never all zero
	n := p.requestCount()
	failing := map[int]bool{}
	if p.chance(troubledShare) {
		k := 1
		if n > 1 && p.chance(0.3) {
			k = 2
		}
		for len(failing) < k {
			failing[p.shape.IntN(n)] = true
		}
	}
	// Offsets from the session's start; shifted into the window below.
	type lc struct {
		at    time.Duration
		state string
	}
	var life []lc
	life = append(life, lc{p.uniformMs(3, 15), "foreground"})
	life = append(life, lc{life[0].at + p.uniformMs(15, 80), "active"})
	cursor := life[1].at + p.uniformMs(250, 1800)
	midBackground := -1
	if n > 1 && p.chance(backgroundMid) {
		midBackground = 1 + p.shape.IntN(n-1)
	}
	type planned struct {
		r   *Request
		off time.Duration
	}
	reqs := make([]planned, n)
	for i := range n {
		if i > 0 {
			cursor += p.expMs(18000, 300, 120000)
		}
		if i == midBackground {
			life = append(life, lc{cursor, "inactive"}, lc{cursor + p.uniformMs(100, 600), "background"})
			cursor += p.uniformMs(20_000, 720_000)
			life = append(life, lc{cursor, "foreground"}, lc{cursor + p.uniformMs(15, 80), "active"})
			cursor += p.uniformMs(200, 2000)
		}
		r := p.request(s.Network, failing[i])
		reqs[i] = planned{r, cursor}
		cursor += r.Client + p.uniformMs(5, 400)
	}
	cursor += p.uniformMs(1000, 30000)
	life = append(life, lc{cursor, "inactive"}, lc{cursor + p.uniformMs(100, 600), "background"})
	last := life[len(life)-1].at
	s.HasEnd = p.chance(endShare)
	endOff := last
	if s.HasEnd {
		endOff = last + p.uniformMs(50, 2000)
	} else if p.chance(0.5) {
		life = append(life, lc{last + p.uniformMs(200, 5000), "terminate"})
		endOff = life[len(life)-1].at
	}
	// Requests' backend spans may outlive the client span (a timeout):
	// keep everything inside the session's extent.
	for _, pr := range reqs {
		if e := pr.off + pr.r.ServerOffset + pr.r.Server; pr.r.HasServer && e > endOff {
			endOff = e
		}
	}
	// Fit the session into the window (leaving a second at each end).
	room := w.WindowEnd.Sub(w.WindowStart) - 2*time.Second
	scale := 1.0
	if endOff > room*9/10 {
		scale = float64(room*9/10) / float64(endOff)
	}
	sc := func(d time.Duration) time.Duration {
		if scale == 1 {
			return d
		}
		return time.Duration(float64(d) * scale).Truncate(time.Microsecond)
	}
	span := sc(endOff)
	startOff := time.Second + time.Duration(p.shape.Int64N(int64(room-span)/1000+1))*time.Microsecond
	s.Start = w.WindowStart.Add(startOff)
	s.End = s.Start.Add(span)
	for _, l := range life {
		s.Lifecycle = append(s.Lifecycle, Lifecycle{s.Start.Add(sc(l.at)), l.state})
	}
	for _, pr := range reqs {
		pr.r.Start = s.Start.Add(sc(pr.off))
		s.Requests = append(s.Requests, pr.r)
	}
	// IDs last, in a fixed order, from the ID generator.
	for _, r := range s.Requests {
		r.TraceID = p.traceID()
		r.ClientSpanID = p.spanID()
		if r.HasServer {
			r.ServerSpanID = p.spanID()
			for i := range r.Children {
				r.Children[i].SpanID = p.spanID()
			}
		}
	}
	return s
}

func (p *planner) request(network string, fail bool) *Request {
	r := &Request{Endpoint: p.endpoint()}
	spec := endpointSpecs[r.Endpoint]
	rtt := p.rtt(network)
	r.ServerOffset = (rtt / 2).Truncate(time.Microsecond)
	r.Server = p.lognormalMs(spec.medianMs, spec.sigma, 1, 20000)
	r.HasServer = true
	r.Status, r.ServerStatus = 200, 200
	if spec.method == "POST" && spec.template != "/v2/auth/refresh" {
		r.Status, r.ServerStatus = 201, 201
	}
	if fail {
		x := p.shape.Float64()
		switch {
		case x < failServer:
			r.Failure = FailureServer
			r.Status = p.pickStatus()
			r.ServerStatus = r.Status
			r.ErrorType = fmt.Sprint(r.Status)
		case x < failServer+failTimeout:
			// The client gives up; the server finishes later, successfully.
			r.Failure = FailureTimeout
			r.ErrorType = errTypeTimeout
			r.Status = 0
			r.Server = msToDur(clientTimeoutMs) + p.uniformMs(150, 4000)
		default:
			r.Failure = FailureConnectionLost
			r.ErrorType = errTypeConnectionLost
			r.Status, r.ServerStatus = 0, 0
			r.HasServer = false
			r.Server, r.ServerOffset = 0, 0
			r.Client = p.uniformMs(40, 2500)
		}
	}
	switch r.Failure {
	case FailureTimeout:
		r.Client = msToDur(clientTimeoutMs)
	case FailureConnectionLost:
	default:
		r.Client = r.Server + rtt
	}
	if r.HasServer {
		m := int(p.pickWeighted(childWeights)[0] - '0')
		opts := roleChildren[spec.role]
		for k := range m {
			c := opts[(k+p.shape.IntN(len(opts)))%len(opts)]
			slot := r.Server * 9 / 10 / time.Duration(m)
			off := r.Server/20 + slot*time.Duration(k)
			d := time.Duration(float64(slot) * (0.3 + 0.65*p.shape.Float64()))
			r.Children = append(r.Children, Child{Name: c.name, Internal: c.internal, Offset: off.Truncate(time.Microsecond), Duration: max(d.Truncate(time.Microsecond), time.Microsecond)})
		}
	}
	return r
}

var statuses5xx = []weighted{{"500", 40}, {"502", 20}, {"503", 30}, {"504", 10}}

func (p *planner) pickStatus() int {
	switch p.pickWeighted(statuses5xx) {
	case "502":
		return 502
	case "503":
		return 503
	case "504":
		return 504
	default:
		return 500
	}
}
