import StitchOTLP
import StitchSchema
import Testing

@testable import StitchExporter

struct HostAllowListTests {
    let list = HostAllowList(["api.example.com", ".shop.example"])

    @Test(arguments: ["api.example.com", "API.Example.com", "eu.shop.example", "a.b.shop.example"])
    func allowed(host: String) { #expect(list.allows(host: host)) }

    @Test(arguments: [
        "example.com", "evil-api.example.com", "api.example.com.evil.test", "shop.example", "xshop.example",
        "127.0.0.1", "",
    ])
    func notAllowed(host: String) { #expect(!list.allows(host: host)) }

    @Test func noHostIsNeverAllowed() { #expect(!list.allows(host: nil)) }

    @Test(arguments: ["https://api.example.com", "api.example.com:443", "API.example.com", "-a.example", "a..b", ""])
    func malformedEntriesAreRefused(entry: String) { #expect(!HostAllowList.isWellFormed(entry)) }

    @Test(arguments: ["api.example.com", ".example.com", "localhost", "a-b.c1"])
    func wellFormedEntries(entry: String) { #expect(HostAllowList.isWellFormed(entry)) }
}

struct PropagationHeadersTests {
    let trace = TraceID(high: 0x0af7_6519_16cd_43dd, low: 0x8448_eb21_1c80_319c)
    let span = SpanID(0xb7ad_6b71_6920_3331)
    let session = "4bf92f3577b34da6a3ce929d0e0e4736"

    @Test func traceparentIsW3CVersion00WithTheClientSpanAsParent() throws {
        let h = try #require(
            PropagationHeaders.make(traceID: trace, spanID: span, sampled: true, sessionID: session, appBaggage: nil))
        #expect(h.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(h.baggage == "session.id=\(session)")
    }

    @Test func theAppsOwnMembersAreKeptAfterSessionID() throws {
        let h = try #require(
            PropagationHeaders.make(
                traceID: trace, spanID: span, sampled: true, sessionID: session,
                appBaggage: "app.release=beta,tenant=acme;prop=1"))
        #expect(h.baggage.hasPrefix("session.id=\(session),"))
        #expect(h.baggage.contains("app.release=beta"))
        #expect(h.baggage.contains("tenant=acme"))
    }

    @Test func anAppsOwnSessionIDMemberIsReplacedNotDuplicated() throws {
        let h = try #require(
            PropagationHeaders.make(
                traceID: trace, spanID: span, sampled: true, sessionID: session,
                appBaggage: "session.id=ffffffffffffffffffffffffffffffff,k=v"))
        #expect(h.baggage.components(separatedBy: "session.id=").count == 2)
        #expect(h.baggage.hasPrefix("session.id=\(session)"))
        #expect(h.baggage.contains("k=v"))
    }

    @Test func baggageTooLargeForTheSchemaFallsBackToTheSessionMemberAlone() throws {
        let huge = (0..<200).map { "member\($0)=\(String(repeating: "x", count: 40))" }.joined(separator: ",")
        let h = try #require(
            PropagationHeaders.make(traceID: trace, spanID: span, sampled: true, sessionID: session, appBaggage: huge))
        #expect(h.baggage == "session.id=\(session)")
    }
}
