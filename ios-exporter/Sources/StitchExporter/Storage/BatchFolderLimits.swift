/// The bounds of the folder of persisted batches. The defaults follow the big iOS SDKs' persistence (small files,
/// a bounded folder, a maximum age — Datadog iOS keeps files for 18 h), sized for a phone: a few megabytes hold
/// days of errors and hours of routine telemetry at typical rates.
public struct BatchFolderLimits: Sendable, Equatable {
    /// The largest batch file; a batch cut larger than this is split before it is written (default 1 MiB).
    public var maxFileBytes: Int
    /// The whole folder (default 16 MiB). When a write would go over, the least valuable batches are dropped first:
    /// routine before errors and slow requests, the oldest first.
    public var maxFolderBytes: Int
    /// A batch older than this is dropped unsent (default 24 h): a receiver would file it far in the past.
    public var maxAgeMs: Int64

    public init(maxFileBytes: Int = 1 << 20, maxFolderBytes: Int = 16 << 20, maxAgeMs: Int64 = 24 * 3_600_000) {
        self.maxFileBytes = maxFileBytes
        self.maxFolderBytes = maxFolderBytes
        self.maxAgeMs = maxAgeMs
    }
}
