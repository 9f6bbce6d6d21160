/// When a batch waiting on the device may be uploaded, given the network, the battery and the server's
/// back-pressure. Pure: conditions in, a decision out; the pipeline asks it before every upload.
///
/// - No network: nothing is tried.
/// - A server-requested wait (`Retry-After`) or a back-off holds every batch, errors included: the server said so.
/// - Errors and slow requests go at once on any network.
/// - Routine telemetry goes at once on Wi-Fi and wired networks; on a cellular network it waits until its batch is
///   `cellularRoutineDelayMs` old, so routine uploads bunch up instead of waking the radio every few seconds.
/// - Low Power Mode multiplies every routine wait by `lowPowerStretch` and makes routine batches wait at least
///   `lowPowerMinimumAgeMs` on any network.
/// - A routine batch created "in the future" (the device clock was set back) goes at once.
struct DeliverySchedule: Sendable, Equatable {
    var cellularRoutineDelayMs: Int64
    var lowPowerStretch: Int64 = 4
    var lowPowerMinimumAgeMs: Int64 = 60_000

    struct Conditions: Sendable, Equatable {
        var network: NetworkStatus.ConnectionType
        var lowPower: Bool
        var nowMs: Int64
        /// No upload before this wall time (a `Retry-After` or a back-off); 0 for none.
        var notBeforeMs: Int64 = 0
    }

    enum Decision: Sendable, Equatable {
        case sendNow
        /// Try again at this wall time (or earlier, if the conditions change).
        case waitUntil(Int64)
        /// Nothing can be sent until a network appears.
        case waitForNetwork
    }

    func decide(important: Bool, createdMs: Int64, _ c: Conditions) -> Decision {
        if c.network == .unavailable { return .waitForNetwork }
        if c.nowMs < c.notBeforeMs { return .waitUntil(c.notBeforeMs) }
        if important { return .sendNow }
        // A batch from the future: the device clock was set back since it was cut. Its age is unknown; waiting
        // for the clock to catch up could take days, so it goes now.
        if createdMs > c.nowMs { return .sendNow }
        let due = createdMs + routineWaitMs(c)
        return c.nowMs >= due ? .sendNow : .waitUntil(due)
    }

    /// How old a routine batch must be before it is sent under these conditions.
    func routineWaitMs(_ c: Conditions) -> Int64 {
        var wait: Int64 = c.network == .cell ? cellularRoutineDelayMs : 0
        if c.lowPower {
            let (stretched, overflow) = wait.multipliedReportingOverflow(by: lowPowerStretch)
            wait = max(overflow ? .max : stretched, lowPowerMinimumAgeMs)
        }
        return max(0, wait)
    }

    /// The periodic cut's interval: `base`, stretched in Low Power Mode.
    func cutInterval(base: Double, lowPower: Bool) -> Double {
        lowPower ? base * Double(lowPowerStretch) : base
    }
}
