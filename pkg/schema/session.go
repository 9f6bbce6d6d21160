package schema

// EventKind is an app lifecycle event fed to the SessionMachine.
type EventKind string

// Lifecycle events (rules.session.events).
const (
	LifecycleLaunch          EventKind = "launch"
	LifecycleForeground      EventKind = "foreground"
	LifecycleBackground      EventKind = "background"
	LifecycleTerminate       EventKind = "terminate"
	LifecycleTick            EventKind = "tick"
	LifecycleBackgroundFetch EventKind = "background_fetch"
	LifecyclePush            EventKind = "push"
)

// SessionStartReason is the value of stitch.session.start_reason.
type SessionStartReason string

// Reasons a session starts.
const (
	StartFirst             SessionStartReason = "first"
	StartBackgroundTimeout SessionStartReason = "background_timeout"
	StartMaxDuration       SessionStartReason = "max_duration"
	StartClockRegression   SessionStartReason = "clock_regression"
)

// LifecycleEvent is one event with its wall-clock time in milliseconds.
type LifecycleEvent struct {
	Kind EventKind
	AtMs int64
}

// SessionState is everything the device persists between process runs.
// The zero value means "no session yet".
type SessionState struct {
	SessionID         string `json:"session_id"`
	PreviousID        string `json:"previous_id"`
	StartedAtMs       int64  `json:"started_at_ms"`
	BackgroundSinceMs *int64 `json:"background_since_ms"`
	LastSeenMs        int64  `json:"last_seen_ms"`
	Foreground        bool   `json:"foreground"`
}

// SessionStep is the outcome of one event: the session that telemetry
// recorded at that moment carries.
type SessionStep struct {
	SessionID  string // "" when there is no session yet
	PreviousID string // the current session's session.previous_id, or ""
	NewSession bool   // a session started on this event
	Reason     SessionStartReason
	// EndedID is the session that ended on this event (session.end), or "".
	EndedID string
}

// IDSource hands out new session IDs. Devices use 128 random bits; tests
// use a fixed list.
type IDSource interface {
	NextSessionID() (string, error)
}

// IDList is an IDSource that returns its IDs in order.
type IDList struct {
	IDs  []string
	next int
}

// NextSessionID implements IDSource.
func (l *IDList) NextSessionID() (string, error) {
	if l.next >= len(l.IDs) {
		return "", newErr(CodeIDsExhausted, "all %d IDs used", len(l.IDs))
	}
	l.next++
	return l.IDs[l.next-1], nil
}

// SessionConfig holds the session boundaries.
type SessionConfig struct {
	BackgroundTimeoutMs int64
	MaxDurationMs       int64
}

// DefaultSessionConfig returns the boundaries of rules.session.
func DefaultSessionConfig() SessionConfig {
	r := Default().Rules.Session
	return SessionConfig{BackgroundTimeoutMs: r.BackgroundTimeoutMs, MaxDurationMs: r.MaxDurationMs}
}

// SessionMachine implements rules.session. It is pure: time comes only from
// the events and IDs only from the IDSource.
type SessionMachine struct {
	cfg SessionConfig
	st  SessionState
	ids IDSource
}

// NewSessionMachine starts from a persisted state (zero value for a fresh
// installation).
func NewSessionMachine(cfg SessionConfig, persisted SessionState, ids IDSource) *SessionMachine {
	if persisted.BackgroundSinceMs != nil {
		v := *persisted.BackgroundSinceMs
		persisted.BackgroundSinceMs = &v
	}
	return &SessionMachine{cfg: cfg, st: persisted, ids: ids}
}

// State returns the state to persist.
func (m *SessionMachine) State() SessionState {
	st := m.st
	if st.BackgroundSinceMs != nil {
		v := *st.BackgroundSinceMs
		st.BackgroundSinceMs = &v
	}
	return st
}

// Apply processes one event. On error the state is unchanged.
func (m *SessionMachine) Apply(ev LifecycleEvent) (SessionStep, error) {
	st := m.State()
	t := ev.AtMs
	var step SessionStep
	rotate := func(reason SessionStartReason) error {
		id, err := m.ids.NextSessionID()
		if err != nil {
			return err
		}
		if err := ValidSessionID(id); err != nil {
			return err
		}
		step.NewSession, step.Reason, step.EndedID = true, reason, st.SessionID
		st.PreviousID, st.SessionID, st.StartedAtMs = st.SessionID, id, t
		st.BackgroundSinceMs = nil
		return nil
	}

	switch ev.Kind {
	case LifecycleLaunch:
		if st.SessionID != "" && st.Foreground && st.BackgroundSinceMs == nil {
			// The previous process died in the foreground.
			v := st.LastSeenMs
			st.BackgroundSinceMs = &v
		}
		st.Foreground = false
	case LifecycleForeground:
		if reason := m.expiry(st, t); reason != "" {
			if err := rotate(reason); err != nil {
				return SessionStep{}, err
			}
		}
		st.BackgroundSinceMs = nil
		st.Foreground = true
	case LifecycleBackground, LifecycleTerminate:
		if st.BackgroundSinceMs == nil {
			v := t
			st.BackgroundSinceMs = &v
		}
		st.Foreground = false
	case LifecycleTick:
		if st.Foreground {
			if reason := m.expiry(st, t); reason != "" {
				if err := rotate(reason); err != nil {
					return SessionStep{}, err
				}
			}
		}
	case LifecycleBackgroundFetch, LifecyclePush:
		if st.SessionID == "" {
			if err := rotate(StartFirst); err != nil {
				return SessionStep{}, err
			}
			if !st.Foreground {
				v := t
				st.BackgroundSinceMs = &v
			}
		}
	default:
		return SessionStep{}, newErr(CodeBadEvent, "unknown event %q", ev.Kind)
	}
	st.LastSeenMs = t
	m.st = st
	step.SessionID, step.PreviousID = st.SessionID, st.PreviousID
	return step, nil
}

// expiry returns why the session must be replaced at time t, or "".
func (m *SessionMachine) expiry(st SessionState, t int64) SessionStartReason {
	switch {
	case st.SessionID == "":
		return StartFirst
	case elapsedAtLeast(st.StartedAtMs, t, m.cfg.MaxDurationMs):
		return StartMaxDuration
	case st.BackgroundSinceMs != nil && elapsedAtLeast(*st.BackgroundSinceMs, t, m.cfg.BackgroundTimeoutMs):
		return StartBackgroundTimeout
	case t < st.LastSeenMs:
		return StartClockRegression
	}
	return ""
}

// elapsedAtLeast reports t - since >= d without overflowing.
func elapsedAtLeast(since, t, d int64) bool {
	if t < since {
		return d <= 0
	}
	// t >= since, so the difference fits in a uint64 even when it does not
	// fit in an int64 (two's complement subtraction).
	return uint64(t)-uint64(since) >= uint64(max(d, 0)) // #nosec G115 -- see above
}
