import Testing

@testable import StitchExporter

struct UploadPolicyTests {
    let now: Int64 = 784_111_777_000

    func verdict(_ status: Int?, retryAfter: String? = nil) -> UploadVerdict {
        UploadPolicy.verdict(status: status, retryAfter: retryAfter, body: [], signal: .traces, nowMs: now)
    }

    @Test(arguments: [200, 202, 204])
    func successIsDelivered(status: Int) { #expect(verdict(status) == .delivered(rejected: 0)) }

    @Test(arguments: [429, 502, 503, 504])
    func onlyTheStatusesOTLPNamesAreRetried(status: Int) { #expect(verdict(status) == .retry(retryAfterMs: nil)) }

    @Test(arguments: [400, 401, 403, 404, 415, 500, 501])
    func everythingElseIsRejectedForGood(status: Int) { #expect(verdict(status) == .rejected(status: status)) }

    @Test func tooLargeIsSplitNotRetried() { #expect(verdict(413) == .tooLarge) }

    @Test func noAnswerIsRetried() { #expect(verdict(nil) == .retry(retryAfterMs: nil)) }

    @Test func retryAfterInSecondsOrAsAnHTTPDate() {
        #expect(verdict(429, retryAfter: "7") == .retry(retryAfterMs: 7_000))
        #expect(verdict(503, retryAfter: "Sun, 06 Nov 1994 08:50:07 GMT") == .retry(retryAfterMs: 30_000))
        #expect(verdict(503, retryAfter: "Sun, 06 Nov 1994 08:00:00 GMT") == .retry(retryAfterMs: 0))
        #expect(verdict(503, retryAfter: "soon") == .retry(retryAfterMs: nil))
        #expect(verdict(503, retryAfter: "99999999999999999999") == .retry(retryAfterMs: UploadPolicy.maxRetryAfterMs))
    }

    @Test func partialSuccessCountsTheRejectedItems() {
        // ExportTraceServiceResponse { partial_success (1) { rejected_spans (1): 3, error_message (2): "x" } }
        let body: [UInt8] = [0x0A, 0x05, 0x08, 0x03, 0x12, 0x01, 0x78]
        #expect(
            UploadPolicy.verdict(status: 200, retryAfter: nil, body: body, signal: .traces, nowMs: now)
                == .delivered(rejected: 3))
    }

    @Test func aHostileSuccessBodyIsStillADelivery() {
        let body: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(
            UploadPolicy.verdict(status: 200, retryAfter: nil, body: body, signal: .logs, nowMs: now)
                == .delivered(rejected: 0))
    }

    @Test func backoffGrowsExponentiallyWithFullJitterUpToTheCap() {
        #expect(UploadPolicy.backoffMs(attempt: 0, unit: 0) == 0)
        #expect(UploadPolicy.backoffMs(attempt: 0, unit: 0.5) == 500)
        #expect(UploadPolicy.backoffMs(attempt: 3, unit: 0.5) == 4_000)
        for attempt in 0..<64 {
            let w = UploadPolicy.backoffMs(attempt: attempt, unit: 0.999_999_9)
            #expect(w < 5 * 60 * 1000 && w >= 0)
        }
        #expect(UploadPolicy.backoffMs(attempt: 30, unit: 0.5) == 150_000)
    }
}

struct RequestRetryPolicyTests {
    @Test func resendsAreBoundedAndBackOff() {
        let p = RequestRetryPolicy(maxResends: 50, delay: 0.5, maxDelay: 10)
        #expect(p.maxResends == 10)
        #expect(p.wait(beforeResend: 1, retryAfterMs: nil) == 0.5)
        #expect(p.wait(beforeResend: 3, retryAfterMs: nil) == 2)
        #expect(p.wait(beforeResend: 9, retryAfterMs: nil) == 10)
    }

    @Test func aLongerRetryAfterIsHonouredUpToTheMaximum() {
        let p = RequestRetryPolicy(maxResends: 2, delay: 0.5, maxDelay: 10)
        #expect(p.wait(beforeResend: 1, retryAfterMs: 3_000) == 3)
        #expect(p.wait(beforeResend: 1, retryAfterMs: 60_000) == 10)
    }
}
