import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `stitch-exporter-probe` executable run as a child process: a stand-in app the restart tests kill.
struct ProbeProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Beside the test bundle, where the package manager puts every product it built.
    static var executable: URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = testBinary.deletingLastPathComponent()
        // On Apple platforms the test binary sits inside `<name>.xctest/Contents/MacOS`.
        while dir.pathComponents.contains(where: { $0.hasSuffix(".xctest") }) { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("stitch-exporter-probe")
    }

    /// Starts the probe on `stateDirectory` at `wallMillis`, waits (at most 20 s) for it to report its session,
    /// kills it with SIGKILL and returns the session it reported.
    static func sessionThenKill(stateDirectory: URL, wallMillis: Int64, event: String) throws -> String {
        let path = executable.path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure(description: "\(path) was not built (run `swift build --build-tests` first)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "--state-dir", stateDirectory.path, "--wall-ms", String(wallMillis), "--event", event,
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        let reader = out.fileHandleForReading
        while !text.contains("READY\n"), Date() < deadline, process.isRunning {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard text.contains("READY\n") else {
            throw Failure(description: "probe did not become ready (printed \(text.debugDescription))")
        }
        // The app dies without a chance to clean up: no background, no terminate, no flush.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        guard process.terminationReason == .uncaughtSignal, process.terminationStatus == SIGKILL else {
            throw Failure(description: "probe ended by itself (status \(process.terminationStatus))")
        }
        let line = text.split(separator: "\n").first { $0.hasPrefix("SESSION ") }
        guard let id = line?.dropFirst("SESSION ".count), id.count == 32 else {
            throw Failure(description: "probe printed no session: \(text.debugDescription)")
        }
        return String(id)
    }
}
