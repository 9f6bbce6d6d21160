import Dispatch
import Foundation
import StitchOTLP

/// Moves finished telemetry from memory to the device's batch folder and from there to the receiver, on one
/// background queue: a pass cuts what the buffer holds into batch files (when a batch is full, every
/// `maxBatchDelay`, when the app goes to the background or ends, on `flush`) and then uploads the files the
/// delivery schedule allows. Nothing leaves, and nothing is written to disk, before consent is granted.
final class ExportPipeline: Sendable {
    struct Settings: Sendable {
        var maxBatchSize: Int
        var maxBatchDelay: TimeInterval
        var schedule: DeliverySchedule
        var reportsStats: Bool
        /// Uploads one pass may make, so a pass is bounded however much is waiting.
        var maxUploadsPerPass = 16
    }

    private let queue = DispatchQueue(label: "stitch.export", qos: .utility)
    private let buffer: TelemetryBuffer
    private let folder: BatchFolder
    private let uploader: OTLPUploader
    private let counters: ExportCounters
    private let resource: @Sendable () -> ResourceData
    private let scope: InstrumentationScope
    private let clock: any TelemetryClock
    private let network: any NetworkPathMonitor
    private let power: any PowerStateProvider
    private let consent: @Sendable () -> Consent
    private let settings: Settings
    private let state = Locked(State())
    private let timer: Locked<DispatchSourceTimer?> = Locked(nil)

    struct State {
        /// No upload before this wall time (a `Retry-After` or a back-off).
        var notBeforeMs: Int64 = 0
        /// Consecutive failed uploads, for the back-off.
        var failures = 0
        /// Timer ticks, for the stretched schedule of Low Power Mode.
        var ticks = 0
        /// The counters as last reported, and when.
        var reported = ExportCountersSnapshot()
        var reportedAtMs: Int64?
    }

    /// What one pass did.
    enum Pass: Equatable {
        case idle, sent, heldBack
    }

    init(
        buffer: TelemetryBuffer, folder: BatchFolder, uploader: OTLPUploader, counters: ExportCounters,
        resource: @escaping @Sendable () -> ResourceData, scope: InstrumentationScope, clock: any TelemetryClock,
        network: any NetworkPathMonitor, power: any PowerStateProvider, settings: Settings,
        consent: @escaping @Sendable () -> Consent
    ) {
        self.buffer = buffer
        self.folder = folder
        self.uploader = uploader
        self.counters = counters
        self.resource = resource
        self.scope = scope
        self.clock = clock
        self.network = network
        self.power = power
        self.settings = settings
        self.consent = consent
        counters.setPersistedBytes(Int64(folder.totalBytes))
    }

    /// Starts the periodic pass. The timer is the only loop, and each tick does one bounded pass.
    func start(onTick: @escaping @Sendable () -> Void) {
        let t = DispatchSource.makeTimerSource(queue: queue)
        let interval = settings.maxBatchDelay
        t.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(500))
        t.setEventHandler { [weak self] in
            guard let self else { return }
            onTick()
            let stretch = Int(self.settings.schedule.lowPowerStretch)
            let tick = self.state.withLock { s -> Int in
                s.ticks += 1
                return s.ticks
            }
            // Low Power Mode: one pass every few ticks.
            if self.power.isLowPowerModeEnabled, tick % max(1, stretch) != 0 { return }
            _ = self.onePass()
        }
        t.resume()
        timer.withLock { $0 = t }
        buffer.setBatchReadyHandler { [weak self] in self?.requestUpload() }
        // Batches a previous launch left are sent as soon as the schedule allows.
        requestUpload()
    }

    func stop() {
        timer.withLock { t in
            t?.cancel()
            t = nil
        }
    }

    /// Cuts what memory holds into batch files now, without uploading (consent granted only).
    func persistHeld() {
        queue.sync {
            if consent() == .granted { cutEverything() }
        }
    }

    /// Asks for a pass soon, without waiting.
    func requestUpload() {
        queue.async { [weak self] in _ = self?.onePass() }
    }

    /// Consent denied: every persisted batch goes, on the export queue right after any pass in progress (which
    /// sends nothing more once it sees the new consent). The caller does not wait.
    func discardPersisted() {
        queue.async { [folder, counters] in
            folder.removeAll()
            counters.setPersistedBytes(0)
        }
    }

    /// Cuts and uploads until nothing is left, an upload must wait, or `timeout` passes. Blocks the caller: for
    /// the end of background tasks, the demo and tests. True when nothing is held in memory or on disk.
    @discardableResult
    func flush(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var passes = 0
        while passes < 10_000, Date() < deadline {
            passes += 1
            if queue.sync(execute: { onePass() }) != .sent { break }
        }
        return buffer.count == 0 && queue.sync { folder.isEmpty }
    }

    /// What waits on disk: batches, items and bytes.
    var persisted: (batches: Int, items: Int, bytes: Int) {
        queue.sync {
            let batches = folder.pending(nowMs: clock.now().wallMillis).batches
            return (batches.count, batches.reduce(0) { $0 + $1.itemCount }, batches.reduce(0) { $0 + $1.bytes })
        }
    }

    // MARK: One pass (on the export queue)

    private func onePass() -> Pass {
        guard consent() == .granted else { return .heldBack }
        cutEverything()
        return deliver()
    }

    private func cutEverything() {
        let context = BatchCutter.Context(
            resource: resource(), scope: scope, nowMs: clock.now().wallMillis,
            maxPayloadBytes: folder.limits.maxFileBytes - BatchRecord.headerBytes)
        for _ in 0..<64 {
            let batch = buffer.take(limit: settings.maxBatchSize)
            if batch.isEmpty { break }
            let spans = BatchCutter.records(spans: batch.spans, context)
            let logs = BatchCutter.records(logs: batch.logs, context)
            counters.dropSpans(.rejected, Int64(spans.failed))
            counters.dropLogs(.rejected, Int64(logs.failed))
            for record in spans.records + logs.records { persist(record) }
        }
        counters.setPersistedBytes(Int64(folder.totalBytes))
    }

    private func persist(_ record: BatchRecord) {
        switch folder.write(record) {
        case .written(_, let evicted):
            count(evicted, as: .diskFull)
        case .dropped(let reason, let evicted):
            count(evicted, as: .diskFull)
            drop(record.signal, record.itemCount, reason)
        }
    }

    private func deliver() -> Pass {
        let now = clock.now().wallMillis
        let (batches, expired) = folder.pending(nowMs: now)
        count(expired, as: .expired)
        var sent = 0
        var waiting = false
        for stored in batches {
            guard sent < settings.maxUploadsPerPass else { return .sent }
            guard consent() == .granted else { return .heldBack }
            let conditions = DeliverySchedule.Conditions(
                network: network.current.type, lowPower: power.isLowPowerModeEnabled, nowMs: now,
                notBeforeMs: state.current.notBeforeMs)
            switch settings.schedule.decide(important: stored.important, createdMs: stored.createdMs, conditions) {
            case .waitForNetwork:
                return .heldBack
            case .waitUntil:
                waiting = true
                continue
            case .sendNow:
                break
            }
            guard let record = folder.load(stored) else {
                drop(stored.signal, stored.itemCount, .unreadable)
                continue
            }
            sent += 1
            if !upload(record, stored: stored) {
                counters.setPersistedBytes(Int64(folder.totalBytes))
                return .heldBack
            }
        }
        counters.setPersistedBytes(Int64(folder.totalBytes))
        if sent > 0 { reportStatsIfDue() }
        if sent > 0 { return .sent }
        return waiting ? .heldBack : .idle
    }

    /// Uploads one batch and settles it; false when it must be tried again later (the pass stops).
    private func upload(_ record: BatchRecord, stored: BatchFolder.Stored) -> Bool {
        switch send(record.payload, signal: record.signal.upload, name: stored.name) {
        case .delivered(let rejected):
            folder.markDelivered(stored)
            let accepted = Int64(record.itemCount) - min(rejected, Int64(record.itemCount))
            if record.signal == .traces {
                counters.add(.exportedSpans, accepted)
            } else {
                counters.add(.exportedLogs, accepted)
            }
            drop(record.signal, record.itemCount - Int(accepted), .partiallyRejected)
            return true
        case .retry:
            return false
        case .tooLarge:
            folder.remove(stored)
            if !record.split, record.itemCount > 1, let halves = Self.halves(of: record) {
                halves.forEach(persist)
            } else {
                drop(record.signal, record.itemCount, .rejected)
            }
            return true
        case .rejected:
            folder.remove(stored)
            drop(record.signal, record.itemCount, .rejected)
            return true
        }
    }

    /// The two halves of a batch a receiver found too large, marked so a second 413 drops them.
    static func halves(of record: BatchRecord) -> [BatchRecord]? {
        guard let raw = try? Gzip.decompress(record.payload, maxOutputBytes: 256 << 20),
            let (first, second) = OTLPRequestSplitter.halves(raw),
            let a = try? Gzip.compress(first, level: Gzip.otlpLevel),
            let b = try? Gzip.compress(second, level: Gzip.otlpLevel)
        else { return nil }
        let firstCount = record.itemCount / 2
        return [
            BatchRecord(
                signal: record.signal, important: record.important, split: true, itemCount: firstCount,
                createdMs: record.createdMs, payload: a),
            BatchRecord(
                signal: record.signal, important: record.important, split: true,
                itemCount: record.itemCount - firstCount, createdMs: record.createdMs, payload: b),
        ]
    }

    private func send(_ gzipBody: [UInt8], signal: UploadPolicy.Signal, name: String?) -> UploadVerdict {
        let started = clock.now()
        let answer = uploader.send(gzipBody: gzipBody, signal: signal, batchName: name)
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

    /// Sends the exporter's own numbers with the uploads, when they are due (not persisted: a report that does
    /// not go is simply still due next time).
    private func reportStatsIfDue() {
        guard settings.reportsStats else { return }
        let now = clock.now()
        let current = counters.snapshot
        let (previous, at) = state.withLock { ($0.reported, $0.reportedAtMs) }
        guard ExporterStatsReport.isDue(previous: previous, current: current, lastReportMs: at, nowMs: now.wallMillis)
        else { return }
        let record = ExporterStatsReport.record(previous: previous, current: current, atNanos: now.wallNanos)
        guard
            let body = try? Gzip.compress(
                OTLPEncoder.encodeLogs(resource: resource(), scope: scope, logs: [record]), level: Gzip.otlpLevel)
        else { return }
        if case .delivered = send(body, signal: .logs, name: nil) {
            state.withLock { s in
                s.reported = current
                s.reportedAtMs = now.wallMillis
            }
        }
    }

    // MARK: Counting

    private func drop(_ signal: BatchRecord.Signal, _ n: Int, _ reason: DropReason) {
        if signal == .traces {
            counters.dropSpans(reason, Int64(n))
        } else {
            counters.dropLogs(reason, Int64(n))
        }
    }

    private func count(_ drops: BatchFolder.Drops, as reason: DropReason) {
        counters.dropSpans(reason, Int64(drops.spans))
        counters.dropLogs(reason, Int64(drops.logs))
    }
}
