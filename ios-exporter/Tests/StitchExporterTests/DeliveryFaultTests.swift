import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport
import Testing

@testable import StitchExporter

/// How delivery answers a receiver that pushes back, refuses, is slow or drops the connection: the Python receiver
/// plays each fault on 127.0.0.1, and every wait is on the exporter's virtual clock unless the test says otherwise.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct DeliveryFaultTests {
    static let traces = "/v1/traces"

    /// `count` finished actions, recorded with consent granted and nothing sent yet.
    static func record(_ count: Int, on exporter: ExporterUnderTest) {
        for _ in 0..<count {
            exporter.stitch.action("tap.item") { _ in exporter.clock.advance(milliseconds: 10) }
        }
    }

    static func traceRequests(_ receiver: OTLPReceiver) throws -> [ReceivedRequest] {
        try receiver.received().requests.filter { $0.path == traces }
    }

    @Test(arguments: [429, 503])
    func retryAfterIsHonouredAndNothingIsSentBeforeIt(status: Int) async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.status(status, retryAfter: "120", path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(5, on: exporter)
        #expect(exporter.stitch.flush(timeout: 5) == false)
        #expect(try Self.traceRequests(receiver).count == 1)
        // However often the app asks, nothing goes before the server's two minutes.
        for _ in 0..<5 { exporter.stitch.flush(timeout: 1) }
        exporter.clock.advance(milliseconds: 119_000)
        exporter.stitch.flush(timeout: 1)
        #expect(try Self.traceRequests(receiver).count == 1)
        exporter.clock.advance(milliseconds: 1_500)
        #expect(exporter.stitch.flush(timeout: 5))
        let requests = try Self.traceRequests(receiver)
        #expect(requests.count == 2)
        #expect(requests.last?.accepted == true)
        #expect(try receiver.received().spans.count == 5)
        #expect(exporter.stitch.counters.retriedUploads == 1)
        exporter.stitch.shutdown()
    }

    @Test func retryAfterAsAnHTTPDateIsHonouredToo() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let clock = ManualClock()
        let date = DemoAppBackend.httpDate(clock.now().wallMillis + 60_000)
        try receiver.enqueue([.status(503, retryAfter: date, path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, clock: clock)
        Self.record(3, on: exporter)
        exporter.stitch.flush(timeout: 5)
        clock.advance(milliseconds: 30_000)
        exporter.stitch.flush(timeout: 1)
        #expect(try Self.traceRequests(receiver).count == 1)
        clock.advance(milliseconds: 31_000)
        #expect(exporter.stitch.flush(timeout: 5))
        #expect(try Self.traceRequests(receiver).count == 2)
        exporter.stitch.shutdown()
    }

    @Test func onTheRealClockTheSecondAttemptComesNoSoonerThanRetryAfter() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.status(503, retryAfter: "1", path: Self.traces)])
        let folder = TemporaryFolder()
        let stitch = try StitchInstance(
            configuration: Configuration(
                endpoint: receiver.endpoint, serviceName: "com.example.shop.ios", serviceVersion: "4.12.0",
                hmacKeyProvider: StaticHMACKey(ExporterUnderTest.key), consent: .granted,
                stateDirectory: folder.url, maxBatchDelay: 3600,
                platform: Configuration.Platform(network: NetworkDouble())))
        stitch.action("tap.item") { _ in }
        let started = Date()
        #expect(stitch.flush(timeout: 5) == false)
        var delivered = false
        for _ in 0..<100 where !delivered {
            try await Task.sleep(nanoseconds: 50_000_000)
            delivered = stitch.flush(timeout: 5)
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(delivered)
        #expect(elapsed >= 1.0, "second attempt after \(elapsed) s")
        #expect(try Self.traceRequests(receiver).count == 2)
        stitch.shutdown()
    }

    @Test func aBadRequestIsDroppedAndCountedWithoutARetry() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.status(400, path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(6, on: exporter)
        #expect(exporter.stitch.flush(timeout: 5))
        for _ in 0..<3 {
            exporter.clock.advance(milliseconds: 600_000)
            exporter.stitch.flush(timeout: 1)
        }
        #expect(try Self.traceRequests(receiver).count == 1)
        #expect(exporter.stitch.counters.droppedSpans[.rejected] == 6)
        #expect(exporter.stitch.counters.retriedUploads == 0)
        exporter.stitch.shutdown()
    }

    @Test func tooLargeSplitsOnceAndTheHalvesAreDelivered() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.status(413, path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(9, on: exporter)
        #expect(exporter.stitch.flush(timeout: 5))
        let requests = try Self.traceRequests(receiver)
        #expect(requests.count == 3)
        #expect(requests.filter(\.accepted).map(\.spans.count).sorted() == [4, 5])
        let ids = try receiver.received().spans.map(\.span.spanID)
        #expect(ids.count == 9 && Set(ids).count == 9)
        exporter.stitch.shutdown()
    }

    @Test func tooLargeAgainAfterTheSplitIsDroppedNotRetried() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue(Array(repeating: .status(413, path: Self.traces), count: 10))
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(8, on: exporter)
        #expect(exporter.stitch.flush(timeout: 5))
        exporter.clock.advance(milliseconds: 600_000)
        exporter.stitch.flush(timeout: 1)
        #expect(try Self.traceRequests(receiver).count == 3)
        #expect(exporter.stitch.counters.droppedSpans[.rejected] == 8)
        exporter.stitch.shutdown()
    }

    @Test func partialSuccessIsReadAndCounted() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.partialSuccess(rejected: 2, message: "2 spans too old", path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(7, on: exporter)
        #expect(exporter.stitch.flush(timeout: 5))
        let c = exporter.stitch.counters
        #expect(c.droppedSpans[.partiallyRejected] == 2)
        #expect(c.exportedSpans == 5)
        #expect(try Self.traceRequests(receiver).count == 1)
        exporter.stitch.shutdown()
    }

    @Test func aDroppedConnectionIsRetriedAfterABackOffAndDeliveredOnce() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.droppedConnection(path: Self.traces), .droppedConnection(path: Self.traces)])
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        Self.record(4, on: exporter)
        var attempts = 0
        var delivered = false
        // Bounded: each pass moves the virtual clock past the longest back-off of the first attempts.
        while !delivered, attempts < 10 {
            attempts += 1
            delivered = exporter.stitch.flush(timeout: 5)
            exporter.clock.advance(milliseconds: 10_000)
        }
        #expect(delivered)
        #expect(try Self.traceRequests(receiver).count == 3)
        let ids = try receiver.received().spans.map(\.span.spanID)
        #expect(ids.count == 4 && Set(ids).count == 4)
        #expect(exporter.stitch.counters.uploadFailures == 2)
        exporter.stitch.shutdown()
    }

    @Test func aSlowReceiverNeitherBlocksRecordingNorGrowsMemoryBeyondTheBuffer() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let exporter = try ExporterUnderTest(
            endpoint: receiver.endpoint, consent: .granted, bufferCapacity: 256, maxBatchSize: 64)
        #expect(exporter.stitch.flush(timeout: 5))
        // Long enough that a loaded machine still records everything while the receiver holds the upload.
        try receiver.enqueue([OTLPFault(delayMilliseconds: 6_000, path: Self.traces)])
        Self.record(64, on: exporter)
        // The upload runs on the exporter's queue while the app goes on recording: the recording is over while the
        // receiver still holds the upload.
        let uploadDone = Locked(false)
        let uploading = DispatchGroup()
        // A plain thread, not a task: the test must not wait for a free thread of the concurrency pool.
        DispatchQueue.global().async(group: uploading) {
            exporter.stitch.flush(timeout: 20)
            uploadDone.withLock { $0 = true }
        }
        Self.record(2_000, on: exporter)
        #expect(uploadDone.current == false, "recording waited for the slow upload")
        #expect(exporter.stitch.pendingItemCount <= 256 * 2)
        #expect(uploading.wait(timeout: .now() + 30) == .success)
        for _ in 0..<50 where exporter.stitch.pendingItemCount > 0 { exporter.stitch.flush(timeout: 5) }
        let c = exporter.stitch.counters
        #expect(c.exportedSpans + c.totalDroppedSpans == c.recordedSpans)
        #expect((c.droppedSpans[.bufferFull] ?? 0) > 0)
        let ids = try receiver.received().spans.map(\.span.spanID)
        #expect(Set(ids).count == ids.count, "a span was delivered twice")
        exporter.stitch.shutdown()
    }
}
