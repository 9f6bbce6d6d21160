import Foundation
import StitchExporter
import StitchOTLP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A shopping app's journey through the real exporter: sessions with rotations, screens, actions, a feature flag,
/// consent pending then granted, requests that succeed, fail, are resent, and one to a host not on the allow-list.
/// The demo runs it against loopback servers or real ones; the wire fixtures run it on a manual clock.
public struct DemoJourney: Sendable {
    public var sessions: Int
    public var appBackend: URL
    public var thirdParty: URL
    /// Moves the device's time forward (a stay in the background, hours of use).
    public var jump: @Sendable (Int64) -> Void

    public init(sessions: Int, appBackend: URL, thirdParty: URL, jump: @escaping @Sendable (Int64) -> Void) {
        self.sessions = sessions
        self.appBackend = appBackend
        self.thirdParty = thirdParty
        self.jump = jump
    }

    /// The time jumps the journey makes for `sessions` sessions, so a clock can start that far behind.
    public static func plannedJumpMillis(sessions: Int) -> Int64 {
        Int64(max(0, sessions - 1)) * 16 * 60 * 1000 + 60 * 1000
    }

    public struct Step: Sendable {
        public var action: String
        public var request: String
        public var outcome: String
    }

    /// Runs the journey; returns one line per request for the demo's report.
    /// `onSession` runs as each session after the first begins (the demo takes its receiver down there).
    public func run(
        on stitch: StitchInstance, flushBetweenSessions: Bool = true, onSession: @Sendable (Int) -> Void = { _ in }
    ) async -> [Step] {
        let api = stitch.instrument(Self.session())
        var steps: [Step] = []
        stitch.handle(.foreground)
        stitch.handle(.active)
        for index in 0..<max(1, sessions) {
            if index > 0 {
                stitch.handle(.inactive)
                stitch.handle(.background)
                if flushBetweenSessions { stitch.flush(timeout: 10) }
                // A quarter of an hour in the background: the next foreground starts a new session.
                jump(16 * 60 * 1000)
                onSession(index)
                stitch.handle(.foreground)
                stitch.handle(.active)
            }
            stitch.setScreen("HomeView")
            steps.append(await send(api, on: stitch, action: "launch.home", "GET", appBackend, "/v1/home"))
            if index == 0 {
                // Until the user answers the consent prompt nothing leaves and no header is added.
                stitch.setConsent(.granted)
            }
            stitch.setScreen("ProductView")
            stitch.setFeatureFlag(key: "checkout.express", variant: index % 2 == 0 ? "on" : "off")
            steps.append(
                await send(
                    api, on: stitch, action: "tap.product.open", "GET", appBackend, "/v1/products/\(48213 + index)"))
            stitch.setScreen("CheckoutView")
            steps.append(
                await send(
                    api, on: stitch, action: "tap.checkout.pay", "POST", appBackend, "/v1/payments",
                    retry: RequestRetryPolicy(maxResends: 2, delay: 0.05),
                    key: "pay-\(index)"))
            stitch.setScreen("SearchView")
            steps.append(
                await send(api, on: stitch, action: "tap.search", "GET", appBackend, "/v1/search?q=running+shoes"))
            steps.append(await send(api, on: stitch, action: "load.banner", "GET", thirdParty, "/ads/banner"))
            jump(2_000)
        }
        stitch.handle(.inactive)
        stitch.handle(.background)
        return steps
    }

    private func send(
        _ api: InstrumentedURLSession, on stitch: StitchInstance, action: String, _ method: String, _ base: URL,
        _ target: String, retry: RequestRetryPolicy = .never, key: String? = nil
    ) async -> Step {
        let url = URL(string: base.absoluteString + target)!
        let outcome: String = await stitch.action(action) { _ in
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.timeoutInterval = 10
            if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
            // The app's own baggage member, which the exporter keeps beside session.id.
            request.setValue("app.release=beta", forHTTPHeaderField: "baggage")
            do {
                let (_, response) = try await api.data(for: request, retry: retry)
                return String((response as? HTTPURLResponse)?.statusCode ?? 0)
            } catch {
                return "error \((error as NSError).code)"
            }
        }
        return Step(action: action, request: "\(method) \(url.host ?? ""):\(url.port ?? 0)\(target)", outcome: outcome)
    }

    static func session() -> URLSession {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 10
        c.urlCache = nil
        return URLSession(configuration: c)
    }
}
