import Foundation

/// The app backend of the demo journey and the wire fixtures, on loopback: the shop API an app would call. It
/// answers by route, fails where the journey needs a failure, stamps a `Date` from the clock it is given, and
/// remembers which Stitch headers each request carried.
public final class DemoAppBackend: @unchecked Sendable {
    public struct Seen: Sendable, Equatable {
        public var method: String
        public var path: String
        public var traceparent: String?
        public var baggage: String?
    }

    private let lock = NSLock()
    private var seen: [Seen] = []
    private var failedKeys: Set<String> = []
    private var server: LoopbackHTTPServer!
    private let serverTimeMillis: @Sendable () -> Int64
    private let onServe: @Sendable (String) -> Void

    /// `serverTimeMillis` is the server's own clock (for `Date`); `onServe` runs for each request with its path
    /// (the fixtures advance their manual clock there, to give each request a planned duration).
    public init(
        serverTimeMillis: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        onServe: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        self.serverTimeMillis = serverTimeMillis
        self.onServe = onServe
        server = try LoopbackHTTPServer { [weak self] request in
            self?.handle(request) ?? .init(status: 503)
        }
    }

    public var baseURL: URL { server.baseURL }

    public var requests: [Seen] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    public func stop() { server.stop() }

    private func handle(_ r: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        onServe(r.path)
        lock.lock()
        seen.append(
            Seen(method: r.method, path: r.path, traceparent: r.headers["traceparent"], baggage: r.headers["baggage"]))
        var status = 200
        var headers = ["Content-Type": "application/json", "Date": Self.httpDate(serverTimeMillis())]
        switch (r.method, r.path) {
        case ("POST", "/v1/payments"):
            // The first attempt of each payment meets an overloaded service; the resend goes through.
            let key = r.headers["idempotency-key"] ?? ""
            if failedKeys.insert(key).inserted {
                status = 503
                headers["Retry-After"] = "0"
            } else {
                status = 201
            }
        case ("GET", "/v1/search"):
            status = 500
        case (_, let p) where p.hasPrefix("/v1/") || p.hasPrefix("/ads/"):
            status = 200
        default:
            status = 404
        }
        lock.unlock()
        return .init(status: status, headers: headers, body: Array("{}".utf8))
    }

    /// IMF-fixdate, as servers write `Date`.
    public static func httpDate(_ millis: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}
