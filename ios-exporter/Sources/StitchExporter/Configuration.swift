import Foundation
import StitchSchema

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Telemetry consent, as the app's consent flow decides it. Nothing leaves the device before `granted`.
public enum Consent: String, Sendable, CaseIterable {
    /// Telemetry is kept on the device (bounded) and nothing is sent; requests carry no Stitch headers.
    case pending
    /// Telemetry is sent and requests to allow-listed hosts carry `traceparent` and `baggage`.
    case granted
    /// Everything held is discarded, nothing is recorded or sent, and no header is added.
    case denied
}

/// How the exporter is set up. Only `endpoint`, `serviceName`, `serviceVersion` and `hmacKeyProvider` have no
/// default; everything else follows the schema's defaults.
public struct Configuration: Sendable {
    /// The OTLP/HTTP receiver's base URL (`/v1/traces` and `/v1/logs` are appended), e.g. your collector.
    public var endpoint: URL
    /// Sent with every upload (for example an authorization header for the collector).
    public var headers: [String: String]
    /// The app's `service.name`, e.g. its bundle identifier.
    public var serviceName: String
    /// The app's `service.version` (`CFBundleShortVersionString`, optionally `+build`).
    public var serviceVersion: String
    /// Hosts whose requests carry `traceparent` and `baggage`: an exact host (`api.example.com`) or a suffix
    /// starting with a dot (`.example.com` matches every subdomain, not `example.com` itself). Empty: none.
    public var propagationHosts: [String]
    /// The schema's session sampling rate in [0, 1] (default 1: every session).
    public var samplingRate: Double
    /// Requests and actions at least this slow are kept even in a session sampled out (default 3000 ms; 0: off).
    public var latencyThresholdMs: Int64
    /// The key installation and user identifiers are hashed with (at least 32 bytes).
    public var hmacKeyProvider: any HMACKeyProvider
    /// Consent at start, until the app calls `Stitch.setConsent(_:)` (default `pending`).
    public var consent: Consent
    /// The folder the exporter owns (session state, installation ID, batches waiting to be sent). Default:
    /// `Application Support/Stitch` of the app.
    public var stateDirectory: URL?
    /// Items held in memory while consent is pending or before a batch is cut (default 2048 spans, 2048 logs).
    public var bufferCapacity: Int
    /// Items per upload (default 512, OpenTelemetry Swift's batch size).
    public var maxBatchSize: Int
    /// How long an item may wait in memory before its batch is cut (default 5 s).
    public var maxBatchDelay: TimeInterval
    /// How long an instrumented request waits for a network before it is sent anyway (default 30 s).
    public var offlineQueueTimeout: TimeInterval
    /// The bounds of the folder of batches waiting to be sent (default 1 MiB per file, 16 MiB, 24 h).
    public var persistence: BatchFolderLimits
    /// On a cellular network routine batches wait until they are this old, while errors and slow requests go at
    /// once (default 10 min). Low Power Mode multiplies it by four.
    public var cellularRoutineDelay: TimeInterval
    /// Whether the exporter sends its own counters as a `stitch.exporter.stats` log record (default true).
    public var reportsExporterStats: Bool
    /// The platform's parts, replaceable for tests: clocks, network, power, lifecycle, IDs, hashing.
    public var platform: Platform

    public init(
        endpoint: URL, serviceName: String, serviceVersion: String, hmacKeyProvider: any HMACKeyProvider,
        headers: [String: String] = [:], propagationHosts: [String] = [],
        samplingRate: Double = SessionSampling.defaultRate,
        latencyThresholdMs: Int64 = SessionSampling.defaultLatencyThresholdMs, consent: Consent = .pending,
        stateDirectory: URL? = nil, bufferCapacity: Int = 2048, maxBatchSize: Int = 512,
        maxBatchDelay: TimeInterval = 5, offlineQueueTimeout: TimeInterval = 30,
        persistence: BatchFolderLimits = BatchFolderLimits(), cellularRoutineDelay: TimeInterval = 600,
        reportsExporterStats: Bool = true, platform: Platform = Platform()
    ) {
        self.endpoint = endpoint
        self.serviceName = serviceName
        self.serviceVersion = serviceVersion
        self.hmacKeyProvider = hmacKeyProvider
        self.headers = headers
        self.propagationHosts = propagationHosts
        self.samplingRate = samplingRate
        self.latencyThresholdMs = latencyThresholdMs
        self.consent = consent
        self.stateDirectory = stateDirectory
        self.bufferCapacity = bufferCapacity
        self.maxBatchSize = maxBatchSize
        self.maxBatchDelay = maxBatchDelay
        self.offlineQueueTimeout = offlineQueueTimeout
        self.persistence = persistence
        self.cellularRoutineDelay = cellularRoutineDelay
        self.reportsExporterStats = reportsExporterStats
        self.platform = platform
    }

    /// The platform's parts. The defaults are the real ones for the platform the app runs on.
    public struct Platform: Sendable {
        public var clock: any TelemetryClock
        public var network: any NetworkPathMonitor
        public var power: any PowerStateProvider
        public var lifecycle: (any AppLifecycleSource)?
        public var ids: any IDGenerator
        public var hasher: any KeyedHasher
        public var device: DeviceInfo
        /// Sends the exporter's uploads; the app's own requests go through the session it instruments.
        public var uploadSession: URLSession

        public init(
            clock: any TelemetryClock = SystemClock(), network: (any NetworkPathMonitor)? = nil,
            power: any PowerStateProvider = SystemPowerState(), lifecycle: (any AppLifecycleSource)? = nil,
            ids: any IDGenerator = RandomIDGenerator(), hasher: (any KeyedHasher)? = nil,
            device: DeviceInfo = .current, uploadSession: URLSession? = nil
        ) {
            self.clock = clock
            self.network = network ?? Platform.defaultNetworkMonitor()
            self.power = power
            self.lifecycle = lifecycle ?? Platform.defaultLifecycle()
            self.ids = ids
            self.hasher = hasher ?? PlatformHasher.default
            self.device = device
            self.uploadSession = uploadSession ?? Platform.defaultUploadSession()
        }

        static func defaultNetworkMonitor() -> any NetworkPathMonitor {
            #if canImport(Network)
                return ApplePathMonitor()
            #else
                return UnmonitoredNetworkPath()
            #endif
        }

        static func defaultLifecycle() -> (any AppLifecycleSource)? {
            #if canImport(UIKit) && !os(watchOS)
                return UIKitLifecycleSource()
            #else
                return nil
            #endif
        }

        static func defaultUploadSession() -> URLSession {
            let c = URLSessionConfiguration.ephemeral
            c.timeoutIntervalForRequest = 30
            c.httpMaximumConnectionsPerHost = 1
            c.urlCache = nil
            c.httpCookieStorage = nil
            return URLSession(configuration: c)
        }
    }
}

/// Why `Stitch.start(configuration:)` refused a configuration. Each names the field to fix.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let problem: String

    public var description: String { "invalid Stitch configuration \(field): \(problem)" }

    static func validate(_ c: Configuration) throws {
        guard let scheme = c.endpoint.scheme?.lowercased(), scheme == "http" || scheme == "https",
            c.endpoint.host != nil
        else {
            throw ConfigurationError(field: "endpoint", problem: "must be an http or https URL with a host")
        }
        if let reason = AttributeValidator.validate(name: SchemaAttribute.serviceName, value: .string(c.serviceName)) {
            throw ConfigurationError(field: "serviceName", problem: "\(reason.rawValue) (the schema's service.name)")
        }
        if let reason = AttributeValidator.validate(
            name: SchemaAttribute.serviceVersion, value: .string(c.serviceVersion))
        {
            throw ConfigurationError(
                field: "serviceVersion", problem: "\(reason.rawValue) (the schema's service.version)")
        }
        guard c.samplingRate.isFinite, (0...1).contains(c.samplingRate) else {
            throw ConfigurationError(field: "samplingRate", problem: "must be a finite number in [0, 1]")
        }
        guard c.latencyThresholdMs >= 0 else {
            throw ConfigurationError(field: "latencyThresholdMs", problem: "must be 0 (off) or more")
        }
        guard c.bufferCapacity >= 1, c.bufferCapacity <= 1_000_000 else {
            throw ConfigurationError(field: "bufferCapacity", problem: "must be in 1...1000000")
        }
        guard c.maxBatchSize >= 1, c.maxBatchSize <= c.bufferCapacity else {
            throw ConfigurationError(field: "maxBatchSize", problem: "must be in 1...bufferCapacity")
        }
        guard c.maxBatchDelay > 0, c.maxBatchDelay <= 3600 else {
            throw ConfigurationError(field: "maxBatchDelay", problem: "must be in (0, 3600] seconds")
        }
        guard c.offlineQueueTimeout >= 0, c.offlineQueueTimeout <= 3600 else {
            throw ConfigurationError(field: "offlineQueueTimeout", problem: "must be in [0, 3600] seconds")
        }
        guard c.persistence.maxFileBytes >= 1024, c.persistence.maxFolderBytes >= c.persistence.maxFileBytes,
            c.persistence.maxAgeMs > 0
        else {
            throw ConfigurationError(
                field: "persistence", problem: "needs maxFileBytes ≥ 1024, maxFolderBytes ≥ maxFileBytes, maxAgeMs > 0")
        }
        guard c.cellularRoutineDelay >= 0, c.cellularRoutineDelay <= 86_400 else {
            throw ConfigurationError(field: "cellularRoutineDelay", problem: "must be in [0, 86400] seconds")
        }
        for host in c.propagationHosts where !HostAllowList.isWellFormed(host) {
            throw ConfigurationError(
                field: "propagationHosts", problem: "\"\(host)\" is not a lowercase host name or .suffix")
        }
        let key: [UInt8]
        do {
            key = try c.hmacKeyProvider.pseudonymisationKey()
        } catch {
            throw ConfigurationError(field: "hmacKeyProvider", problem: "could not supply a key: \(error)")
        }
        guard key.count >= PseudonymousID.minKeyBytes else {
            throw ConfigurationError(
                field: "hmacKeyProvider", problem: "key must have at least \(PseudonymousID.minKeyBytes) bytes")
        }
    }
}
