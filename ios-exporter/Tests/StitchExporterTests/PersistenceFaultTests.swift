import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport
import Testing

@testable import StitchExporter

/// Delivery across long outages, bad files, full disks, consent changes and metered networks, on the exporter's
/// real batch folder and the reference receiver; time is the exporter's virtual clock.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct PersistenceFaultTests {
    static let traces = "/v1/traces"

    /// An action ending in failure; returns its span ID.
    @discardableResult
    static func failedAction(_ e: ExporterUnderTest) -> SpanID {
        e.stitch.action("tap.pay") { span in
            span.markFailed(errorType: "503")
            return span.spanID
        }
    }

    /// An action slower than the latency threshold; returns its span ID.
    @discardableResult
    static func slowAction(_ e: ExporterUnderTest) -> SpanID {
        e.stitch.action("tap.search") { span in
            e.clock.advance(milliseconds: 4_000)
            return span.spanID
        }
    }

    static func routineAction(_ e: ExporterUnderTest) -> SpanID {
        e.stitch.action("tap.item") { span in
            e.clock.advance(milliseconds: 100)
            return span.spanID
        }
    }

    @Test func eighteenHoursWithTheReceiverDownLoseNoErrorAndNoSlowRequest() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        // The receiver refuses everything until the test resets it.
        try receiver.enqueue(Array(repeating: .status(503), count: 5_000))
        let e = try ExporterUnderTest(
            endpoint: receiver.endpoint, consent: .granted,
            persistence: BatchFolderLimits(maxFileBytes: 16 << 10, maxFolderBytes: 64 << 10))
        e.stitch.handle(.foreground)
        var important = Set<SpanID>()
        var routineByMinute: [(minute: Int, id: SpanID)] = []
        for minute in 0..<(18 * 60) {
            for _ in 0..<10 { routineByMinute.append((minute, Self.routineAction(e))) }
            if minute % 30 == 0 { important.insert(Self.failedAction(e)) }
            if minute % 30 == 15 { important.insert(Self.slowAction(e)) }
            if minute % 5 == 4 { e.stitch.flush(timeout: 2) }
            e.clock.advance(milliseconds: 60_000 - 1_000)
        }
        #expect(e.stitch.counters.exportedSpans == 0)
        #expect(e.stitch.persistedBacklog.bytes <= 64 << 10)

        try receiver.reset()
        var delivered = false
        for _ in 0..<50 where !delivered {
            e.clock.advance(milliseconds: 600_000)
            delivered = e.stitch.flush(timeout: 10)
        }
        #expect(delivered)
        let spans = try receiver.received().spans.map(\.span)
        let ids = spans.map(\.spanID)
        #expect(Set(ids).count == ids.count, "a span was delivered twice")
        #expect(important.isSubset(of: Set(ids)), "\(important.subtracting(ids).count) errors or slow requests lost")
        // Routine telemetry was dropped oldest first: the last half hour arrived whole, the first hour not at all.
        let arrived = Set(ids)
        let lastHalfHour = routineByMinute.filter { $0.minute >= 18 * 60 - 30 }.map(\.id)
        let firstHour = routineByMinute.filter { $0.minute < 60 }.map(\.id)
        #expect(lastHalfHour.allSatisfy(arrived.contains))
        #expect(!firstHour.contains(where: arrived.contains))
        let c = e.stitch.counters
        #expect((c.droppedSpans[.diskFull] ?? 0) > 0)
        #expect(c.droppedSpans[.expired] == nil)
        #expect(c.exportedSpans == Int64(spans.count))
        #expect(c.exportedSpans + c.totalDroppedSpans == c.recordedSpans)
        #expect(c.exportedLogs + c.totalDroppedLogs == c.recordedLogs)
        e.stitch.shutdown()
    }

    @Test func whatMemoryHeldAtShutdownIsSentByTheNextLaunch() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let folder = TemporaryFolder()
        var ids: [SpanID] = []
        do {
            let first = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, folder: folder)
            ids = (0..<3).map { _ in Self.routineAction(first) }
            first.stitch.shutdown()
            #expect(first.stitch.persistedBacklog.items >= 3)
        }
        #expect(try receiver.received().spans.isEmpty)
        let next = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, seed: 2, folder: folder)
        #expect(next.stitch.flush(timeout: 10))
        #expect(Set(try receiver.received().spans.map(\.span.spanID)) == Set(ids))
        next.stitch.shutdown()
    }

    @Test func aMalformedBatchFileIsSkippedRemovedAndCounted() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let folder = TemporaryFolder()
        let batches = folder.url.appendingPathComponent("batches")
        try FileManager.default.createDirectory(at: batches, withIntermediateDirectories: true)
        // Named like a batch of this hour (ManualClock's default time), with seven spans.
        let bad = batches.appendingPathComponent("0001765000000000-00000001-tr-7.stb")
        try Data("truncated by a crash".utf8).write(to: bad)
        let e = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, folder: folder)
        Self.failedAction(e)
        #expect(e.stitch.flush(timeout: 10))
        #expect(!FileManager.default.fileExists(atPath: bad.path))
        #expect(e.stitch.counters.droppedSpans[.unreadable] == 7)
        #expect(try receiver.received().spans.count == 1)
        e.stitch.shutdown()
    }

    @Test func aFolderThatCannotBeWrittenIsACountedDropNotACrash() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let folder = TemporaryFolder()
        // A file where the batch folder goes: no user, root included, can create it.
        try Data("x".utf8).write(to: folder.url.appendingPathComponent("batches"))
        let e = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, folder: folder)
        for _ in 0..<5 { _ = Self.routineAction(e) }
        e.stitch.flush(timeout: 5)
        let c = e.stitch.counters
        #expect(c.droppedSpans[.diskFull] == 5)
        #expect(c.exportedSpans + c.totalDroppedSpans == c.recordedSpans)
        e.stitch.shutdown()
    }

    @Test func consentDeniedMidFlightSendsNothingMoreAndEmptiesTheFolder() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let e = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, maxBatchSize: 8)
        try receiver.enqueue([OTLPFault(delayMilliseconds: 1_500, path: Self.traces)])
        for _ in 0..<40 { _ = Self.routineAction(e) }
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) { e.stitch.flush(timeout: 20) }
        // The first batch is on its way (the receiver holds it); the rest wait on disk.
        usleep(300_000)
        e.stitch.setConsent(.denied)
        #expect(done.wait(timeout: .now() + 30) == .success)
        e.stitch.flush(timeout: 5)
        #expect(e.stitch.persistedBacklog.batches == 0)
        let files =
            (try? FileManager.default.contentsOfDirectory(atPath: e.folder.url.appendingPathComponent("batches").path))
            ?? []
        #expect(files.isEmpty)
        let sent = try receiver.received().requests.filter { $0.path == Self.traces }
        #expect(sent.count <= 1, "\(sent.count) trace uploads; only the one in flight may arrive")
        #expect(try receiver.received().spans.count <= 8)
        e.stitch.shutdown()
    }

    @Test func onCellularErrorsGoAtOnceAndRoutineWaitsForItsThreshold() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let e = try ExporterUnderTest(
            endpoint: receiver.endpoint, consent: .granted, cellularRoutineDelay: 600,
            network: NetworkDouble(NetworkStatus(type: .cell, subtype: "lte")))
        let routine = (0..<3).map { _ in Self.routineAction(e) }
        let error = Self.failedAction(e)
        #expect(e.stitch.flush(timeout: 5) == false)
        #expect(try receiver.received().spans.map(\.span.spanID) == [error])
        e.clock.advance(milliseconds: 599_000)
        e.stitch.flush(timeout: 5)
        #expect(try receiver.received().spans.count == 1)
        e.clock.advance(milliseconds: 2_000)
        #expect(e.stitch.flush(timeout: 5))
        #expect(Set(try receiver.received().spans.map(\.span.spanID)) == Set(routine + [error]))
        e.stitch.shutdown()
    }

    @Test func lowPowerModeHoldsRoutineUploadsButNotErrors() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let e = try ExporterUnderTest(
            endpoint: receiver.endpoint, consent: .granted, power: PowerDouble(lowPower: true))
        let routine = Self.routineAction(e)
        let error = Self.failedAction(e)
        #expect(e.stitch.flush(timeout: 5) == false)
        #expect(try receiver.received().spans.map(\.span.spanID) == [error])
        e.power.set(lowPower: false)
        #expect(e.stitch.flush(timeout: 5))
        #expect(Set(try receiver.received().spans.map(\.span.spanID)) == [routine, error])
        e.stitch.shutdown()
    }

    @Test func theExportersOwnCountersArriveAsAStatsRecordWithoutASession() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        try receiver.enqueue([.status(400, path: Self.traces)])
        let e = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, reportsExporterStats: true)
        for _ in 0..<4 { _ = Self.routineAction(e) }
        e.stitch.flush(timeout: 5)
        // With no new drop the next report waits for its interval.
        Self.failedAction(e)
        e.clock.advance(milliseconds: ExporterStatsReport.intervalMs)
        #expect(e.stitch.flush(timeout: 5))
        let stats = try receiver.received().logRecords.filter { $0.record.eventName == "stitch.exporter.stats" }
        #expect(stats.count == 2)
        let record = try #require(stats.first)
        #expect(record.sessionID == nil)
        #expect(record.attributes.int("stitch.exporter.spans.dropped.rejected") == 4)
        #expect(record.resource.string(SchemaAttribute.serviceName) == "com.example.shop.ios")
        let total = stats.compactMap { $0.attributes.int("stitch.exporter.spans.recorded") }.reduce(0, +)
        #expect(total == e.stitch.counters.recordedSpans)
        e.stitch.shutdown()
    }
}
