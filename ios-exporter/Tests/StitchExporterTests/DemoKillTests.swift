import Foundation
import StitchTestSupport
import Testing

@testable import StitchExporter

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The demo app killed with SIGKILL at random instants while it writes batches (its receiver unreachable, so
/// everything goes to disk): every batch file left is whole, and `--flush-only` then delivers each span once.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct DemoKillTests {
    static let kills = 50

    static var demo: URL {
        ProbeProcess.executable.deletingLastPathComponent().appendingPathComponent("stitch-exporter-demo")
    }

    /// Runs the demo and kills it after `after` seconds (if it is still running); true when it was killed.
    static func runAndKill(_ arguments: [String], after: TimeInterval) throws -> Bool {
        let p = Process()
        p.executableURL = demo
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(after)
        while p.isRunning, Date() < deadline { usleep(5_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return p.terminationReason == .uncaughtSignal
    }

    static func batchFiles(_ folder: URL) -> [URL] {
        let dir = folder.appendingPathComponent("batches")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(BatchFolder.suffix) }.map { dir.appendingPathComponent($0) }
    }

    @Test func everyFileLeftByAKillIsAWholeBatchAndFlushOnlyDeliversEachSpanOnce() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.demo.path), "\(Self.demo.path) was not built")
        let state = TemporaryFolder("stitch-kill")
        let arguments = ["--endpoint", "http://127.0.0.1:9", "--state-dir", state.url.path, "--sessions", "2"]
        // One whole run tells how long a run takes here; the kills land at random instants within it.
        let started = Date()
        #expect(try !Self.runAndKill(arguments, after: 60))
        let runSeconds = Date().timeIntervalSince(started)
        let random = SeededIDGenerator(seed: 50)
        var killed = 0
        for _ in 0..<Self.kills {
            let after = runSeconds * Double(random.spanID().value % 950) / 1_000
            if try Self.runAndKill(arguments, after: after) { killed += 1 }
            for file in Self.batchFiles(state.url) {
                let bytes = try [UInt8](Data(contentsOf: file))
                #expect(throws: Never.self, "\(file.lastPathComponent) is not a whole batch") {
                    _ = try BatchRecord.decode(bytes)
                }
            }
        }
        #expect(killed >= Self.kills / 2, "only \(killed) runs were killed mid-way")
        let files = Self.batchFiles(state.url)
        let records = try files.map { try BatchRecord.decode([UInt8](Data(contentsOf: $0))) }
        let waitingSpans = records.filter { $0.signal == .traces }.reduce(0) { $0 + $1.itemCount }
        try #require(waitingSpans > 0)

        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let p = Process()
        p.executableURL = Self.demo
        p.arguments = ["--flush-only", "--state-dir", state.url.path, "--endpoint", receiver.endpoint.absoluteString]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(Self.batchFiles(state.url).isEmpty)
        let ids = try receiver.received().spans.map(\.span.spanID)
        #expect(ids.count == waitingSpans)
        #expect(Set(ids).count == ids.count, "a span was delivered twice")
    }
}
