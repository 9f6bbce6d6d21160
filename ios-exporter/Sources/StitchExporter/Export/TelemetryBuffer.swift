import StitchOTLP

/// Finished items waiting for their batch, bounded. Appending takes one short lock and never waits for I/O.
///
/// When the buffer is full the least valuable item goes first: routine telemetry (kept because its session is
/// sampled) before errors and slow requests, the oldest of its kind first. Every drop is counted.
final class TelemetryBuffer: Sendable {
    struct Entry<Item: Sendable>: Sendable {
        var item: Item
        /// An error or a request over the latency threshold.
        var important: Bool
    }

    struct Contents: Sendable {
        var spans: [Entry<SpanData>] = []
        var logs: [Entry<LogRecordData>] = []
        var isEmpty: Bool { spans.isEmpty && logs.isEmpty }
        var count: Int { spans.count + logs.count }
    }

    let capacity: Int
    private let counters: ExportCounters
    private let contents = Locked(Contents())
    /// Called (outside the lock) when a kind reaches a full batch, so the exporter can cut it early.
    private let onBatchReady: Locked<(@Sendable () -> Void)?> = Locked(nil)
    private let batchSize: Int

    init(capacity: Int, batchSize: Int, counters: ExportCounters) {
        self.capacity = capacity
        self.batchSize = batchSize
        self.counters = counters
    }

    func setBatchReadyHandler(_ handler: @escaping @Sendable () -> Void) {
        onBatchReady.withLock { $0 = handler }
    }

    func append(span: SpanData, important: Bool) {
        let (dropped, ready) = contents.withLock { c -> (Bool, Bool) in
            let dropped = Self.insert(Entry(item: span, important: important), into: &c.spans, capacity: capacity)
            return (dropped, c.spans.count == batchSize)
        }
        if dropped { counters.dropSpans(.bufferFull) }
        if ready { onBatchReady.current?() }
    }

    func append(log: LogRecordData, important: Bool) {
        let (dropped, ready) = contents.withLock { c -> (Bool, Bool) in
            let dropped = Self.insert(Entry(item: log, important: important), into: &c.logs, capacity: capacity)
            return (dropped, c.logs.count == batchSize)
        }
        if dropped { counters.dropLogs(.bufferFull) }
        if ready { onBatchReady.current?() }
    }

    /// Puts items back at the front (a batch that could not be sent yet), within the same bound.
    func restore(_ returned: Contents) {
        let (droppedSpans, droppedLogs) = contents.withLock { c -> (Int, Int) in
            var spans = returned.spans
            var logs = returned.logs
            var ds = 0
            var dl = 0
            for e in c.spans where Self.insert(e, into: &spans, capacity: capacity) { ds += 1 }
            for e in c.logs where Self.insert(e, into: &logs, capacity: capacity) { dl += 1 }
            c.spans = spans
            c.logs = logs
            return (ds, dl)
        }
        counters.dropSpans(.bufferFull, Int64(droppedSpans))
        counters.dropLogs(.bufferFull, Int64(droppedLogs))
    }

    /// Takes up to `limit` items of each kind, oldest first.
    func take(limit: Int) -> Contents {
        contents.withLock { c in
            let s = min(limit, c.spans.count)
            let l = min(limit, c.logs.count)
            let out = Contents(spans: Array(c.spans.prefix(s)), logs: Array(c.logs.prefix(l)))
            c.spans.removeFirst(s)
            c.logs.removeFirst(l)
            return out
        }
    }

    /// Empties the buffer (consent denied), returning how many items of each kind were discarded.
    func discardAll() -> (spans: Int, logs: Int) {
        contents.withLock { c in
            let n = (c.spans.count, c.logs.count)
            c = Contents()
            return n
        }
    }

    var count: Int { contents.withLock { $0.count } }

    /// Appends within the bound; returns true when an item (the new one or an older one) was dropped.
    private static func insert<Item>(_ e: Entry<Item>, into list: inout [Entry<Item>], capacity: Int) -> Bool {
        if list.count < capacity {
            list.append(e)
            return false
        }
        if let oldestRoutine = list.firstIndex(where: { !$0.important }) {
            list.remove(at: oldestRoutine)
            list.append(e)
        } else if e.important {
            list.removeFirst()
            list.append(e)
        }
        return true
    }
}
