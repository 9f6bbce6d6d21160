import StitchExporter
import StitchOTLP
import StitchSchema
import StitchTestSupport

/// Client spans shaped as the exporter writes them for instrumented requests (`ItemRecorder.recordAttempt`): the
/// common attributes, the request's, the action's and the sampling decision, in the exporter's order. Requests come
/// in actions of a few requests sharing a trace, as a shopping app's screens make them.
enum RealisticTelemetry {
    /// The resource the exporter sends with consent granted (service, device, schema, consent, installation).
    static func resource() -> ResourceData {
        ResourceData(attributes: [
            Attribute(SchemaAttribute.serviceName, "com.example.shop.ios"),
            Attribute(SchemaAttribute.serviceVersion, "4.12.0+1873"),
            Attribute(SchemaAttribute.osName, "iOS"),
            Attribute(SchemaAttribute.osVersion, "18.1"),
            Attribute(SchemaAttribute.deviceModelIdentifier, "iPhone15,2"),
            Attribute(SchemaAttribute.stitchSchemaVersion, SchemaCatalog.version),
            Attribute(SchemaAttribute.stitchConsent, Consent.granted.rawValue),
            Attribute(SchemaAttribute.appInstallationID, String(repeating: "5c3e9a0f17b2d846", count: 4)),
        ])
    }

    private static let routes: [(method: String, template: String, host: String)] = [
        ("GET", "/v1/products/{id}", "api.shop.example.com"),
        ("GET", "/v1/products", "api.shop.example.com"),
        ("GET", "/v1/cart", "api.shop.example.com"),
        ("POST", "/v1/cart/items", "api.shop.example.com"),
        ("GET", "/v2/recommendations/{user_id}", "reco.shop.example.com"),
        ("GET", "/images/{size}/{id}.jpg", "cdn.shop.example.com"),
        ("POST", "/v1/checkout", "api.shop.example.com"),
        ("GET", "/v1/search", "search.shop.example.com"),
    ]
    private static let screens = ["ProductListViewController", "ProductDetailView", "CartView", "CheckoutView"]
    private static let actions = ["product.open", "cart.add", "search.submit", "checkout.tap", "screen.refresh"]

    /// `count` client spans of one session, deterministic for a seed.
    static func clientSpans(count: Int, seed: UInt64) -> [SpanData] {
        var random = SplitMix64(seed: seed)
        let sessionID = hex(random.next()) + hex(random.next())
        let userHash = (0..<4).map { _ in hex(random.next()) }.joined()
        var wallNanos: UInt64 = 1_765_000_000_000_000_000
        var monotonic: UInt64 = 86_400_000_000_000
        var spans: [SpanData] = []
        spans.reserveCapacity(count)
        while spans.count < count {
            let trace = TraceID(high: random.nonZero(), low: random.next())
            let actionSpan = SpanID(random.nonZero())
            let actionID = hex(random.nonZero())
            let screen = screens[Int(random.next() % UInt64(screens.count))]
            let action = actions[Int(random.next() % UInt64(actions.count))]
            let requests = 1 + Int(random.next() % 5)
            for _ in 0..<min(requests, count - spans.count) {
                let route = routes[Int(random.next() % UInt64(routes.count))]
                let gap = UInt64(20 + random.next() % 400) * 1_000_000
                let duration = UInt64(15 + random.next() % 700) * 1_000_000 + random.next() % 1_000_000
                wallNanos += gap
                monotonic += gap
                let roll = random.next() % 100
                let status: Int = roll < 90 ? 200 : roll < 94 ? 304 : roll < 98 ? 404 : 503
                let errorType: String? = status >= 500 ? String(status) : nil
                var a: [Attribute] = [
                    Attribute(SchemaAttribute.sessionID, sessionID),
                    Attribute(SchemaAttribute.networkConnectionType, "wifi"),
                    Attribute(SchemaAttribute.userID, userHash),
                    Attribute(SchemaAttribute.stitchUserTier, "plus"),
                    Attribute(SchemaAttribute.stitchClockOffsetMs, Int64(-1_250)),
                    Attribute(SchemaAttribute.stitchClockMonotonicNs, Int64(monotonic)),
                    Attribute(SchemaAttribute.httpRequestMethod, route.method),
                    Attribute(SchemaAttribute.urlTemplate, route.template),
                    Attribute(SchemaAttribute.serverAddress, route.host),
                    Attribute(SchemaAttribute.httpResponseStatusCode, status),
                ]
                if let errorType { a.append(Attribute(SchemaAttribute.errorType, errorType)) }
                a.append(Attribute(SchemaAttribute.appScreenName, screen))
                a.append(Attribute(SchemaAttribute.stitchActionName, action))
                a.append(Attribute(SchemaAttribute.stitchActionID, actionID))
                a.append(Attribute(SchemaAttribute.stitchSamplingDecision, "keep"))
                a.append(
                    Attribute(SchemaAttribute.stitchSamplingReason, errorType == nil ? "session_sampled" : "error"))
                a.append(Attribute(SchemaAttribute.stitchSamplingRate, 1.0))
                spans.append(
                    SpanData(
                        traceID: trace, spanID: SpanID(random.nonZero()), parentSpanID: actionSpan,
                        name: "\(route.method) \(route.template)", kind: .client, startTimeUnixNano: wallNanos,
                        endTimeUnixNano: wallNanos + duration, attributes: a,
                        status: errorType.map { SpanStatus(code: .error, message: $0) } ?? .unset))
            }
        }
        return spans
    }

    /// An action span as `ItemRecorder.finishAction` writes it, for the record path's reference append.
    static func actionSpan() -> SpanData {
        var random = SplitMix64(seed: 7)
        return SpanData(
            traceID: TraceID(high: random.nonZero(), low: random.next()), spanID: SpanID(random.nonZero()),
            name: "checkout.tap", kind: .internal, startTimeUnixNano: 1_765_000_000_000_000_000,
            endTimeUnixNano: 1_765_000_000_250_000_000,
            attributes: [
                Attribute(SchemaAttribute.sessionID, hex(random.next()) + hex(random.next())),
                Attribute(SchemaAttribute.networkConnectionType, "wifi"),
                Attribute(SchemaAttribute.stitchClockMonotonicNs, Int64(86_400_000_000_000)),
                Attribute(SchemaAttribute.appScreenName, "ProductDetailView"),
                Attribute(SchemaAttribute.stitchActionName, "checkout.tap"),
                Attribute(SchemaAttribute.stitchActionID, hex(random.nonZero())),
                Attribute(SchemaAttribute.stitchSamplingDecision, "keep"),
                Attribute(SchemaAttribute.stitchSamplingReason, "session_sampled"),
                Attribute(SchemaAttribute.stitchSamplingRate, 1.0),
            ])
    }

    private static func hex(_ v: UInt64) -> String { HexFormat.hex(v) }
}
