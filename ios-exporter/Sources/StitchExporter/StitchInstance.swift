import Foundation
import StitchOTLP
import StitchSchema

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One running exporter. Apps use it through `Stitch`; tests and the demo may run several side by side.
public final class StitchInstance: Sendable {
    /// The instrumentation scope every span and record is sent under.
    public static let scope = InstrumentationScope(name: "com.stitch.ios.exporter", version: "0.1.0")

    public let stateDirectory: URL
    let recorder: ItemRecorder
    let allowList: HostAllowList
    let offlineQueueTimeout: TimeInterval
    private let counterStore: ExportCounters
    private let buffer: TelemetryBuffer
    private let pipeline: ExportPipeline
    private let tracker: SessionTracker
    private let hasher: any KeyedHasher
    private let key: [UInt8]
    private let resource: Locked<ResourceData>
    private let baseResource: [Attribute]

    public init(configuration c: Configuration) throws {
        try ConfigurationError.validate(c)
        key = try c.hmacKeyProvider.pseudonymisationKey()
        hasher = c.platform.hasher
        stateDirectory = c.stateDirectory ?? Self.defaultStateDirectory()
        do {
            try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError(field: "stateDirectory", problem: "cannot be created: \(error)")
        }
        allowList = HostAllowList(c.propagationHosts)
        offlineQueueTimeout = c.offlineQueueTimeout
        let counters = ExportCounters()
        counterStore = counters
        buffer = TelemetryBuffer(capacity: c.bufferCapacity, batchSize: c.maxBatchSize, counters: counters)
        tracker = SessionTracker(
            store: FileSessionStore(directory: stateDirectory), ids: c.platform.ids, counters: counters)
        let context = Locked(RecordingContext(consent: c.consent))
        recorder = ItemRecorder(
            samplingRate: c.samplingRate, latencyThresholdMs: c.latencyThresholdMs, clock: c.platform.clock,
            network: c.platform.network, ids: c.platform.ids, tracker: tracker, buffer: buffer, counters: counters,
            context: context)
        let device = c.platform.device
        baseResource = [
            Attribute(SchemaAttribute.serviceName, c.serviceName),
            Attribute(SchemaAttribute.serviceVersion, c.serviceVersion),
            Attribute(SchemaAttribute.osName, device.osName),
            Attribute(SchemaAttribute.osVersion, device.osVersion),
            Attribute(SchemaAttribute.deviceModelIdentifier, device.modelIdentifier),
            Attribute(SchemaAttribute.stitchSchemaVersion, SchemaCatalog.version),
            // Exported data always carries granted: nothing is sent in any other state.
            Attribute(SchemaAttribute.stitchConsent, Consent.granted.rawValue),
        ]
        resource = Locked(ResourceData(attributes: baseResource))
        let resourceBox = resource
        pipeline = ExportPipeline(
            buffer: buffer,
            folder: BatchFolder(
                directory: stateDirectory.appendingPathComponent("batches", isDirectory: true), limits: c.persistence),
            uploader: OTLPUploader(
                endpoint: c.endpoint, headers: c.headers, session: c.platform.uploadSession, timeout: 30),
            counters: counters, resource: { resourceBox.current }, scope: Self.scope, clock: c.platform.clock,
            network: c.platform.network, power: c.platform.power,
            settings: ExportPipeline.Settings(
                maxBatchSize: c.maxBatchSize, maxBatchDelay: c.maxBatchDelay,
                schedule: DeliverySchedule(cellularRoutineDelayMs: Int64(c.cellularRoutineDelay * 1000)),
                reportsStats: c.reportsExporterStats),
            consent: { context.current.consent })
        if c.consent == .granted { refreshInstallationResource() }
        if c.consent == .denied { forgetPersistedTelemetry() }

        recorder.recordLifecycle(.launch, appState: nil, at: c.platform.clock.now())
        let tracker = self.tracker
        pipeline.start(onTick: { [recorder] in
            recorder.recordLifecycle(.tick, appState: nil, at: recorder.clock.now())
            tracker.persist()
        })
        if let lifecycle = c.platform.lifecycle {
            let inForeground = lifecycle.start { [weak self] event in self?.handle(event) }
            if inForeground { handle(.foreground) }
        }
    }

    deinit { pipeline.stop() }

    // MARK: Consent

    public var consent: Consent { recorder.consent }

    /// `granted` sends what was held and starts propagation; `denied` discards everything held in memory and on
    /// disk and stops all headers; `pending` holds again.
    public func setConsent(_ consent: Consent) {
        let previous = recorder.context.withLock { ctx -> Consent in
            let p = ctx.consent
            ctx.consent = consent
            return p
        }
        guard previous != consent else { return }
        switch consent {
        case .granted:
            refreshInstallationResource()
            pipeline.requestUpload()
        case .denied:
            let (spans, logs) = buffer.discardAll()
            counterStore.dropSpans(.consentDenied, Int64(spans))
            counterStore.dropLogs(.consentDenied, Int64(logs))
            recorder.context.withLock { $0.userIDHash = nil }
            forgetPersistedTelemetry()
        case .pending:
            break
        }
    }

    // MARK: Actions and context

    /// Runs `body` as the user action `name`: its requests join the action's trace. The action fails when `body`
    /// throws or one of its requests fails.
    public func action<T>(
        _ name: String, attributes: [Attribute] = [], _ body: (ActionSpan) throws -> T
    ) rethrows -> T {
        let span = recorder.startAction(name: name, attributes: attributes)
        defer { span.end() }
        do {
            return try ActionContext.$current.withValue(span) { try body(span) }
        } catch {
            span.markFailed(errorType: Self.errorType(of: error))
            throw error
        }
    }

    public func action<T: Sendable>(
        _ name: String, attributes: [Attribute] = [], _ body: @Sendable (ActionSpan) async throws -> T
    ) async rethrows -> T {
        let span = recorder.startAction(name: name, attributes: attributes)
        defer { span.end() }
        do {
            return try await ActionContext.$current.withValue(span) { try await body(span) }
        } catch {
            span.markFailed(errorType: Self.errorType(of: error))
            throw error
        }
    }

    /// Starts an action that ends when the app calls `end()` (for callback-style code).
    public func startAction(_ name: String, attributes: [Attribute] = []) -> ActionSpan {
        recorder.startAction(name: name, attributes: attributes)
    }

    /// The screen now shown (`app.screen.name`: a view type name, never user content); nil when none.
    public func setScreen(_ name: String?) {
        let valid = name.map { AttributeSanitizer.isValid(SchemaAttribute.appScreenName, $0) } ?? true
        if !valid { counterStore.add(.droppedAttributes) }
        recorder.context.withLock { $0.screenName = valid ? name : nil }
    }

    /// Records a feature-flag evaluation: a span event of the current action, or a log record outside one.
    public func setFeatureFlag(key: String, variant: String) {
        let attrs = AttributeSanitizer.sanitize([
            Attribute(SchemaAttribute.featureFlagKey, key),
            Attribute(SchemaAttribute.featureFlagResultVariant, variant),
        ])
        recorder.countDroppedAttributes(attrs.dropped)
        guard attrs.dropped == 0 else { return }
        if let action = ActionContext.current, action.isRecording {
            action.addEvent("feature_flag.evaluation", attributes: attrs.kept)
        } else if recorder.consent != .denied {
            let now = recorder.clock.now()
            recorder.emitLog(
                eventName: "", body: "feature_flag.evaluation", severity: .info,
                sessionID: recorder.sessionForRecording(at: now), at: now, extra: attrs.kept)
        }
    }

    /// The signed-in user: `id` leaves the device only as its keyed hash (`user.id`), and only with consent;
    /// `tier` is the commercial tier (`stitch.user.tier`). nil signs out.
    public func setUser(id: String?, tier: String? = nil) {
        let hash = id.flatMap { raw -> String? in
            guard !raw.isEmpty else { return nil }
            return hex(hasher.hmacSHA256(message: Array(raw.utf8), key: key))
        }
        let validTier = tier.flatMap { AttributeSanitizer.isValid(SchemaAttribute.stitchUserTier, $0) ? $0 : nil }
        if tier != nil, validTier == nil { counterStore.add(.droppedAttributes) }
        recorder.context.withLock { ctx in
            ctx.userIDHash = hash
            ctx.userTier = validTier
        }
    }

    // MARK: Lifecycle

    /// Feeds a UIKit lifecycle change (the UIKit adapter calls this itself on iOS).
    public func handle(_ event: AppLifecycleEvent) {
        let kind: LifecycleEventKind
        switch event {
        case .active, .foreground: kind = .foreground
        case .inactive: kind = .tick
        case .background: kind = .background
        case .terminate: kind = .terminate
        }
        recorder.recordLifecycle(kind, appState: event, at: recorder.clock.now())
        if event == .background || event == .terminate {
            tracker.persist()
            pipeline.requestUpload()
        }
    }

    /// Background work the system woke the app for (a background fetch, a push); it carries the current session.
    public func beginBackgroundWork(_ work: BackgroundWork) {
        let kind: LifecycleEventKind = work == .push ? .push : .backgroundFetch
        recorder.recordLifecycle(kind, appState: nil, at: recorder.clock.now())
    }

    /// The session telemetry is stamped with now; nil before the first one.
    public var currentSessionID: String? { tracker.currentSessionID }

    // MARK: Requests

    /// Wraps `session` so the requests sent through it are instrumented.
    public func instrument(_ session: URLSession) -> InstrumentedURLSession {
        InstrumentedURLSession(session: session, exporter: { [weak self] in self })
    }

    func observeServerDate(_ serverMs: Int64, sentAtMs: Int64, receivedAtMs: Int64) {
        recorder.context.withLock {
            $0.clockOffset.add(serverDateMs: serverMs, sentAtMs: sentAtMs, receivedAtMs: receivedAtMs)
        }
    }

    /// The current estimate of server time minus device time, in milliseconds; nil before the first answer.
    public var clockOffsetMs: Int64? { recorder.context.current.clockOffset.estimateMs }

    // MARK: Delivery

    /// Uploads everything held now, waiting up to `timeout`; true when nothing is left. Call it off the main
    /// thread (the exporter uploads by itself; this is for tests, tools and the end of background tasks).
    @discardableResult
    public func flush(timeout: TimeInterval = 10) -> Bool {
        tracker.waitForPersistence()
        return pipeline.flush(timeout: timeout)
    }

    /// What the exporter recorded, sent, retried and dropped so far.
    public var counters: ExportCountersSnapshot { counterStore.snapshot }

    /// Items held in memory and not yet cut into a batch.
    public var pendingItemCount: Int { buffer.count }

    /// What waits on the device's disk for delivery: batches, items and bytes. Blocks until the export queue is
    /// free; for tools and tests.
    public var persistedBacklog: (batches: Int, items: Int, bytes: Int) { pipeline.persisted }

    /// Stops the periodic upload and writes what memory holds to the batch folder (with consent), so the next
    /// launch sends it. Blocks until written.
    public func shutdown() {
        pipeline.stop()
        pipeline.persistHeld()
        tracker.waitForPersistence()
    }

    // MARK: Private

    private func refreshInstallationResource() {
        let hashed = InstallationID.load(in: stateDirectory, ids: recorder.ids).flatMap { raw -> String? in
            if case .success(let h) = PseudonymousID.hash(raw, key: key) { return h }
            return nil
        }
        var attributes = baseResource
        if let hashed { attributes.append(Attribute(SchemaAttribute.appInstallationID, hashed)) }
        resource.withLock { $0 = ResourceData(attributes: attributes) }
    }

    private func forgetPersistedTelemetry() {
        pipeline.discardPersisted()
        InstallationID.forget(in: stateDirectory)
        resource.withLock { $0 = ResourceData(attributes: baseResource) }
    }

    private static func defaultStateDirectory() -> URL {
        let base =
            FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask).first
            ?? FileManager.default.temporaryDirectory
        return base.appendingPathComponent("Stitch", isDirectory: true)
    }

    static func errorType(of error: any Error) -> String {
        let ns = error as NSError
        let type = "\(ns.domain).\(ns.code)"
        return type.utf8.count <= 128 && !PIIScanner.containsPII(type) ? type : "_OTHER"
    }

    private func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
