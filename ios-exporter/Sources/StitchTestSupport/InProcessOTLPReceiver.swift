import Foundation
import StitchOTLP

/// An OTLP/HTTP receiver inside the process, for the demo (which must run with nothing else installed). It keeps
/// every payload as sent and reads back the counts with `OTLPWireReader`. It can be taken down and brought back.
public final class InProcessOTLPReceiver: @unchecked Sendable {
    public struct Payload: Sendable {
        public var path: String
        public var headers: [String: String]
        /// The body as it arrived (gzip).
        public var body: [UInt8]
        /// The protobuf after gunzip.
        public var protobuf: [UInt8]
        public var spans: [OTLPWireReader.Item]
        public var logs: [OTLPWireReader.Item]
    }

    private let lock = NSLock()
    private var payloads: [Payload] = []
    private var down = false
    private var server: LoopbackHTTPServer!

    public init() throws {
        server = try LoopbackHTTPServer { [weak self] request in
            self?.handle(request) ?? .init(status: 503)
        }
    }

    public var endpoint: URL { server.baseURL }

    /// While down, every upload gets 503 with `Retry-After: 1`, as a collector under maintenance answers.
    public func setDown(_ isDown: Bool) {
        lock.lock()
        down = isDown
        lock.unlock()
    }

    public var received: [Payload] {
        lock.lock()
        defer { lock.unlock() }
        return payloads
    }

    public func stop() { server.stop() }

    private func handle(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        lock.lock()
        let isDown = down
        lock.unlock()
        if isDown { return .init(status: 503, headers: ["Retry-After": "1"]) }
        guard request.method == "POST", request.path == "/v1/traces" || request.path == "/v1/logs" else {
            return .init(status: 404)
        }
        guard request.headers["content-type"] == "application/x-protobuf" else { return .init(status: 415) }
        var protobuf = request.body
        if request.headers["content-encoding"] == "gzip" {
            guard let inflated = try? Gzip.decompress(request.body, maxOutputBytes: 64 * 1024 * 1024) else {
                return .init(status: 400)
            }
            protobuf = inflated
        }
        let isTraces = request.path == "/v1/traces"
        guard let items = try? (isTraces ? OTLPWireReader.spans(protobuf) : OTLPWireReader.logs(protobuf)) else {
            return .init(status: 400)
        }
        let payload = Payload(
            path: request.path, headers: request.headers, body: request.body, protobuf: protobuf,
            spans: isTraces ? items : [], logs: isTraces ? [] : items)
        lock.lock()
        payloads.append(payload)
        lock.unlock()
        return .init(status: 200, headers: ["Content-Type": "application/x-protobuf"])
    }
}
