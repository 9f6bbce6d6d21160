import Foundation
import StitchExporter
import StitchOTLP
import StitchTestSupport

/// Goal 1: what recording one span costs the app's thread. The real `StitchInstance` records action spans
/// (`startAction` + `end`, the smallest public recording call) on a manual clock with seeded IDs, offline (so
/// nothing is uploaded; full batches are still cut to disk on the export queue, as on a device); the reference, timed in the same samples, appends a finished span value to an Array
/// under an NSLock (what the buffer itself must at least do).
struct RecordPathBenchmark {
    let budget: BenchBudget

    private struct Run {
        var plain = Samples()
        var withAttributes = Samples()
        var production = Samples()
        var reference = Samples()
        var start = Samples()
        var end = Samples()
        var heapBytesPerSpan: Double?
    }

    func figures() throws -> [Figure] {
        let runs = try [measure(seed: 1), measure(seed: 2)]
        let goal = "1. record path"
        let plain = runs.map { $0.plain.median / 1000 }
        let attributed = runs.map { $0.withAttributes.median / 1000 }
        let production = runs.map { $0.production.median / 1000 }
        let reference = runs.map { $0.reference.median / 1000 }
        let ratio = zip(plain, reference).map { $0 / $1 }
        let start = runs.map { $0.start.median / 1000 }.reduce(0, +) / 2
        let end = runs.map { $0.end.median / 1000 }.reduce(0, +) / 2
        let samples = runs.map { String($0.plain.count) }.joined(separator: "+")
        let cause =
            String(format: "startAction %.2f µs + end %.2f µs; ", start, end)
            + "end() rebuilds ~10 attributes (session, network, clock, action id hex, sampling) into a new array and "
            + "takes 5+ short locks (context, network, counters, buffer); startAction reads the session rule and "
            + "3 IDs under their locks"
        let heap = runs.compactMap(\.heapBytesPerSpan)
        return [
            Figure(
                goal: goal, name: "startAction + end per span, median of \(samples) samples × \(budget.spansPerSample)",
                unit: "µs", runs: plain, target: .atMost(1), causeIfMissed: cause, precision: 3),
            Figure(
                goal: goal, name: "same with 2 app attributes (sanitised)", unit: "µs", runs: attributed,
                target: .atMost(1),
                causeIfMissed: cause
                    + "; the app attributes add the sanitiser's PII and URL scans per string (CFStringFind shows in perf)",
                precision: 3),
            Figure(
                goal: goal, name: "same with the production clock and IDs (SystemClock, RandomIDGenerator)",
                unit: "µs", runs: production, target: .atMost(1),
                causeIfMissed:
                    cause + "; RandomIDGenerator draws 4 UInt64s a span from SystemRandomNumberGenerator, each a "
                    + "getrandom(2) syscall on Linux (arc4random in user space on iOS)", precision: 3),
            Figure(
                goal: goal,
                name: "reference: NSLock + Array.append of a \(MemoryLayout<SpanData>.size)-byte SpanData, per append",
                unit: "µs", runs: reference, precision: 3),
            Figure(goal: goal, name: "record path ÷ reference", unit: "×", runs: ratio, precision: 0),
            Figure(
                goal: goal, name: "heap retained per buffered span", unit: "bytes", runs: heap.count == 2 ? heap : [],
                note: heap.count == 2 ? "glibc malloc_info" : "not measurable: no glibc malloc_info", precision: 0),
        ]
    }

    private func measure(seed: UInt64) throws -> Run {
        let exporter = try BenchExporter(
            endpoint: BenchExporter.unreachableEndpoint, clock: ManualClock(),
            network: NetworkDouble(NetworkStatus(type: .unavailable)), ids: SeededIDGenerator(seed: seed),
            maxBatchDelay: 3600)
        defer { exporter.remove() }
        let stitch = exporter.stitch
        let productionExporter = try BenchExporter(
            endpoint: BenchExporter.unreachableEndpoint, clock: SystemClock(),
            network: NetworkDouble(NetworkStatus(type: .unavailable)), ids: RandomIDGenerator(), maxBatchDelay: 3600)
        defer { productionExporter.remove() }
        let productionStitch = productionExporter.stitch
        let reference = LockedSpanList()
        let value = RealisticTelemetry.actionSpan()
        let n = budget.spansPerSample
        let attributes = BenchExporter.actionAttributes
        var run = Run()

        func timed(_ body: () -> Void) -> Double {
            let t0 = Monotonic.nanos()
            body()
            return Double(Monotonic.nanos() &- t0) / Double(n)
        }
        // The buffer is emptied between samples (consent denied then granted is the public way), so every sample
        // sees the same fill, below the buffer's bound.
        func emptyBuffer(_ instance: StitchInstance? = nil) {
            let target = instance ?? stitch
            target.setConsent(.denied)
            target.setConsent(.granted)
        }

        let warmUp = 3
        BoundedLoop(maxIterations: budget.recordSamples + warmUp, seconds: budget.recordSeconds / 2).run { i in
            let plain = timed { for _ in 0..<n { stitch.startAction("checkout.tap").end() } }
            emptyBuffer()
            let attributed = timed {
                for _ in 0..<n { stitch.startAction("checkout.tap", attributes: attributes).end() }
            }
            emptyBuffer()
            let realClockAndIDs = timed { for _ in 0..<n { productionStitch.startAction("checkout.tap").end() } }
            emptyBuffer(productionStitch)
            let appended = timed { for _ in 0..<n { reference.append(value) } }
            reference.removeAll()
            guard i >= warmUp else { return }
            run.plain.add(plain)
            run.withAttributes.add(attributed)
            run.production.add(realClockAndIDs)
            run.reference.add(appended)
        }

        // Where the time goes: the start and the end of the same spans, timed apart.
        var open: [ActionSpan] = []
        open.reserveCapacity(n)
        BoundedLoop(maxIterations: 10, seconds: 2).run { _ in
            run.start.add(timed { for _ in 0..<n { open.append(stitch.startAction("checkout.tap")) } })
            run.end.add(timed { for span in open { span.end() } })
            open.removeAll(keepingCapacity: true)
            emptyBuffer()
        }

        // Fewer spans than a batch, so no cut moves them to disk while the heap is read.
        // The median of three reads, since the allocator's per-thread caches blur any single one.
        let held = 500
        var heap = Samples()
        for _ in 0..<3 {
            // Reading the backlog waits for the export queue, so no pass allocates beside the reads.
            _ = stitch.persistedBacklog
            guard let before = HeapUsage.inUseBytes() else { break }
            for _ in 0..<held { stitch.startAction("checkout.tap").end() }
            if let after = HeapUsage.inUseBytes() { heap.add(Double(after - before) / Double(held)) }
            emptyBuffer()
        }
        if heap.count > 0 { run.heapBytesPerSpan = heap.median }
        return run
    }
}

/// The reference: a finished span appended to an Array under an NSLock.
private final class LockedSpanList: @unchecked Sendable {
    private let lock = NSLock()
    private var spans: [SpanData] = []

    @inline(never)
    func append(_ span: SpanData) {
        lock.lock()
        spans.append(span)
        lock.unlock()
    }

    func removeAll() {
        lock.lock()
        spans = []
        lock.unlock()
    }
}
