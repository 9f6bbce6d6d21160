/// Everything the device persists about the current session between process runs (`rules.session.persisted_state`).
///
/// It is persisted as JSON under the schema's key names, with absent values written as `null`.
public struct SessionState: Sendable, Equatable, Codable {
    /// The session telemetry carries now.
    public var sessionID: String
    /// The session this one replaced, for `session.previous_id` on its `session.start`.
    public var previousID: String?
    /// Wall time the session started; the 4 h cap counts from here.
    public var startedAtMs: Int64
    /// Wall time the app went to the background (or was found to have died in the foreground); nil in the foreground.
    public var backgroundSinceMs: Int64?
    /// Wall time of the last event; an event before it means the clock moved backwards.
    public var lastSeenMs: Int64
    /// Whether the app was in the foreground at the last event; still true after launch means the process died.
    public var foreground: Bool

    /// Memberwise, for restoring and for tests.
    public init(
        sessionID: String, previousID: String?, startedAtMs: Int64, backgroundSinceMs: Int64?, lastSeenMs: Int64,
        foreground: Bool
    ) {
        self.sessionID = sessionID
        self.previousID = previousID
        self.startedAtMs = startedAtMs
        self.backgroundSinceMs = backgroundSinceMs
        self.lastSeenMs = lastSeenMs
        self.foreground = foreground
    }

    private enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case previousID = "previous_id"
        case startedAtMs = "started_at_ms"
        case backgroundSinceMs = "background_since_ms"
        case lastSeenMs = "last_seen_ms"
        case foreground
    }

    /// Rejects a stored state whose IDs are not valid session IDs, so a corrupted file starts a fresh session
    /// instead of propagating a bad `session.id`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sessionID = try container.decode(String.self, forKey: .sessionID)
        previousID = try container.decodeIfPresent(String.self, forKey: .previousID)
        startedAtMs = try container.decode(Int64.self, forKey: .startedAtMs)
        backgroundSinceMs = try container.decodeIfPresent(Int64.self, forKey: .backgroundSinceMs)
        lastSeenMs = try container.decode(Int64.self, forKey: .lastSeenMs)
        foreground = try container.decode(Bool.self, forKey: .foreground)
        guard SessionIDFormat.isValid(sessionID) else {
            throw DecodingError.dataCorruptedError(
                forKey: .sessionID, in: container, debugDescription: "not a valid session ID")
        }
        if let previousID, !SessionIDFormat.isValid(previousID) {
            throw DecodingError.dataCorruptedError(
                forKey: .previousID, in: container, debugDescription: "not a valid session ID")
        }
    }

    /// Writes every key, absent values as `null`, so the stored shape matches `persisted_state` exactly.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(previousID, forKey: .previousID)
        try container.encode(startedAtMs, forKey: .startedAtMs)
        try container.encode(backgroundSinceMs, forKey: .backgroundSinceMs)
        try container.encode(lastSeenMs, forKey: .lastSeenMs)
        try container.encode(foreground, forKey: .foreground)
    }
}

/// The app lifecycle events the session rules react to (`rules.session.events`).
public enum LifecycleEventKind: String, Sendable, CaseIterable {
    /// The process started; a persisted foreground state means the last process died.
    case launch
    /// The app became active: the one event besides a foreground tick that may rotate.
    case foreground
    /// The app left the foreground: the 15-minute clock starts.
    case background
    /// The process is ending; counts like background.
    case terminate
    /// A periodic check or any telemetry emission.
    case tick
    /// Background refresh work; carries the current session, even an expired one.
    case backgroundFetch = "background_fetch"
    /// A push handled in the background; carries the current session like a background fetch.
    case push
}

/// Why a session started: the value of `stitch.session.start_reason`.
public enum SessionStartReason: String, Sendable, CaseIterable {
    /// No session existed.
    case first
    /// The app stayed in the background for the timeout or longer.
    case backgroundTimeout = "background_timeout"
    /// The session reached the maximum duration.
    case maxDuration = "max_duration"
    /// The wall clock moved backwards, so the recorded times can no longer be trusted.
    case clockRegression = "clock_regression"
}

/// The outcome of one lifecycle event: the state to persist and the session events to emit.
public struct SessionTransition: Sendable, Equatable {
    /// The state after the event; nil only while no session has ever started.
    public var state: SessionState?
    /// A session started on this event (emit `session.start` for `state`).
    public var startedSession: Bool
    /// Why it started, when it did.
    public var reason: SessionStartReason?
    /// The session that ended on this event (emit `session.end` for it, before the new `session.start`).
    public var endedSessionID: String?

    /// Memberwise, so callers and tests can state expected transitions.
    public init(
        state: SessionState?, startedSession: Bool = false, reason: SessionStartReason? = nil,
        endedSessionID: String? = nil
    ) {
        self.state = state
        self.startedSession = startedSession
        self.reason = reason
        self.endedSessionID = endedSessionID
    }
}

/// The session state machine of `rules.session`: pure, with time only from the events and IDs only from `newID`.
///
/// A session ends after 15 minutes in the background or 4 hours in total. Rotation is evaluated only on
/// `foreground` and on `tick` in the foreground; background work carries the current session even when it has
/// expired, and starts one only when none exists yet.
public enum SessionRotation {
    /// Applies one event at wall time tMs. newID is called only when a session must start; it may return nil
    /// (ids_exhausted) or an invalid ID (bad_session_id) — then the event changes no state and the error is returned.
    public static func apply(
        _ event: LifecycleEventKind, atMs tMs: Int64, to state: SessionState?, newID: () -> String?
    ) -> Result<SessionTransition, ReasonCode> {
        switch event {
        case .launch:
            guard var next = state else { return .success(SessionTransition(state: nil)) }
            if next.foreground && next.backgroundSinceMs == nil {
                // The previous process died in the foreground: inactivity counts from the last event it saw.
                next.backgroundSinceMs = next.lastSeenMs
            }
            next.foreground = false
            return .success(carrying(next, at: tMs))

        case .foreground:
            var reason = SessionStartReason.first
            if let current = state {
                guard let expired = expiryReason(of: current, at: tMs) else {
                    var next = current
                    next.backgroundSinceMs = nil
                    next.foreground = true
                    return .success(carrying(next, at: tMs))
                }
                reason = expired
            }
            return starting(after: state, at: tMs, reason: reason, newID: newID).map { transition in
                var transition = transition
                transition.state?.foreground = true
                return transition
            }

        case .background, .terminate:
            guard var next = state else { return .success(SessionTransition(state: nil)) }
            if next.backgroundSinceMs == nil { next.backgroundSinceMs = tMs }
            next.foreground = false
            return .success(carrying(next, at: tMs))

        case .tick:
            guard let current = state else { return .success(SessionTransition(state: nil)) }
            if current.foreground, let reason = expiryReason(of: current, at: tMs) {
                return starting(after: current, at: tMs, reason: reason, newID: newID)
            }
            return .success(carrying(current, at: tMs))

        case .backgroundFetch, .push:
            if let current = state { return .success(carrying(current, at: tMs)) }
            return starting(after: nil, at: tMs, reason: .first, newID: newID).map { transition in
                var transition = transition
                transition.state?.backgroundSinceMs = tMs
                return transition
            }
        }
    }

    /// The state after an event that keeps the session: only the last-seen time moves.
    private static func carrying(_ state: SessionState, at tMs: Int64) -> SessionTransition {
        var next = state
        next.lastSeenMs = tMs
        return SessionTransition(state: next)
    }

    /// A new session replacing `previous` (if any), in the foreground state of `previous` and with no background
    /// clock running; the caller adjusts both for its event.
    private static func starting(
        after previous: SessionState?, at tMs: Int64, reason: SessionStartReason, newID: () -> String?
    ) -> Result<SessionTransition, ReasonCode> {
        guard let id = newID() else { return .failure(.idsExhausted) }
        guard SessionIDFormat.isValid(id) else { return .failure(.badSessionID) }
        let next = SessionState(
            sessionID: id, previousID: previous?.sessionID, startedAtMs: tMs, backgroundSinceMs: nil,
            lastSeenMs: tMs, foreground: previous?.foreground ?? false)
        return .success(
            SessionTransition(state: next, startedSession: true, reason: reason, endedSessionID: previous?.sessionID))
    }

    /// Why the session must be replaced at tMs, or nil when it is still current. The order is the schema's:
    /// max_duration, then background_timeout, then clock_regression.
    private static func expiryReason(of state: SessionState, at tMs: Int64) -> SessionStartReason? {
        if elapsed(from: state.startedAtMs, to: tMs, isAtLeast: SessionRules.maxDurationMs) { return .maxDuration }
        if let since = state.backgroundSinceMs,
            elapsed(from: since, to: tMs, isAtLeast: SessionRules.backgroundTimeoutMs)
        {
            return .backgroundTimeout
        }
        if tMs < state.lastSeenMs { return .clockRegression }
        return nil
    }

    /// `end - start >= duration` for any Int64 times, without overflowing.
    private static func elapsed(from start: Int64, to end: Int64, isAtLeast duration: Int64) -> Bool {
        guard end >= start else { return duration <= 0 }
        // end >= start, so the difference fits in a UInt64 even when it does not fit in an Int64.
        let difference = UInt64(bitPattern: end) &- UInt64(bitPattern: start)
        return difference >= UInt64(max(duration, 0))
    }
}
