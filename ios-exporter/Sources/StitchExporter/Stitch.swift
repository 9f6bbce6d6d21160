import Foundation
import StitchOTLP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The exporter for the app: start it once, early, and use these calls anywhere. Before `start` (or after a failed
/// one) every call is a no-op, so instrumentation never breaks the app.
///
/// ```swift
/// try Stitch.start(configuration: Configuration(
///     endpoint: URL(string: "https://otlp.example.com")!, serviceName: "com.example.shop.ios",
///     serviceVersion: "4.12.0", hmacKeyProvider: StaticHMACKey(key), propagationHosts: ["api.example.com"]))
/// let api = Stitch.instrument(URLSession.shared)
/// Stitch.setConsent(.granted)
/// try await Stitch.action("tap.checkout.pay") { _ in try await api.data(for: request) }
/// ```
public enum Stitch {
    private static let shared = Locked<StitchInstance?>(nil)

    /// Starts the exporter. A second call replaces the first instance.
    @discardableResult
    public static func start(configuration: Configuration) throws -> StitchInstance {
        let instance = try StitchInstance(configuration: configuration)
        let old = shared.withLock { s -> StitchInstance? in
            let o = s
            s = instance
            return o
        }
        old?.shutdown()
        return instance
    }

    /// The running instance, if started.
    public static var instance: StitchInstance? { shared.current }

    public static func setConsent(_ consent: Consent) { instance?.setConsent(consent) }

    public static func action<T>(
        _ name: String, attributes: [Attribute] = [], _ body: (ActionSpan?) throws -> T
    ) rethrows -> T {
        guard let i = instance else { return try body(nil) }
        return try i.action(name, attributes: attributes) { try body($0) }
    }

    public static func action<T: Sendable>(
        _ name: String, attributes: [Attribute] = [], _ body: @Sendable (ActionSpan?) async throws -> T
    ) async rethrows -> T {
        guard let i = instance else { return try await body(nil) }
        return try await i.action(name, attributes: attributes) { try await body($0) }
    }

    public static func setScreen(_ name: String?) { instance?.setScreen(name) }

    public static func setFeatureFlag(key: String, variant: String) {
        instance?.setFeatureFlag(key: key, variant: variant)
    }

    public static func setUser(id: String?, tier: String? = nil) { instance?.setUser(id: id, tier: tier) }

    public static func handle(_ event: AppLifecycleEvent) { instance?.handle(event) }

    public static func beginBackgroundWork(_ work: BackgroundWork) { instance?.beginBackgroundWork(work) }

    /// The app's session, instrumented; before `start`, requests go through `session` untouched.
    public static func instrument(_ session: URLSession) -> InstrumentedURLSession {
        InstrumentedURLSession(session: session, exporter: { shared.current })
    }

    public static var counters: ExportCountersSnapshot? { instance?.counters }
}
