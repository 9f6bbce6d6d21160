import Foundation
import StitchExporter
import StitchOTLP
import StitchTestSupport

/// One run of the demo: set up the servers it needs, run the journey through the exporter, deliver, report.
struct DemoRun {
    let options: DemoOptions
    let key: [UInt8]

    func run() async -> Int32 {
        do {
            return try await runThrowing()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 1
        }
    }

    private func runThrowing() async throws -> Int32 {
        if options.flushOnly { return try flushOnly() }
        let receiver = options.endpoint == nil ? try InProcessOTLPReceiver() : nil
        let backend = options.appBackend == nil ? try DemoAppBackend() : nil
        let thirdParty = options.thirdParty == nil ? try DemoAppBackend() : nil
        defer {
            receiver?.stop()
            backend?.stop()
            thirdParty?.stop()
        }
        let endpoint = options.endpoint ?? receiver!.endpoint
        let appBackend = options.appBackend ?? backend!.baseURL
        let thirdPartyURL = options.thirdParty ?? thirdParty!.baseURL
        let stateDirectory =
            options.stateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("stitch-demo-\(UUID().uuidString)")
        let clock = JumpingClock(behindMillis: DemoJourney.plannedJumpMillis(sessions: options.sessions))
        let ids: any IDGenerator = options.seed.map { SeededIDGenerator(seed: $0) } ?? RandomIDGenerator()
        let allowHost = appBackend.host ?? "127.0.0.1"
        let stitch = try StitchInstance(
            configuration: configuration(
                endpoint: endpoint, allowHost: allowHost, consent: .pending, stateDirectory: stateDirectory,
                clock: clock, ids: ids))

        print("Stitch exporter demo")
        print("  OTLP endpoint   \(endpoint.absoluteString)\(receiver != nil ? " (built-in receiver)" : "")")
        print("  app backend     \(appBackend.absoluteString) (allow-listed: gets traceparent and baggage)")
        print("  third party     \(thirdPartyURL.absoluteString) (not allow-listed: no Stitch headers)")
        print("  state folder    \(stateDirectory.path)")
        print("")

        // Both built-in servers are on 127.0.0.1; the allow-list is by host, so the built-in third party is reached
        // as "localhost" to stay off the list.
        let thirdPartyReached = Self.replacingHost(thirdPartyURL, with: "localhost", when: options.thirdParty == nil)
        let journey = DemoJourney(
            sessions: options.sessions, appBackend: appBackend, thirdParty: thirdPartyReached,
            jump: { clock.jump(milliseconds: $0) })
        let steps = await journey.run(
            on: stitch,
            onSession: { index in
                // The built-in collector goes down for the rest of the journey: batches wait on the device.
                if index == 1, let receiver {
                    receiver.setDown(true)
                    print("  (the built-in OTLP receiver goes down: batches wait in the state folder)")
                }
            })
        print("Recorded (requests through the instrumented URLSession):")
        for s in steps {
            print("  \(s.action.padding(toLength: 18, withPad: " ", startingAt: 0)) \(s.request) -> \(s.outcome)")
        }
        print("")

        var delivered = stitch.flush(timeout: 30)
        if let receiver, !delivered {
            let waiting = stitch.persistedBacklog
            print(
                "Receiver down: \(waiting.batches) batches (\(waiting.items) items, \(waiting.bytes) bytes) wait on disk;"
                    + " it comes back up")
            receiver.setDown(false)
            // Past the back-off the failed uploads asked for (the demo's clock is the device's).
            clock.jump(milliseconds: 10 * 60 * 1000)
            delivered = stitch.flush(timeout: 30)
        }
        stitch.shutdown()
        let waiting = stitch.persistedBacklog
        let c = stitch.counters
        printCounters(c, stitch: stitch)
        if let backend {
            let propagated = backend.requests.filter { $0.traceparent != nil }.count
            print("  app backend saw \(backend.requests.count) requests, \(propagated) with traceparent+baggage")
        }
        if let thirdParty {
            let leaked = thirdParty.requests.filter {
                $0.traceparent != nil || ($0.baggage ?? "").contains("session.id")
            }
            print("  third party saw \(thirdParty.requests.count) requests, \(leaked.count) with Stitch headers")
        }
        if let receiver {
            let payloads = receiver.received
            let spans = payloads.reduce(0) { $0 + $1.spans.count }
            let logs = payloads.reduce(0) { $0 + $1.logs.count }
            let bytes = payloads.reduce(0) { $0 + $1.body.count }
            let sessions = Set(payloads.flatMap { $0.spans + $0.logs }.compactMap { $0.attributes["session.id"] })
            let stats = payloads.flatMap(\.logs).filter { $0.eventName == "stitch.exporter.stats" }.count
            print(
                "Sent: \(payloads.count) OTLP requests, \(spans) spans, \(logs) log records (\(stats) of them the "
                    + "exporter's own stats), \(bytes) bytes gzip, \(sessions.count) sessions")
            if let out = options.outDirectory { try DemoPayloadWriter.write(payloads, to: out) }
        }
        let accounted =
            c.exportedSpans + c.totalDroppedSpans + c.exportedLogs + c.totalDroppedLogs + Int64(waiting.items)
            == c.recordedSpans + c.recordedLogs
        let unnamed = c.droppedSpans.keys.contains(.bufferFull) || c.droppedLogs.keys.contains(.bufferFull)
        guard accounted, !unnamed, stitch.pendingItemCount == 0 else {
            print("NOT ACCOUNTED FOR: \(stitch.pendingItemCount) items in memory, counters do not add up")
            return 1
        }
        if delivered {
            print("OK: everything recorded was delivered or dropped by a rule named above")
        } else {
            print(
                "OK: \(waiting.batches) batches (\(waiting.items) items, \(waiting.bytes) bytes) wait in "
                    + "\(stateDirectory.path); deliver them with --flush-only --state-dir \(stateDirectory.path)")
        }
        return 0
    }

    /// Delivers what an earlier run left in the state folder, and nothing else.
    private func flushOnly() throws -> Int32 {
        let receiver = options.endpoint == nil ? try InProcessOTLPReceiver() : nil
        defer { receiver?.stop() }
        let endpoint = options.endpoint ?? receiver!.endpoint
        let stateDirectory = options.stateDirectory!
        let waitingFiles =
            (try? FileManager.default.contentsOfDirectory(
                atPath: stateDirectory.appendingPathComponent("batches").path))?.filter { $0.hasSuffix(".stb") }.count
            ?? 0
        let stitch = try StitchInstance(
            configuration: configuration(
                endpoint: endpoint, allowHost: "localhost", consent: .granted, stateDirectory: stateDirectory,
                clock: SystemClock(), ids: RandomIDGenerator()))
        print("Stitch exporter demo --flush-only: \(waitingFiles) batch files in \(stateDirectory.path)")
        let delivered = stitch.flush(timeout: 60)
        stitch.shutdown()
        let after = stitch.persistedBacklog
        let c = stitch.counters
        printCounters(c, stitch: stitch)
        if delivered, after.batches == 0 {
            print("OK: the state folder holds no batch")
            return 0
        }
        print("NOT DELIVERED: \(after.batches) batches (\(after.items) items) still wait")
        return 1
    }

    private func configuration(
        endpoint: URL, allowHost: String, consent: Consent, stateDirectory: URL, clock: any TelemetryClock,
        ids: any IDGenerator
    ) -> Configuration {
        Configuration(
            endpoint: endpoint, serviceName: "com.example.shop.ios", serviceVersion: "4.12.0+1873",
            hmacKeyProvider: StaticHMACKey(key), propagationHosts: [allowHost], consent: consent,
            stateDirectory: stateDirectory, maxBatchDelay: 2,
            platform: Configuration.Platform(
                clock: clock, network: NetworkDouble(NetworkStatus(type: .wifi)), ids: ids,
                device: DeviceInfo(osName: "iOS", osVersion: "18.1", modelIdentifier: "iPhone15,2")))
    }

    private func printCounters(_ c: ExportCountersSnapshot, stitch: StitchInstance) {
        print("Exporter counters:")
        print(
            "  spans recorded \(c.recordedSpans), exported \(c.exportedSpans), dropped \(Self.describe(c.droppedSpans))"
        )
        print("  logs  recorded \(c.recordedLogs), exported \(c.exportedLogs), dropped \(Self.describe(c.droppedLogs))")
        print(
            "  uploads \(c.uploads), failed \(c.uploadFailures), retried \(c.retriedUploads), attributes dropped "
                + "\(c.droppedAttributes), on disk \(c.persistedBytes) bytes, last upload \(c.lastUploadLatencyMs) ms")
        if let offset = stitch.clockOffsetMs { print("  clock offset estimate \(offset) ms (server minus device)") }
    }

    static func describe(_ drops: [DropReason: Int64]) -> String {
        if drops.isEmpty { return "0" }
        return drops.keys.sorted().map { "\(drops[$0]!) \($0.rawValue)" }.joined(separator: ", ")
    }

    static func replacingHost(_ url: URL, with host: String, when condition: Bool) -> URL {
        guard condition, var c = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url }
        c.host = host
        return c.url ?? url
    }
}

/// Writes the payloads as sent (gzip) and as protobuf, with a manifest of what each holds.
enum DemoPayloadWriter {
    static func write(_ payloads: [InProcessOTLPReceiver.Payload], to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var entries: [[String: Any]] = []
        for (i, p) in payloads.enumerated() {
            let name = String(format: "%03d-%@", i + 1, p.path == "/v1/traces" ? "traces" : "logs")
            try Data(p.body).write(to: dir.appendingPathComponent("\(name).pb.gz"))
            entries.append([
                "file": "\(name).pb.gz", "path": p.path, "content_encoding": p.headers["content-encoding"] ?? "",
                "spans": p.spans.count, "log_records": p.logs.count, "bytes": p.body.count,
            ])
        }
        let data = try JSONSerialization.data(
            withJSONObject: ["payloads": entries], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: dir.appendingPathComponent("manifest.json"))
    }
}
