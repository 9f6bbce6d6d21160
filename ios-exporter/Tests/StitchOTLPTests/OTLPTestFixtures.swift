import Foundation
import StitchOTLP
import StitchTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Telemetry values shared by the OTLP tests.
enum OTLPTestFixtures {
    static let resource = ResourceData(attributes: [
        Attribute("service.name", "stitch-demo"),
        Attribute("service.version", "2.3.1"),
        Attribute("os.name", "iOS"),
        Attribute("os.version", "17.4.1"),
        Attribute("device.model.identifier", "iPhone15,2"),
        Attribute("app.installation.id", "9c2f8a51d0e4b7a3c1f6e8d2b4a09173"),
        Attribute("stitch.schema.version", "1.0.0"),
        Attribute("stitch.consent", "granted"),
    ])

    static let scope = InstrumentationScope(name: "com.stitch.exporter", version: "1.0.0")

    /// One value of every `AttributeValue` case, including nesting, defaults and awkward text.
    static let everyValueKind: [Attribute] = [
        Attribute("s", "plain"),
        Attribute("s.empty", ""),
        Attribute("s.unicode", "héllo wörld ✓ 日本語 🇺🇦 \u{0}\u{1F}\u{7F}\u{2028}"),
        Attribute("b.true", true),
        Attribute("b.false", false),
        Attribute("i.zero", 0),
        Attribute("i.one", 1),
        Attribute("i.min", Int64.min),
        Attribute("i.max", Int64.max),
        Attribute("i.negative", -42),
        Attribute("d.zero", 0.0),
        Attribute("d.pi", Double.pi),
        Attribute("d.negative", -1.5e-300),
        Attribute("d.huge", 1.7976931348623157e308),
        Attribute("d.infinity", Double.infinity),
        Attribute("bytes", .bytes([0, 1, 2, 0xFE, 0xFF])),
        Attribute("bytes.empty", .bytes([])),
        Attribute("array", .array([.string("a"), .int(2), .double(3.5), .bool(true), .bytes([9])])),
        Attribute("array.empty", .array([])),
        Attribute("array.nested", .array([.array([.int(1), .array([.string("deep")])]), .array([])])),
        Attribute("kvlist", .keyValueList([Attribute("k1", "v1"), Attribute("k2", .int(-7))])),
        Attribute("kvlist.empty", .keyValueList([])),
        Attribute(
            "kvlist.nested",
            .keyValueList([
                Attribute("inner", .keyValueList([Attribute("x", .array([.bool(false), .keyValueList([])]))])),
                Attribute("", "empty key"),
            ])),
    ]

    static let traceID = TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)

    /// A span that sets every field the model has.
    static let fullSpan = SpanData(
        traceID: traceID,
        spanID: SpanID(0xA1B2_C3D4_E5F6_0718),
        parentSpanID: SpanID(0x1122_3344_5566_7788),
        traceState: "vendor=opaque,other=1",
        name: "GET /api/v1/users/{id} ✓",
        kind: .client,
        startTimeUnixNano: 1_700_000_000_123_456_789,
        endTimeUnixNano: 1_700_000_000_987_654_321,
        attributes: everyValueKind,
        events: [
            SpanEvent(
                name: "exception", timeUnixNano: 1_700_000_000_500_000_000,
                attributes: [Attribute("exception.type", "URLError"), Attribute("attempt", 2)]),
            SpanEvent(name: "no attributes", timeUnixNano: 1_700_000_000_600_000_000),
        ],
        status: SpanStatus(code: .error, message: "timed out — ünïcödé"),
        flags: 0x0301)

    /// A span that leaves everything optional at its default.
    static let minimalSpan = SpanData(
        traceID: TraceID(high: 0, low: 1), spanID: SpanID(1), name: "", kind: .unspecified, startTimeUnixNano: 0,
        endTimeUnixNano: 0, flags: 0)

    static let fullLog = LogRecordData(
        timeUnixNano: 1_700_000_001_000_000_001,
        observedTimeUnixNano: 1_700_000_001_000_000_999,
        severity: .warn,
        body: .keyValueList([Attribute("message", "disk almost full"), Attribute("free", .double(0.05))]),
        attributes: [
            Attribute("session.id", "5b8efff798038103d269b633813fc60c"),
            Attribute("ios.app.state", "background"),
        ] + everyValueKind,
        traceID: traceID,
        spanID: SpanID(0xA1B2_C3D4_E5F6_0718),
        flags: 0x01,
        eventName: "device.app.lifecycle")

    static let minimalLog = LogRecordData(timeUnixNano: 0, observedTimeUnixNano: 0, severity: .unspecified)

    /// Logs with every severity and each body kind.
    static let logVariety: [LogRecordData] = [
        LogRecordData(timeUnixNano: 1, observedTimeUnixNano: 2, severity: .debug, body: .string("")),
        LogRecordData(timeUnixNano: 3, observedTimeUnixNano: 4, severity: .info, body: .string("plain line")),
        LogRecordData(timeUnixNano: 5, observedTimeUnixNano: 6, severity: .error, body: .int(0)),
        LogRecordData(timeUnixNano: 7, observedTimeUnixNano: 8, severity: .fatal, body: .bool(false)),
        LogRecordData(timeUnixNano: 9, observedTimeUnixNano: 10, severity: .info, body: .bytes([0xFF])),
        LogRecordData(
            timeUnixNano: 11, observedTimeUnixNano: 12, severity: .info, body: .array([.string("x"), .double(-0.5)])),
    ]

    /// A batch of realistic HTTP client spans of one session: random ids, a handful of routes, about 12 attributes.
    static func realisticSpans(count: Int, seed: UInt64) -> [SpanData] {
        var random = SplitMix64(seed: seed)
        let routes = [
            ("GET", "/api/v1/users/{id}", "api.example.com"),
            ("GET", "/api/v1/feed", "api.example.com"),
            ("POST", "/api/v1/events", "ingest.example.com"),
            ("GET", "/images/{id}/thumbnail", "cdn.example.net"),
            ("PUT", "/api/v1/users/{id}/settings", "api.example.com"),
        ]
        let screens = ["HomeViewController", "ProfileView", "FeedView", "SettingsView"]
        let sessionID = "5b8efff798038103d269b633813fc60c"
        var start: UInt64 = 1_700_000_000_000_000_000
        return (0..<count).map { _ in
            let (method, template, host) = routes[Int(random.next() % UInt64(routes.count))]
            let status: Int64 = random.next() % 20 == 0 ? 503 : 200
            start += 1_000_000 + random.next() % 50_000_000
            let duration = 20_000_000 + random.next() % 400_000_000
            return SpanData(
                traceID: TraceID(high: random.next(), low: random.next()),
                spanID: SpanID(random.next()),
                parentSpanID: SpanID(random.next()),
                name: "\(method) \(template)",
                kind: .client,
                startTimeUnixNano: start,
                endTimeUnixNano: start + duration,
                attributes: [
                    Attribute("session.id", sessionID),
                    Attribute("http.request.method", method),
                    Attribute("url.template", template),
                    Attribute("server.address", host),
                    Attribute("http.response.status_code", status),
                    Attribute("http.request.resend_count", Int64(random.next() % 3)),
                    Attribute("network.connection.type", "wifi"),
                    Attribute("app.screen.name", screens[Int(random.next() % UInt64(screens.count))]),
                    Attribute("stitch.sampling.decision", "keep"),
                    Attribute("stitch.sampling.reason", "session_sampled"),
                    Attribute("stitch.sampling.rate", 0.25),
                    Attribute("stitch.clock.monotonic_ns", Int64(start % 1_000_000_000_000)),
                ],
                status: status == 200 ? .unset : SpanStatus(code: .error),
                flags: 0x01)
        }
    }
}

/// The answer to one raw HTTP POST.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first(where: { $0.key.lowercased() == name.lowercased() })?.value
    }
}

/// Posts a body the way an OTLP/HTTP exporter would; a fresh ephemeral session each time so no connection is reused.
func postOTLP(
    _ body: [UInt8], to url: URL, contentType: String = "application/x-protobuf", gzip: Bool = false,
    extraHeaders: [String: String] = [:]
) async throws -> HTTPAnswer {
    var request = URLRequest(url: url)
    request.httpMethod = "POST"
    request.timeoutInterval = 20
    request.setValue(contentType, forHTTPHeaderField: "Content-Type")
    if gzip { request.setValue("gzip", forHTTPHeaderField: "Content-Encoding") }
    for (name, value) in extraHeaders { request.setValue(value, forHTTPHeaderField: name) }
    request.httpBody = Data(body)
    let session = URLSession(configuration: .ephemeral)
    defer { session.finishTasksAndInvalidate() }
    let (data, response) = try await session.data(for: request)
    guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
    var headers: [String: String] = [:]
    for (key, value) in http.allHeaderFields {
        if let k = key as? String, let v = value as? String { headers[k] = v }
    }
    return HTTPAnswer(status: http.statusCode, headers: headers, body: [UInt8](data))
}
