import StitchOTLP

/// The exporter's own numbers as one compact log record (`event_name` `stitch.exporter.stats`), sent with the
/// uploads: what was recorded, exported and dropped (by reason) since the previous report, plus the persisted
/// bytes and the last upload's latency. Deltas rather than totals, so reports from several launches add up.
///
/// The record carries no `session.id`, so the plugin's session index (device records with a session) does not
/// count it as a session's record. Pure: two snapshots in, a record out.
enum ExporterStatsReport {
    static let eventName = "stitch.exporter.stats"
    /// A report goes at most this often, unless something was dropped since the last one.
    static let intervalMs: Int64 = 5 * 60 * 1000

    /// Whether a report is due: something was dropped since the last one, or the interval passed with anything new.
    static func isDue(
        previous: ExportCountersSnapshot, current: ExportCountersSnapshot, lastReportMs: Int64?, nowMs: Int64
    )
        -> Bool
    {
        let dropped =
            current.totalDroppedSpans > previous.totalDroppedSpans
            || current.totalDroppedLogs > previous.totalDroppedLogs
            || current.droppedAttributes > previous.droppedAttributes
        if dropped { return true }
        let changed = current.recordedSpans != previous.recordedSpans || current.recordedLogs != previous.recordedLogs
        guard changed else { return false }
        guard let last = lastReportMs else { return true }
        return nowMs - last >= intervalMs
    }

    static func record(previous: ExportCountersSnapshot, current: ExportCountersSnapshot, atNanos: UInt64)
        -> LogRecordData
    {
        var a: [Attribute] = []
        func delta(_ key: String, _ now: Int64, _ before: Int64) {
            a.append(Attribute("stitch.exporter.\(key)", max(0, now - before)))
        }
        delta("spans.recorded", current.recordedSpans, previous.recordedSpans)
        delta("spans.exported", current.exportedSpans, previous.exportedSpans)
        delta("logs.recorded", current.recordedLogs, previous.recordedLogs)
        delta("logs.exported", current.exportedLogs, previous.exportedLogs)
        delta("uploads", current.uploads, previous.uploads)
        delta("uploads.failed", current.uploadFailures, previous.uploadFailures)
        delta("uploads.retried", current.retriedUploads, previous.retriedUploads)
        delta("attributes.dropped", current.droppedAttributes, previous.droppedAttributes)
        for reason in DropReason.allCases {
            let spans = (current.droppedSpans[reason] ?? 0) - (previous.droppedSpans[reason] ?? 0)
            if spans > 0 { a.append(Attribute("stitch.exporter.spans.dropped.\(reason.rawValue)", spans)) }
            let logs = (current.droppedLogs[reason] ?? 0) - (previous.droppedLogs[reason] ?? 0)
            if logs > 0 { a.append(Attribute("stitch.exporter.logs.dropped.\(reason.rawValue)", logs)) }
        }
        a.append(Attribute("stitch.exporter.persisted_bytes", current.persistedBytes))
        a.append(Attribute("stitch.exporter.upload_latency_ms", current.lastUploadLatencyMs))
        let dropped =
            current.totalDroppedSpans + current.totalDroppedLogs > previous.totalDroppedSpans
            + previous.totalDroppedLogs
        return LogRecordData(
            timeUnixNano: atNanos, observedTimeUnixNano: atNanos, severity: dropped ? .warn : .info,
            body: .string(eventName), attributes: a, eventName: eventName)
    }
}
