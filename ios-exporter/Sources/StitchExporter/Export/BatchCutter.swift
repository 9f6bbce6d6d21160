import StitchOTLP

/// Turns finished items into batch records ready to persist: errors and slow requests apart from routine
/// telemetry (so the folder can drop routine first), each group encoded as one OTLP request and gzip'd, halved
/// until it fits the file bound. Pure: items in, records out.
enum BatchCutter {
    struct Context: Sendable {
        var resource: ResourceData
        var scope: InstrumentationScope
        var nowMs: Int64
        /// The largest payload a record may carry.
        var maxPayloadBytes: Int
    }

    /// Records for `spans`, and how many spans could not be encoded at all (counted by the caller).
    static func records(spans: [TelemetryBuffer.Entry<SpanData>], _ c: Context) -> (records: [BatchRecord], failed: Int)
    {
        cut(spans, signal: .traces, c) { OTLPEncoder.encodeTraces(resource: c.resource, scope: c.scope, spans: $0) }
    }

    static func records(logs: [TelemetryBuffer.Entry<LogRecordData>], _ c: Context) -> (
        records: [BatchRecord], failed: Int
    ) {
        cut(logs, signal: .logs, c) { OTLPEncoder.encodeLogs(resource: c.resource, scope: c.scope, logs: $0) }
    }

    private static func cut<Item>(
        _ entries: [TelemetryBuffer.Entry<Item>], signal: BatchRecord.Signal, _ c: Context,
        encode: ([Item]) -> [UInt8]
    ) -> (records: [BatchRecord], failed: Int) {
        var out: [BatchRecord] = []
        var failed = 0
        for important in [true, false] {
            let group = entries.filter { $0.important == important }.map(\.item)
            guard !group.isEmpty else { continue }
            var pending: [ArraySlice<Item>] = [group[...]]
            // Each round halves what does not fit; a group of n items needs at most 2n rounds.
            var rounds = 0
            while rounds < 2 * group.count + 2, let slice = pending.popLast() {
                rounds += 1
                guard let gz = try? Gzip.compress(encode(Array(slice)), level: Gzip.otlpLevel) else {
                    failed += slice.count
                    continue
                }
                if gz.count > c.maxPayloadBytes {
                    if slice.count == 1 {
                        failed += 1
                    } else {
                        let mid = slice.startIndex + slice.count / 2
                        pending.append(slice[mid...])
                        pending.append(slice[..<mid])
                    }
                    continue
                }
                out.append(
                    BatchRecord(
                        signal: signal, important: important, split: false, itemCount: slice.count,
                        createdMs: c.nowMs, payload: gz))
            }
            failed += pending.reduce(0) { $0 + $1.count }
        }
        return (out, failed)
    }
}
