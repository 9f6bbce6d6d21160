import StitchOTLP
import Testing

@testable import StitchExporter

struct ExporterStatsReportTests {
    var before: ExportCountersSnapshot {
        var s = ExportCountersSnapshot()
        s.recordedSpans = 10
        s.exportedSpans = 8
        s.droppedSpans = [.sampledOut: 2]
        return s
    }

    @Test func theRecordCarriesDeltasAndDropsByReason() {
        var now = before
        now.recordedSpans = 25
        now.exportedSpans = 15
        now.droppedSpans = [.sampledOut: 4, .diskFull: 3]
        now.persistedBytes = 4096
        let r = ExporterStatsReport.record(previous: before, current: now, atNanos: 5)
        let a = Dictionary(uniqueKeysWithValues: r.attributes.map { ($0.key, $0.value) })
        #expect(r.eventName == "stitch.exporter.stats")
        #expect(a["stitch.exporter.spans.recorded"] == .int(15))
        #expect(a["stitch.exporter.spans.exported"] == .int(7))
        #expect(a["stitch.exporter.spans.dropped.sampled_out"] == .int(2))
        #expect(a["stitch.exporter.spans.dropped.disk_full"] == .int(3))
        #expect(a["stitch.exporter.persisted_bytes"] == .int(4096))
        #expect(a["session.id"] == nil)
        #expect(r.severity == .warn)
    }

    @Test func dueAtOnceAfterADropOtherwiseOncePerInterval() {
        var now = before
        #expect(!ExporterStatsReport.isDue(previous: before, current: now, lastReportMs: 0, nowMs: 10_000_000))
        now.recordedSpans += 1
        #expect(ExporterStatsReport.isDue(previous: before, current: now, lastReportMs: nil, nowMs: 0))
        #expect(!ExporterStatsReport.isDue(previous: before, current: now, lastReportMs: 0, nowMs: 1_000))
        #expect(
            ExporterStatsReport.isDue(
                previous: before, current: now, lastReportMs: 0, nowMs: ExporterStatsReport.intervalMs))
        now.droppedLogs = [.bufferFull: 1]
        #expect(ExporterStatsReport.isDue(previous: before, current: now, lastReportMs: 0, nowMs: 1_000))
    }
}
