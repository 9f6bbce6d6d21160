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

    /// One kind's items, the important apart from the routine so the oldest routine item can go in O(1).
    private struct Queues<Item: Sendable> {
        var important = FIFOQueue<Entry<Item>>()
        var routine = FIFOQueue<Entry<Item>>()
        var count: Int { important.count + routine.count }

        /// Appends within `capacity`; true when an item (an older one or this one) was dropped.
        mutating func insert(_ e: consuming Entry<Item>, capacity: Int) -> Bool {
            var dropped = false
            if count >= capacity {
                dropped = true
                if routine.popFirst() == nil {
                    // Only errors and slow requests are held: a routine newcomer goes, an important one replaces
                    // the oldest.
                    guard e.important else { return true }
                    _ = important.popFirst()
                }
            }
            if e.important { important.append(e) } else { routine.append(e) }
            return dropped
        }

        /// Up to `limit` items, errors and slow requests first, each group oldest first.
        mutating func take(limit: Int) -> [Entry<Item>] {
            var out = important.removeFirst(upTo: limit)
            out += routine.removeFirst(upTo: limit - out.count)
            return out
        }

        mutating func removeAll() {
            important.removeAll()
            routine.removeAll()
        }
    }

    private struct Held {
        var spans = Queues<SpanData>()
        var logs = Queues<LogRecordData>()
    }

    let capacity: Int
    private let counters: ExportCounters
    private let contents = Locked(Held())
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
            let dropped = c.spans.insert(Entry(item: span, important: important), capacity: capacity)
            return (dropped, c.spans.count == batchSize)
        }
        if dropped { counters.dropSpans(.bufferFull) }
        if ready { onBatchReady.current?() }
    }

    func append(log: LogRecordData, important: Bool) {
        let (dropped, ready) = contents.withLock { c -> (Bool, Bool) in
            let dropped = c.logs.insert(Entry(item: log, important: important), capacity: capacity)
            return (dropped, c.logs.count == batchSize)
        }
        if dropped { counters.dropLogs(.bufferFull) }
        if ready { onBatchReady.current?() }
    }

    /// Up to `limit` items of each kind, errors and slow requests first.
    func take(limit: Int) -> Contents {
        contents.withLock { c in Contents(spans: c.spans.take(limit: limit), logs: c.logs.take(limit: limit)) }
    }

    /// Empties the buffer (consent denied), returning how many items of each kind were discarded.
    func discardAll() -> (spans: Int, logs: Int) {
        contents.withLock { c in
            let n = (c.spans.count, c.logs.count)
            c.spans.removeAll()
            c.logs.removeAll()
            return n
        }
    }

    var count: Int { contents.withLock { $0.spans.count + $0.logs.count } }
}
