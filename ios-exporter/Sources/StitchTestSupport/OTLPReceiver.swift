import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Why the loopback OTLP receiver could not be used.
public enum OTLPReceiverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// python3 or the opentelemetry-proto package is missing; carries what is missing and how to fix it.
    case unavailable(String)
    /// The receiver process did not print its `LISTENING <port>` line in time, or printed something else.
    case startFailed(String)
    /// A control call (`/control/...`) failed or timed out.
    case controlFailed(path: String, problem: String)
    /// The receiver's report has a shape the typed view cannot hold; `path` points into the report JSON.
    case unexpectedPayload(path: String, problem: String)

    public var description: String {
        switch self {
        case .unavailable(let reason): return "OTLP receiver unavailable: \(reason)"
        case .startFailed(let reason): return "OTLP receiver failed to start: \(reason)"
        case .controlFailed(let path, let problem): return "OTLP receiver control call \(path) failed: \(problem)"
        case .unexpectedPayload(let path, let problem): return "unexpected OTLP receiver report at \(path): \(problem)"
        }
    }
}

/// A loopback OTLP/HTTP receiver (Tests/Receiver/otlp_receiver.py) that decodes with the official OpenTelemetry
/// Python classes, so the exporter's hand-written protobuf is checked against the reference decoder.
///
/// The receiver runs as a child process bound to 127.0.0.1 and exits when this object stops, is deinitialized, or
/// the test process dies (it watches its stdin pipe for EOF).
public final class OTLPReceiver: Sendable {
    /// `http://127.0.0.1:<port>`; export to `endpoint/v1/traces` and `endpoint/v1/logs`.
    public let endpoint: URL

    private let child: ReceiverProcess
    private let control: ControlClient

    private init(endpoint: URL, child: ReceiverProcess) {
        self.endpoint = endpoint
        self.child = child
        control = ControlClient(endpoint: endpoint)
    }

    deinit { stop() }

    /// Starts a receiver on a free port and waits (at most 10 s) until it listens.
    public static func start() throws -> OTLPReceiver {
        try requireAvailable()
        let child = try ReceiverProcess.launch(script: scriptURL)
        let port: Int
        do {
            port = try child.waitForPort(timeout: 10)
        } catch {
            child.stop()
            throw error
        }
        guard let endpoint = URL(string: "http://127.0.0.1:\(port)") else {
            child.stop()
            throw OTLPReceiverError.startFailed("bad port \(port)")
        }
        return OTLPReceiver(endpoint: endpoint, child: child)
    }

    /// Everything received since the start or the last `reset()`.
    public func received() throws -> ReceivedBatch {
        let data = try control.call("GET", "/control/received")
        let report: DecodedJSON
        do {
            report = try DecodedJSON(parsing: data)
        } catch {
            throw OTLPReceiverError.controlFailed(path: "/control/received", problem: "bad JSON: \(error)")
        }
        return try ReceivedReportReader.batch(report)
    }

    /// Appends faults to the receiver's plan; each export request consumes the first one matching its path.
    public func enqueue(_ faults: [OTLPFault]) throws {
        struct Plan: Encodable { var faults: [OTLPFault] }
        let body = try JSONEncoder().encode(Plan(faults: faults))
        _ = try control.call("POST", "/control/faults", body: body)
    }

    /// Forgets received requests, rejections and pending faults.
    public func reset() throws {
        _ = try control.call("POST", "/control/reset")
    }

    /// Stops the receiver process (idempotent; also done on deinit).
    public func stop() {
        child.stop()
        control.invalidate()
    }

    // MARK: Availability

    /// nil when the receiver can run here; otherwise why not (no python3, no opentelemetry-proto, no script).
    public static var availability: String? { probedAvailability }

    /// Whether receiver tests must run: always on CI (`CI=true`), where a missing receiver is a failure rather than
    /// a skip; elsewhere only when the receiver is available.
    public static var testsEnabled: Bool { isCI || availability == nil }

    /// Throws the reason the receiver cannot run. Call it first in receiver tests, so CI fails loudly instead of
    /// skipping.
    public static func requireAvailable() throws {
        if let reason = availability { throw OTLPReceiverError.unavailable(reason) }
    }

    private static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Tests/Receiver/otlp_receiver.py, found from this source file's location.
    static let scriptURL: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // StitchTestSupport
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Tests/Receiver/otlp_receiver.py")

    private static let probedAvailability: String? = {
        guard FileManager.default.fileExists(atPath: scriptURL.path) else {
            return "receiver script not found at \(scriptURL.path)"
        }
        let imports =
            "import google.protobuf.json_format, opentelemetry.proto.collector.trace.v1.trace_service_pb2, "
            + "opentelemetry.proto.collector.logs.v1.logs_service_pb2"
        switch ReceiverProcess.run(["python3", "-c", imports], timeout: 30) {
        case .success(let status, _) where status == 0:
            return nil
        case .success(let status, let stderr):
            let detail = stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            return
                "python3 cannot import opentelemetry-proto (\(detail)); run `pip install opentelemetry-proto protobuf`"
        case .failure(let problem):
            return "cannot run python3: \(problem)"
        }
    }()
}

/// The receiver child process and the threads draining its output.
private final class ReceiverProcess: Sendable {
    private let process: LockedValue<Process>
    private let stdinPipe: Pipe
    private let firstLine: LineCollector
    private let stderr: LineCollector
    private let stopped = LockedValue(false)

    private init(process: Process, stdinPipe: Pipe, firstLine: LineCollector, stderr: LineCollector) {
        self.process = LockedValue(process)
        self.stdinPipe = stdinPipe
        self.firstLine = firstLine
        self.stderr = stderr
    }

    static func launch(script: URL) throws -> ReceiverProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        do {
            try process.run()
        } catch {
            throw OTLPReceiverError.startFailed("cannot run python3: \(error)")
        }
        let firstLine = LineCollector(draining: stdoutPipe.fileHandleForReading, keepBytes: 4096)
        let stderr = LineCollector(draining: stderrPipe.fileHandleForReading, keepBytes: 16384)
        return ReceiverProcess(process: process, stdinPipe: stdinPipe, firstLine: firstLine, stderr: stderr)
    }

    func waitForPort(timeout: TimeInterval) throws -> Int {
        guard let line = firstLine.waitForFirstLine(timeout: timeout) else {
            throw OTLPReceiverError.startFailed(
                "no LISTENING line within \(Int(timeout)) s; stderr: \(stderr.text.suffix(2000))")
        }
        let parts = line.split(separator: " ")
        guard parts.count == 2, parts[0] == "LISTENING", let port = Int(parts[1]), (1...65535).contains(port) else {
            throw OTLPReceiverError.startFailed(
                "first line was \(line.debugDescription); stderr: \(stderr.text.suffix(2000))")
        }
        return port
    }

    /// Closes the receiver's stdin (it exits on EOF), then escalates to SIGTERM and SIGKILL if it lingers.
    func stop() {
        let alreadyStopped = stopped.withLock { value -> Bool in
            defer { value = true }
            return value
        }
        if alreadyStopped { return }
        try? stdinPipe.fileHandleForWriting.close()
        process.withLock { process in
            if !ReceiverProcess.waitForExit(process, seconds: 5) {
                process.terminate()
                if !ReceiverProcess.waitForExit(process, seconds: 2) {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                }
            }
        }
    }

    private static func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning {
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    enum RunResult {
        case success(status: Int32, stderr: String)
        case failure(String)
    }

    /// Runs `/usr/bin/env arguments...` to completion (killed after `timeout`), for the availability probe.
    static func run(_ arguments: [String], timeout: TimeInterval) -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let stderrPipe = Pipe()
        process.standardError = stderrPipe
        do {
            try process.run()
        } catch {
            return .failure("\(error)")
        }
        let stderr = LineCollector(draining: stderrPipe.fileHandleForReading, keepBytes: 16384)
        if !waitForExit(process, seconds: timeout) {
            process.terminate()
            process.waitUntilExit()
            return .failure("timed out after \(Int(timeout)) s")
        }
        stderr.waitForEOF(timeout: 5)
        return .success(status: process.terminationStatus, stderr: stderr.text)
    }
}

/// Drains a pipe on its own thread so the child never blocks on a full pipe, keeping the first line and the tail.
private final class LineCollector: Sendable {
    private struct State {
        var firstLine: String?
        var tail: [UInt8] = []
        var pending: [UInt8] = []
        var eof = false
    }

    private let state = LockedValue(State())
    private let firstLineReady = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(draining handle: FileHandle, keepBytes: Int) {
        let thread = Thread { [self] in
            // availableData blocks until data arrives and returns empty at EOF, so this loop ends with the child.
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.append([UInt8](chunk), keepBytes: keepBytes)
            }
            self.finish()
        }
        thread.name = "OTLPReceiver output"
        thread.start()
    }

    private func append(_ chunk: [UInt8], keepBytes: Int) {
        let lineCompleted = state.withLock { s -> Bool in
            s.tail.append(contentsOf: chunk)
            if s.tail.count > keepBytes { s.tail.removeFirst(s.tail.count - keepBytes) }
            guard s.firstLine == nil else { return false }
            s.pending.append(contentsOf: chunk)
            guard let newline = s.pending.firstIndex(of: UInt8(ascii: "\n")) else {
                if s.pending.count > keepBytes { s.pending.removeLast(s.pending.count - keepBytes) }
                return false
            }
            s.firstLine = String(decoding: s.pending[..<newline], as: UTF8.self)
            s.pending = []
            return true
        }
        if lineCompleted { firstLineReady.signal() }
    }

    private func finish() {
        let signalLine = state.withLock { s -> Bool in
            s.eof = true
            return s.firstLine == nil
        }
        if signalLine { firstLineReady.signal() }
        finished.signal()
    }

    /// The first line, or nil when the stream ended or `timeout` passed without one.
    func waitForFirstLine(timeout: TimeInterval) -> String? {
        _ = firstLineReady.wait(timeout: .now() + timeout)
        return state.withLock { $0.firstLine }
    }

    func waitForEOF(timeout: TimeInterval) {
        _ = finished.wait(timeout: .now() + timeout)
    }

    /// The last bytes seen, as text.
    var text: String { state.withLock { String(decoding: $0.tail, as: UTF8.self) } }
}

/// Synchronous HTTP calls to the receiver's `/control/...` endpoints, each bounded by a timeout.
private final class ControlClient: Sendable {
    private let endpoint: URL
    private let session: URLSession
    private static let timeout: TimeInterval = 15

    init(endpoint: URL) {
        self.endpoint = endpoint
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = ControlClient.timeout
        configuration.timeoutIntervalForResource = ControlClient.timeout
        session = URLSession(configuration: configuration)
    }

    func call(_ method: String, _ path: String, body: Data = Data()) throws -> Data {
        var request = URLRequest(url: endpoint.appendingPathComponent(path))
        request.httpMethod = method
        request.timeoutInterval = ControlClient.timeout
        if method == "POST" {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        let outcome = LockedValue<Result<(Int, Data), any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            let result: Result<(Int, Data), any Error>
            if let error {
                result = .failure(error)
            } else {
                result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        task.resume()
        // A little slack past the session's own timeout, so its error (more specific) normally wins.
        if done.wait(timeout: .now() + ControlClient.timeout + 5) == .timedOut {
            task.cancel()
            throw OTLPReceiverError.controlFailed(
                path: path, problem: "no answer within \(Int(ControlClient.timeout)) s")
        }
        switch outcome.withLock({ $0 }) {
        case .success(let (status, data))?:
            guard (200..<300).contains(status) else {
                throw OTLPReceiverError.controlFailed(
                    path: path, problem: "HTTP \(status): \(String(decoding: data.prefix(500), as: UTF8.self))")
            }
            return data
        case .failure(let error)?:
            throw OTLPReceiverError.controlFailed(path: path, problem: "\(error)")
        case nil:
            throw OTLPReceiverError.controlFailed(path: path, problem: "no result")
        }
    }

    func invalidate() { session.invalidateAndCancel() }
}

/// A value behind an `NSLock`, for state shared with pipe-draining threads and URLSession callbacks.
private final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
