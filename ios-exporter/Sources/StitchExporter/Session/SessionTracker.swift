import Dispatch
import Foundation
import StitchSchema

/// What one lifecycle event did to the session, for the recorder to write as log records.
struct SessionChange: Sendable, Equatable {
    /// The session telemetry carries after the event; nil only when no session exists yet.
    var sessionID: String?
    /// The session that ended on this event (a `session.end` record is due), if any.
    var endedSessionID: String?
    /// The session that started on this event (a `session.start` record is due), if any.
    var started: StartedSession?

    struct StartedSession: Sendable, Equatable {
        var sessionID: String
        var previousID: String?
        var reason: SessionStartReason
    }
}

/// Owns the current session: applies the schema's rotation rule (`SessionRotation`) to lifecycle events and keeps
/// the state persisted. Events are applied under a short lock; the file is written on a queue of its own, so no
/// caller waits for the disk.
final class SessionTracker: Sendable {
    private let store: any SessionStore
    private let ids: any IDGenerator
    private let state = Locked<SessionState?>(nil)
    private let persistence = DispatchQueue(label: "stitch.session-store", qos: .utility)
    private let counters: ExportCounters

    init(store: any SessionStore, ids: any IDGenerator, counters: ExportCounters) {
        self.store = store
        self.ids = ids
        self.counters = counters
        do {
            state.withLock { $0 = nil }
            let loaded = try store.load()
            if let loaded, SessionIDFormat.isValid(loaded.sessionID) {
                state.withLock { $0 = loaded }
            } else if loaded != nil {
                counters.add(.sessionStateUnreadable)
            }
        } catch {
            // A malformed file is not fatal: the next event starts a fresh session.
            counters.add(.sessionStateUnreadable)
        }
    }

    var currentSessionID: String? { state.current?.sessionID }

    /// Applies one event at wall time `atMs`. An ID source failure leaves the state as it was.
    @discardableResult
    func handle(_ event: LifecycleEventKind, atMs: Int64) -> SessionChange {
        let (change, toSave, persistNow) = state.withLock { current -> (SessionChange, SessionState?, Bool) in
            let result = SessionRotation.apply(event, atMs: atMs, to: current) { self.ids.sessionID() }
            guard case .success(let transition) = result else {
                return (SessionChange(sessionID: current?.sessionID), nil, false)
            }
            let previous = current
            current = transition.state
            var change = SessionChange(sessionID: transition.state?.sessionID)
            change.endedSessionID = transition.endedSessionID
            if transition.startedSession, let s = transition.state, let reason = transition.reason {
                change.started = .init(sessionID: s.sessionID, previousID: s.previousID, reason: reason)
            }
            // Ticks only move last_seen_ms: kept in memory, written with the next real change.
            let changed =
                previous?.sessionID != current?.sessionID || previous?.foreground != current?.foreground
                || previous?.backgroundSinceMs != current?.backgroundSinceMs
            return (change, current, event != .tick || changed)
        }
        if persistNow, let toSave { save(toSave) }
        return change
    }

    /// Writes the in-memory state now (the periodic check calls this so `last_seen_ms` stays fresh on disk).
    func persist() {
        if let s = state.current { save(s) }
    }

    /// Waits until every write queued so far is on disk.
    func waitForPersistence() {
        persistence.sync {}
    }

    private func save(_ s: SessionState) {
        persistence.async { [store, counters] in
            do {
                try store.save(s)
            } catch {
                counters.add(.sessionStateWriteFailed)
            }
        }
    }
}
