import Foundation

/// A scenario run in a fresh child process of this benchmark, so its resident memory and peak are its own and not
/// what earlier benchmarks left in the allocator.
enum ChildScenario: Equatable {
    /// Goal 4: 100 spans/s for this many seconds, exported to a loopback sink.
    case steady(seconds: Int)
    /// Goal 5: this many spans recorded offline, with consent granted (to disk) or pending (memory only), at a
    /// pace (spans per second; 0: as fast as the thread can).
    case offline(spans: Int, consentGranted: Bool, ratePerSecond: Int)

    init?(argument: String) {
        let parts = argument.split(separator: ":").map(String.init)
        switch parts.first {
        case "steady" where parts.count == 2:
            guard let s = Int(parts[1]), (1...600).contains(s) else { return nil }
            self = .steady(seconds: s)
        case "offline" where parts.count == 4:
            guard let n = Int(parts[1]), (1...1_000_000).contains(n), ["granted", "pending"].contains(parts[2]),
                let rate = Int(parts[3]), (0...1_000_000).contains(rate)
            else { return nil }
            self = .offline(spans: n, consentGranted: parts[2] == "granted", ratePerSecond: rate)
        default:
            return nil
        }
    }

    var argument: String {
        switch self {
        case .steady(let seconds): return "steady:\(seconds)"
        case .offline(let spans, let granted, let rate):
            return "offline:\(spans):\(granted ? "granted" : "pending"):\(rate)"
        }
    }
}

/// Starts this executable again for one scenario and reads back its result, a JSON line after a marker on its
/// standard output. The child's standard error passes through.
enum ChildProcess {
    static let marker = "STITCH-BENCH-RESULT "

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// In the child: prints the result for the parent.
    static func report<R: Encodable>(_ result: R) throws {
        let json = try JSONEncoder().encode(result)
        print(marker + String(decoding: json, as: UTF8.self))
    }

    /// In the parent: runs `scenario` and decodes its result; the child is ended if it outlives `timeoutSeconds`.
    static func run<R: Decodable>(_ scenario: ChildScenario, timeoutSeconds: Double, as: R.Type) throws -> R {
        guard let executable = Bundle.main.executableURL else {
            throw Failure(description: "cannot find this benchmark's executable to start a child")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "stitch-bench-child-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw Failure(description: "cannot create \(output.path)")
        }
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }

        let process = Process()
        process.executableURL = executable
        process.arguments = ["--child", scenario.argument]
        process.standardOutput = handle
        try process.run()
        let deadline = Monotonic.nanos() &+ UInt64(timeoutSeconds * 1e9)
        while process.isRunning, Monotonic.nanos() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw Failure(description: "child \(scenario.argument) did not finish within \(Int(timeoutSeconds)) s")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0,
            let line = text.split(separator: "\n").last(where: { $0.hasPrefix(marker) })
        else {
            throw Failure(
                description:
                    "child \(scenario.argument) failed (exit \(process.terminationStatus)): \(text.suffix(400))")
        }
        return try JSONDecoder().decode(R.self, from: Data(line.dropFirst(marker.count).utf8))
    }
}
