/// Why the exporter did not send something. Every item recorded is either exported or counted under one of these.
public enum DropReason: String, Sendable, CaseIterable, Comparable {
    /// The schema's sampling rule said drop (routine telemetry of a session sampled out).
    case sampledOut = "sampled_out"
    /// Consent was denied: the item was discarded on the device.
    case consentDenied = "consent_denied"
    /// The in-memory buffer was full (consent pending for long, or no network for long).
    case bufferFull = "buffer_full"
    /// The on-device folder reached its size bound.
    case diskFull = "disk_full"
    /// A persisted batch was older than the maximum age.
    case expired
    /// The receiver refused the batch for good (400, 413 after a split, other 4xx).
    case rejected
    /// The receiver accepted the batch but rejected some items (`partial_success`).
    case partiallyRejected = "partially_rejected"
    /// A persisted file could not be read back (truncated or malformed).
    case unreadable
    /// The exporter was shut down with the item still unsent and unpersisted.
    case shutdown

    public static func < (a: DropReason, b: DropReason) -> Bool { a.rawValue < b.rawValue }
}

/// The exporter's own numbers: what it recorded, sent, retried and dropped. Readable from the API
/// (`Stitch.counters`) and sent as a compact log record.
public struct ExportCountersSnapshot: Sendable, Equatable {
    public var recordedSpans: Int64 = 0
    public var recordedLogs: Int64 = 0
    public var exportedSpans: Int64 = 0
    public var exportedLogs: Int64 = 0
    public var uploads: Int64 = 0
    public var uploadFailures: Int64 = 0
    public var retriedUploads: Int64 = 0
    public var droppedAttributes: Int64 = 0
    public var sessionStateUnreadable: Int64 = 0
    public var sessionStateWriteFailed: Int64 = 0
    public var persistedBytes: Int64 = 0
    public var lastUploadLatencyMs: Int64 = 0
    public var droppedSpans: [DropReason: Int64] = [:]
    public var droppedLogs: [DropReason: Int64] = [:]

    public var totalDroppedSpans: Int64 { droppedSpans.values.reduce(0, +) }
    public var totalDroppedLogs: Int64 { droppedLogs.values.reduce(0, +) }
}

/// The counters, safe to bump from any thread (a short lock per bump; nothing else is done under it).
public final class ExportCounters: Sendable {
    enum Counter {
        case recordedSpans, recordedLogs, exportedSpans, exportedLogs, uploads, uploadFailures, retriedUploads
        case droppedAttributes, sessionStateUnreadable, sessionStateWriteFailed
    }

    private let values = Locked(ExportCountersSnapshot())

    public init() {}

    public var snapshot: ExportCountersSnapshot { values.current }

    func add(_ counter: Counter, _ n: Int64 = 1) {
        values.withLock { v in
            switch counter {
            case .recordedSpans: v.recordedSpans += n
            case .recordedLogs: v.recordedLogs += n
            case .exportedSpans: v.exportedSpans += n
            case .exportedLogs: v.exportedLogs += n
            case .uploads: v.uploads += n
            case .uploadFailures: v.uploadFailures += n
            case .retriedUploads: v.retriedUploads += n
            case .droppedAttributes: v.droppedAttributes += n
            case .sessionStateUnreadable: v.sessionStateUnreadable += n
            case .sessionStateWriteFailed: v.sessionStateWriteFailed += n
            }
        }
    }

    func dropSpans(_ reason: DropReason, _ n: Int64 = 1) {
        guard n > 0 else { return }
        values.withLock { $0.droppedSpans[reason, default: 0] += n }
    }

    func dropLogs(_ reason: DropReason, _ n: Int64 = 1) {
        guard n > 0 else { return }
        values.withLock { $0.droppedLogs[reason, default: 0] += n }
    }

    func setPersistedBytes(_ n: Int64) { values.withLock { $0.persistedBytes = n } }

    func setUploadLatency(ms: Int64) { values.withLock { $0.lastUploadLatencyMs = ms } }
}
