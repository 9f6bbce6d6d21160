import Foundation
import StitchTestSupport

/// An OTLP/HTTP receiver on loopback that answers 200 and keeps only counts, so the receiving side adds next to
/// nothing to the memory and CPU measured in the exporter's process (`InProcessOTLPReceiver` keeps every payload
/// and decodes it, which would be counted as the exporter's).
final class CountingSink: @unchecked Sendable {
    struct Tally: Codable {
        var traceRequests = 0
        var traceBodyBytes = 0
        var logRequests = 0
        var logBodyBytes = 0
    }

    private let lock = NSLock()
    private var tally = Tally()
    private var server: LoopbackHTTPServer?

    init() throws {
        server = try LoopbackHTTPServer { [weak self] request in
            self?.count(request)
            return LoopbackHTTPServer.Response(status: 200, headers: ["Content-Type": "application/x-protobuf"])
        }
    }

    var endpoint: URL { server!.baseURL }

    var current: Tally {
        lock.lock()
        defer { lock.unlock() }
        return tally
    }

    func reset() {
        lock.lock()
        tally = Tally()
        lock.unlock()
    }

    func stop() { server?.stop() }

    private func count(_ request: LoopbackHTTPServer.Request) {
        lock.lock()
        defer { lock.unlock() }
        if request.path == "/v1/traces" {
            tally.traceRequests += 1
            tally.traceBodyBytes += request.body.count
        } else {
            tally.logRequests += 1
            tally.logBodyBytes += request.body.count
        }
    }
}
