import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport

@testable import StitchExporter

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A folder under the temporary directory, removed when the value is dropped by the test.
final class TemporaryFolder: Sendable {
    let url: URL

    init(_ label: String = "stitch-test") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// One exporter with doubles for time, network and IDs, on its own state folder.
struct ExporterUnderTest {
    static let key: [UInt8] = Array("stitch-tests-pseudonymisation-key-32b".utf8)

    let stitch: StitchInstance
    let clock: ManualClock
    let network: NetworkDouble
    let power: PowerDouble
    let folder: TemporaryFolder

    init(
        endpoint: URL, consent: Consent = .pending, propagationHosts: [String] = ["localhost"], seed: UInt64 = 1,
        samplingRate: Double = 1, bufferCapacity: Int = 2048, maxBatchSize: Int = 512,
        maxBatchDelay: TimeInterval = 3600, offlineQueueTimeout: TimeInterval = 10,
        persistence: BatchFolderLimits = BatchFolderLimits(), cellularRoutineDelay: TimeInterval = 600,
        reportsExporterStats: Bool = false, power: PowerDouble = PowerDouble(),
        clock: ManualClock = ManualClock(), network: NetworkDouble = NetworkDouble(),
        folder: TemporaryFolder = TemporaryFolder()
    ) throws {
        self.clock = clock
        self.network = network
        self.power = power
        self.folder = folder
        stitch = try StitchInstance(
            configuration: Configuration(
                endpoint: endpoint, serviceName: "com.example.shop.ios", serviceVersion: "4.12.0+1873",
                hmacKeyProvider: StaticHMACKey(Self.key), propagationHosts: propagationHosts,
                samplingRate: samplingRate, consent: consent, stateDirectory: folder.url,
                bufferCapacity: bufferCapacity, maxBatchSize: maxBatchSize,
                maxBatchDelay: maxBatchDelay, offlineQueueTimeout: offlineQueueTimeout, persistence: persistence,
                cellularRoutineDelay: cellularRoutineDelay, reportsExporterStats: reportsExporterStats,
                platform: Configuration.Platform(
                    clock: clock, network: network, power: power, ids: SeededIDGenerator(seed: seed),
                    device: DeviceInfo(osName: "iOS", osVersion: "18.1", modelIdentifier: "iPhone15,2"))))
        // Lets the exporter's first pass (which sends what a previous launch left) finish before the test acts,
        // so the batches a test cuts are the ones it expects.
        stitch.flush(timeout: 5)
    }

    /// An app `URLSession` without caches, instrumented by this exporter.
    func instrumentedSession() -> InstrumentedURLSession {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 10
        c.urlCache = nil
        return stitch.instrument(URLSession(configuration: c))
    }
}

/// `http://localhost:<port>` for a loopback server: `localhost` is on the tests' allow-list, `127.0.0.1` is not.
func viaLocalhost(_ url: URL) -> URL {
    var c = URLComponents(url: url, resolvingAgainstBaseURL: false)!
    c.host = "localhost"
    return c.url!
}

/// Every string a decoded batch carries, with where it was found: resource and attribute values, span and event
/// names, log bodies. The privacy tests scan these.
func everyString(in batch: ReceivedBatch) -> [(where: String, value: String)] {
    var out: [(String, String)] = []
    func add(_ place: String, _ attributes: [Attribute]) {
        for a in attributes { collect(place + " " + a.key, a.value, into: &out) }
    }
    for s in batch.spans {
        add("resource", s.resource.entries)
        out.append(("span name", s.span.name))
        add("span \(s.span.name)", s.span.attributes)
        for e in s.span.events {
            out.append(("event name", e.name))
            add("event \(e.name)", e.attributes)
        }
    }
    for l in batch.logRecords {
        add("resource", l.resource.entries)
        add("log \(l.record.eventName)", l.record.attributes)
        if case .string(let body)? = l.record.body { out.append(("log body", body)) }
    }
    return out
}

private func collect(_ place: String, _ value: AttributeValue, into out: inout [(String, String)]) {
    switch value {
    case .string(let s): out.append((place, s))
    case .array(let values): for v in values { collect(place, v, into: &out) }
    case .keyValueList(let list): for a in list { collect(place + "." + a.key, a.value, into: &out) }
    case .bool, .int, .double, .bytes: break
    }
}

/// Every attribute key a decoded batch carries (resource, spans, events, logs).
func everyAttributeKey(in batch: ReceivedBatch) -> Set<String> {
    var keys = Set<String>()
    for s in batch.spans {
        keys.formUnion(s.resource.keys)
        keys.formUnion(s.span.attributes.map(\.key))
        for e in s.span.events { keys.formUnion(e.attributes.map(\.key)) }
    }
    for l in batch.logRecords {
        keys.formUnion(l.resource.keys)
        keys.formUnion(l.record.attributes.map(\.key))
    }
    return keys
}

extension ReceivedSpan {
    var sessionID: String? { attributes.string(SchemaAttribute.sessionID) }
}

extension ReceivedLogRecord {
    var sessionID: String? { attributes.string(SchemaAttribute.sessionID) }
}

/// The `traceparent` header split into its trace and parent span; nil when malformed.
func traceparentParts(_ header: String?) -> (trace: String, parent: String)? {
    guard let parts = header?.split(separator: "-"), parts.count == 4 else { return nil }
    return (String(parts[1]), String(parts[2]))
}
