import Foundation
import StitchExporter
import StitchOTLP
import StitchTestSupport

/// Builds the exporter every benchmark measures: the real `StitchInstance` with consent granted, the demo's device,
/// and its own temporary state folder, which `remove()` deletes.
struct BenchExporter {
    let stitch: StitchInstance
    let stateDirectory: URL

    /// The exporter's default in-memory bound (spans, and separately logs), stated here so reports can name it.
    static let bufferCapacity = 2048

    /// A port nothing listens on (discard), for runs that must never deliver.
    static let unreachableEndpoint = URL(string: "http://127.0.0.1:9")!

    init(
        endpoint: URL, clock: any TelemetryClock, network: any NetworkPathMonitor, ids: any IDGenerator,
        consent: Consent = .granted, maxBatchDelay: TimeInterval = 5
    ) throws {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "stitch-bench-\(UUID().uuidString)", isDirectory: true)
        let configuration = Configuration(
            endpoint: endpoint, serviceName: "com.example.shop.ios", serviceVersion: "4.12.0+1873",
            hmacKeyProvider: StaticHMACKey(Array(repeating: 0x5A, count: 32)), consent: consent,
            stateDirectory: stateDirectory, bufferCapacity: Self.bufferCapacity, maxBatchDelay: maxBatchDelay,
            platform: Configuration.Platform(
                clock: clock, network: network, ids: ids,
                device: DeviceInfo(osName: "iOS", osVersion: "18.1", modelIdentifier: "iPhone15,2")))
        stitch = try StitchInstance(configuration: configuration)
        stitch.setScreen("ProductDetailView")
    }

    /// Stops the exporter and deletes its folder.
    func remove() {
        stitch.shutdown()
        try? FileManager.default.removeItem(at: stateDirectory)
    }

    /// Bytes of every file in the state folder (session state and installation ID today).
    var stateDirectoryBytes: Int {
        let keys: [URLResourceKey] = [.fileSizeKey, .isRegularFileKey]
        guard
            let files = FileManager.default.enumerator(
                at: stateDirectory, includingPropertiesForKeys: keys)
        else { return 0 }
        var total = 0
        for case let url as URL in files {
            let values = try? url.resourceValues(forKeys: Set(keys))
            if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
        }
        return total
    }

    /// The app attributes the benchmarks pass to each action: a count and a short enum-like string.
    static let actionAttributes = [Attribute("cart.items", 3), Attribute("checkout.step", "shipping")]
}
