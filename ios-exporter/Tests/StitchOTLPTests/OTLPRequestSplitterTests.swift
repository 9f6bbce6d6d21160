import StitchOTLP
import Testing

struct OTLPRequestSplitterTests {
    let resource = OTLPTestFixtures.resource
    let scope = OTLPTestFixtures.scope

    @Test(arguments: [2, 3, 7, 512])
    func eachHalfIsExactlyWhatTheEncoderWritesForThatHalf(count: Int) throws {
        let spans = OTLPTestFixtures.realisticSpans(count: count, seed: UInt64(count))
        let body = OTLPEncoder.encodeTraces(resource: resource, scope: scope, spans: spans)
        let (first, second) = try #require(OTLPRequestSplitter.halves(body))
        let half = count / 2
        #expect(first == OTLPEncoder.encodeTraces(resource: resource, scope: scope, spans: Array(spans[..<half])))
        #expect(second == OTLPEncoder.encodeTraces(resource: resource, scope: scope, spans: Array(spans[half...])))
    }

    @Test func logRequestsSplitTheSameWay() throws {
        let logs = (0..<5).map { i in
            LogRecordData(
                timeUnixNano: UInt64(i) + 1, observedTimeUnixNano: UInt64(i) + 1, body: .string("record \(i)"),
                attributes: [Attribute("session.id", "4bf92f3577b34da6a3ce929d0e0e4736")], eventName: "session.start")
        }
        let body = OTLPEncoder.encodeLogs(resource: resource, scope: scope, logs: logs)
        let (first, second) = try #require(OTLPRequestSplitter.halves(body))
        #expect(first == OTLPEncoder.encodeLogs(resource: resource, scope: scope, logs: Array(logs[..<2])))
        #expect(second == OTLPEncoder.encodeLogs(resource: resource, scope: scope, logs: Array(logs[2...])))
    }

    @Test func oneItemCannotBeSplit() {
        let body = OTLPEncoder.encodeTraces(
            resource: resource, scope: scope, spans: OTLPTestFixtures.realisticSpans(count: 1, seed: 1))
        #expect(OTLPRequestSplitter.halves(body) == nil)
    }

    @Test func everyTruncationAndGarbageIsNilNotACrash() {
        let body = OTLPEncoder.encodeTraces(
            resource: resource, scope: scope, spans: OTLPTestFixtures.realisticSpans(count: 4, seed: 9))
        for length in 0..<body.count {
            #expect(OTLPRequestSplitter.halves(Array(body[..<length])) == nil, "prefix of \(length) bytes")
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<500 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = Int(state >> 56)
            let garbage = (0..<n).map { i in UInt8(truncatingIfNeeded: (state >> UInt64(i % 56)) &+ UInt64(i)) }
            _ = OTLPRequestSplitter.halves(garbage)
        }
    }
}
