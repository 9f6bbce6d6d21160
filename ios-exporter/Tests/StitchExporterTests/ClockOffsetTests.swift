import Testing

@testable import StitchExporter

struct ClockOffsetEstimatorTests {
    @Test func nothingIsEstimatedBeforeTheFirstDate() {
        #expect(ClockOffsetEstimator().estimateMs == nil)
    }

    @Test func oneResponseBoundsTheOffsetBySecondResolutionAndTheRoundTrip() {
        var e = ClockOffsetEstimator()
        // Sent at 10_000, received at 10_200; the server's Date says 52 s (its clock is 42 s and a bit ahead).
        e.add(serverDateMs: 52_000, sentAtMs: 10_000, receivedAtMs: 10_200)
        #expect(e.lowMs == 41_800)
        #expect(e.highMs == 42_999)
        #expect(e.estimateMs == 42_399)
    }

    @Test func responsesNarrowTheIntervalTowardTheTrueOffset() {
        var e = ClockOffsetEstimator()
        let trueOffset: Int64 = 42_350
        var device: Int64 = 1_000_000
        var widths: [Int64] = []
        for step in 0..<40 {
            // Requests of 50 ms, at device times that land at different places within the server's second.
            let sent = device
            let serverAtReply = sent + 25 + trueOffset
            e.add(serverDateMs: serverAtReply / 1000 * 1000, sentAtMs: sent, receivedAtMs: sent + 50)
            widths.append(e.highMs! - e.lowMs!)
            device += 1_000 + Int64(step * 37 % 1000)
        }
        // One response alone leaves 1049 ms; forty of them leave a few round trips.
        #expect(widths.first! == 1_049)
        #expect(widths.last! <= 200)
        #expect(zip(widths, widths.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(abs(e.estimateMs! - trueOffset) <= 50)
        #expect(e.restarts == 0)
    }

    @Test func aDeviceClockMinutesBehindIsJustALargeOffset() {
        var e = ClockOffsetEstimator()
        // The device is 7 minutes behind the server.
        e.add(serverDateMs: 1_000_420_000, sentAtMs: 1_000_000_000, receivedAtMs: 1_000_000_100)
        #expect(abs(e.estimateMs! - 420_000) <= 1_000)
        #expect(e.restarts == 0)
    }

    @Test func theUserChangingTheDeviceClockRestartsTheEstimate() {
        var e = ClockOffsetEstimator()
        e.add(serverDateMs: 52_000, sentAtMs: 10_000, receivedAtMs: 10_200)
        // The device clock is set back an hour: the new interval cannot meet the old one.
        e.add(serverDateMs: 62_000, sentAtMs: 20_000 - 3_600_000, receivedAtMs: 20_100 - 3_600_000)
        #expect(e.restarts == 1)
        #expect(abs(e.estimateMs! - (3_600_000 + 42_000)) <= 1_000)
    }

    @Test func impossibleSamplesAreIgnored() {
        var e = ClockOffsetEstimator()
        e.add(serverDateMs: 52_000, sentAtMs: 10_200, receivedAtMs: 10_000)
        e.add(serverDateMs: 40_000_000_000_000, sentAtMs: 0, receivedAtMs: 10)
        #expect(e.estimateMs == nil)
    }
}

struct HTTPDateTests {
    // 1994-11-06 08:49:37 GMT, the example of RFC 9110.
    let expected: Int64 = 784_111_777_000

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
    ])
    func theThreeFormatsOfRFC9110(value: String) {
        #expect(HTTPDate.parseMillis(value) == expected)
    }

    @Test(arguments: ["", "yesterday", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "120"])
    func garbageIsNil(value: String) {
        #expect(HTTPDate.parseMillis(value) == nil)
    }
}
