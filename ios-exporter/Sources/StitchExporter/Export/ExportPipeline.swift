import Dispatch
import Foundation
import StitchOTLP

/// Cuts batches from the buffer and uploads them, on one background queue: when a batch is full, when the oldest
/// item has waited `maxBatchDelay`, and when the app goes to the background or ends. Nothing leaves before consent
/// is granted, and nothing is tried while the network is unavailable or before a server-requested wait is over.
final class ExportPipeline: Sendable {
    private let queue = DispatchQueue(label: "stitch.export", qos: .utility)
    private let buffer: TelemetryBuffer
    private let uploader: OTLPUploader
    private let counters: ExportCounters
    private let resource: @Sendable () -> ResourceData
    private let scope: InstrumentationScope
    private let clock: any TelemetryClock
    private let network: any NetworkPathMonitor
    private let consent: @Sendable () -> Consent
    private let maxBatchSize: Int
    private let maxBatchDelay: TimeInterval
    private let state = Locked(State())
    private let timer: Locked<DispatchSourceTimer?> = Locked(nil)

    struct State {
        /// No upload before this wall time (a `Retry-After` or a back-off).
        var notBeforeMs: Int64 = 0
        /// Consecutive failed uploads, for the back-off.
        var failures = 0
    }

    /// What one pass over the buffer did.
    enum Pass: Equatable {
        case idle, sent, heldBack
    }

    init(
        buffer: TelemetryBuffer, uploader: OTLPUploader, counters: ExportCounters,
        resource: @escaping @Sendable () -> ResourceData,
        scope: InstrumentationScope, clock: any TelemetryClock, network: any NetworkPathMonitor,
        maxBatchSize: Int, maxBatchDelay: TimeInterval, consent: @escaping @Sendable () -> Consent
    ) {
        self.buffer = buffer
        self.uploader = uploader
        self.counters = counters
        self.resource = resource
        self.scope = scope
        self.clock = clock
        self.network = network
        self.maxBatchSize = maxBatchSize
        self.maxBatchDelay = maxBatchDelay
        self.consent = consent
    }

    /// Starts the periodic cut. The timer is the only loop, and it does one bounded pass per tick.
    func start(onTick: @escaping @Sendable () -> Void) {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + maxBatchDelay, repeating: maxBatchDelay, leeway: .milliseconds(500))
        t.setEventHandler { [weak self] in
            onTick()
            self?.drain(maxPasses: 4)
        }
        t.resume()
        timer.withLock { $0 = t }
        buffer.setBatchReadyHandler { [weak self] in self?.requestUpload() }
    }

    func stop() {
        timer.withLock { t in
            t?.cancel()
            t = nil
        }
    }

    /// Asks for an upload soon, without waiting.
    func requestUpload() {
        queue.async { [weak self] in self?.drain(maxPasses: 4) }
    }

    /// Uploads what is held until the buffer is empty, an upload must wait, or `timeout` passes. Blocks the caller:
    /// for `background`/`terminate` handling on a background thread, the demo and tests.
    @discardableResult
    func flush(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var passes = 0
        while passes < 10_000, Date() < deadline {
            passes += 1
            let pass = queue.sync { onePass() }
            if pass != .sent { break }
        }
        return buffer.count == 0
    }

    /// Runs on the export queue.
    private func drain(maxPasses: Int) {
        for _ in 0..<maxPasses where onePass() == .sent {}
    }

    private func onePass() -> Pass {
        guard consent() == .granted else { return .heldBack }
        guard network.current.isReachable else { return .heldBack }
        let now = clock.now().wallMillis
        guard now >= state.current.notBeforeMs else { return .heldBack }
        let batch = buffer.take(limit: maxBatchSize)
        if batch.isEmpty { return .idle }
        var unsent = TelemetryBuffer.Contents()
        if !batch.spans.isEmpty, !send(spans: batch.spans, allowSplit: true) { unsent.spans = batch.spans }
        // A server asking to wait is obeyed for the whole pass: the logs wait with the spans.
        if !batch.logs.isEmpty, !unsent.spans.isEmpty || !send(logs: batch.logs, allowSplit: true) {
            unsent.logs = batch.logs
        }
        if !unsent.isEmpty {
            buffer.restore(unsent)
            return .heldBack
        }
        return .sent
    }

    /// Sends spans; returns false when they should be tried again later (they were not delivered nor dropped).
    private func send(spans: [TelemetryBuffer.Entry<SpanData>], allowSplit: Bool) -> Bool {
        let body = OTLPEncoder.encodeTraces(resource: resource(), scope: scope, spans: spans.map(\.item))
        switch upload(body, signal: .traces) {
        case .delivered(let rejected):
            counters.add(.exportedSpans, Int64(spans.count) - rejected)
            counters.dropSpans(.partiallyRejected, rejected)
            return true
        case .retry:
            return false
        case .tooLarge where allowSplit && spans.count > 1:
            let half = spans.count / 2
            let first = send(spans: Array(spans[..<half]), allowSplit: false)
            let second = send(spans: Array(spans[half...]), allowSplit: false)
            return first && second
        case .tooLarge, .rejected:
            counters.dropSpans(.rejected, Int64(spans.count))
            return true
        }
    }

    private func send(logs: [TelemetryBuffer.Entry<LogRecordData>], allowSplit: Bool) -> Bool {
        let body = OTLPEncoder.encodeLogs(resource: resource(), scope: scope, logs: logs.map(\.item))
        switch upload(body, signal: .logs) {
        case .delivered(let rejected):
            counters.add(.exportedLogs, Int64(logs.count) - rejected)
            counters.dropLogs(.partiallyRejected, rejected)
            return true
        case .retry:
            return false
        case .tooLarge where allowSplit && logs.count > 1:
            let half = logs.count / 2
            let first = send(logs: Array(logs[..<half]), allowSplit: false)
            let second = send(logs: Array(logs[half...]), allowSplit: false)
            return first && second
        case .tooLarge, .rejected:
            counters.dropLogs(.rejected, Int64(logs.count))
            return true
        }
    }

    private func upload(_ body: [UInt8], signal: UploadPolicy.Signal) -> UploadVerdict {
        let started = clock.now()
        let answer = uploader.send(body, signal: signal)
        let ended = clock.now()
        counters.add(.uploads)
        counters.setUploadLatency(ms: Int64((ended.monotonicNanos &- started.monotonicNanos) / 1_000_000))
        let verdict = UploadPolicy.verdict(
            status: answer.status, retryAfter: answer.retryAfter, body: answer.body, signal: signal,
            nowMs: ended.wallMillis)
        state.withLock { s in
            switch verdict {
            case .retry(let retryAfterMs):
                s.failures += 1
                let wait =
                    retryAfterMs
                    ?? UploadPolicy.backoffMs(attempt: s.failures - 1, unit: Double.random(in: 0..<1))
                s.notBeforeMs = ended.wallMillis + wait
            default:
                s.failures = 0
                s.notBeforeMs = 0
            }
        }
        if case .retry = verdict {
            counters.add(.uploadFailures)
            counters.add(.retriedUploads)
        }
        return verdict
    }
}
