import StitchOTLP
import Testing

@testable import StitchExporter

struct FIFOQueueTests {
    @Test func keepsOrderAcrossCompactions() {
        var q = FIFOQueue<Int>()
        var expected: [Int] = []
        var next = 0
        // Bounded mix of appends and removals that crosses the compaction threshold many times.
        for round in 0..<2_000 {
            for _ in 0..<(round % 7) {
                q.append(next)
                expected.append(next)
                next += 1
            }
            if round % 3 == 0, let first = q.popFirst() { #expect(first == expected.removeFirst()) }
            if round % 11 == 0 {
                let taken = q.removeFirst(upTo: 5)
                #expect(taken == Array(expected.prefix(5)))
                expected.removeFirst(taken.count)
            }
            #expect(q.count == expected.count)
        }
        #expect(q.removeFirst(upTo: .max) == expected)
        #expect(q.isEmpty && q.popFirst() == nil)
    }
}

struct TelemetryBufferTests {
    static func span(_ n: UInt64) -> SpanData {
        SpanData(
            traceID: TraceID(high: 1, low: n), spanID: SpanID(n), name: "s\(n)", kind: .internal,
            startTimeUnixNano: n, endTimeUnixNano: n)
    }

    @Test func atTheBoundTheOldestRoutineItemGoesFirstThenTheOldestImportantOne() {
        let counters = ExportCounters()
        let buffer = TelemetryBuffer(capacity: 4, batchSize: 100, counters: counters)
        buffer.append(span: Self.span(1), important: true)
        buffer.append(span: Self.span(2), important: false)
        buffer.append(span: Self.span(3), important: false)
        buffer.append(span: Self.span(4), important: true)
        buffer.append(span: Self.span(5), important: false)  // drops 2
        buffer.append(span: Self.span(6), important: true)  // drops 3
        buffer.append(span: Self.span(7), important: true)  // drops 5
        buffer.append(span: Self.span(8), important: false)  // only important held: the newcomer goes
        buffer.append(span: Self.span(9), important: true)  // drops 1
        let held = buffer.take(limit: 10).spans
        #expect(held.map(\.item.spanID.value) == [4, 6, 7, 9])
        #expect(counters.snapshot.droppedSpans[.bufferFull] == 5)
        #expect(buffer.count == 0)
    }

    @Test func takeGivesImportantFirstWithinTheLimit() {
        let buffer = TelemetryBuffer(capacity: 10, batchSize: 100, counters: ExportCounters())
        for n: UInt64 in 1...6 { buffer.append(span: Self.span(n), important: n % 3 == 0) }
        #expect(buffer.take(limit: 3).spans.map(\.item.spanID.value) == [3, 6, 1])
        #expect(buffer.take(limit: 10).spans.map(\.item.spanID.value) == [2, 4, 5])
    }
}
