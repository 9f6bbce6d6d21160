import StitchOTLP
import StitchSchema

/// A user action in progress (a tap, a pull-to-refresh, a deep link): the root span of the work it starts. Every
/// request made inside it is a client span of its trace and shares its `stitch.action.id`.
public final class ActionSpan: Sendable {
    public let name: String
    let traceID: TraceID
    let spanID: SpanID
    let actionID: SpanID
    let sessionID: String
    let start: ClockReading
    let screenName: String?
    private let recorder: ItemRecorder?
    private let state: Locked<State>

    struct State {
        var attributes: [Attribute]
        var events: [SpanEvent] = []
        var errorType: String?
        var ended = false
    }

    init(
        name: String, traceID: TraceID, spanID: SpanID, actionID: SpanID, sessionID: String, start: ClockReading,
        screenName: String?, attributes: [Attribute], recorder: ItemRecorder?
    ) {
        self.name = name
        self.traceID = traceID
        self.spanID = spanID
        self.actionID = actionID
        self.sessionID = sessionID
        self.start = start
        self.screenName = screenName
        self.recorder = recorder
        self.state = Locked(State(attributes: attributes))
    }

    /// Whether anything is recorded for this action (false before consent or after denial, then it only runs).
    var isRecording: Bool { recorder != nil }

    /// Adds an app attribute (checked like every app attribute: forbidden or personal values are dropped).
    public func setAttribute(_ attribute: Attribute) {
        guard let recorder else { return }
        let (kept, dropped) = AttributeSanitizer.sanitize([attribute])
        recorder.countDroppedAttributes(dropped)
        state.withLock { s in
            s.attributes.removeAll { $0.key == attribute.key }
            s.attributes.append(contentsOf: kept)
        }
    }

    /// Records a point in time inside the action (a span event carrying `session.id`).
    public func addEvent(_ name: String, attributes: [Attribute] = []) {
        guard let recorder else { return }
        let (kept, dropped) = AttributeSanitizer.sanitize(attributes)
        recorder.countDroppedAttributes(dropped)
        let event = recorder.makeEvent(name: name, sessionID: sessionID, attributes: kept)
        state.withLock { $0.events.append(event) }
    }

    /// Marks the action failed (its requests do this themselves when one fails).
    public func markFailed(errorType: String) {
        state.withLock { s in
            if s.errorType == nil { s.errorType = errorType }
        }
    }

    /// Ends the action; only the first call counts.
    public func end() {
        let snapshot = state.withLock { s -> State? in
            guard !s.ended else { return nil }
            s.ended = true
            return s
        }
        guard let snapshot, let recorder else { return }
        recorder.finishAction(self, state: snapshot)
    }
}

/// The action a task is inside, so requests made in it join its trace without being passed the action.
enum ActionContext {
    @TaskLocal static var current: ActionSpan?
}
