import StitchExporter
import StitchOTLP

/// Goal 2: encoding and compressing batches on one core. Each sample encodes one batch of 512 realistic client
/// spans with `OTLPEncoder.encodeTraces` and gzips it at the exporter's level (`Gzip.otlpLevel`), on this one thread; zlib's
/// default level 6 is measured beside it for the size it would save.
struct EncodeBenchmark {
    let budget: BenchBudget
    static let batchSize = 512

    private struct Run {
        var encode = Samples()
        var gzip = Samples()
        var fastGzip = Samples()
        var fastGzipBytes = 0
        var total = Samples()
        var batches = 0
        var threadCPUSeconds = 0.0
    }

    func figures() throws -> [Figure] {
        let runs = try [measure(seed: 11), measure(seed: 12)]
        let perSecond = runs.map { Double(Self.batchSize) / ($0.total.median / 1e9) }
        let perCPUSecond = runs.map { Double($0.batches * Self.batchSize) / max($0.threadCPUSeconds, 1e-9) }
        let encodeUs = runs.map { $0.encode.median / 1000 }.reduce(0, +) / 2
        let gzipUs = runs.map { $0.gzip.median / 1000 }.reduce(0, +) / 2
        let fastPerSecond = runs.map { Double(Self.batchSize) / (($0.encode.median + $0.fastGzip.median) / 1e9) }
        let fastBytes = runs.map { Double($0.fastGzipBytes) / Double(Self.batchSize) }
        let share = String(Int((gzipUs / (encodeUs + gzipUs) * 100).rounded()))
        let batches = runs.map { String($0.batches) }.joined(separator: "+")
        let split = "encode \(Int(encodeUs.rounded())) µs + gzip \(Int(gzipUs.rounded())) µs per batch"
        let goal = "2. encode + gzip"
        return [
            Figure(
                goal: goal, name: "spans/s, median of \(batches) batches of \(Self.batchSize), one thread",
                unit: "spans/s", runs: perSecond, target: .atLeast(200_000), note: split,
                causeIfMissed:
                    "gzip (zlib level \(Gzip.otlpLevel)) is \(share) % of the time; the rest is protobuf encoding"),
            Figure(
                goal: goal, name: "reference: the same with zlib's default level 6 (not what the exporter uses)",
                unit: "spans/s", runs: fastPerSecond,
                note: String(format: "%.1f bytes/span", fastBytes.reduce(0, +) / 2)),
            Figure(
                goal: goal, name: "spans per CPU-second of the thread (cross-check)", unit: "spans/s",
                runs: perCPUSecond, target: .atLeast(200_000),
                causeIfMissed:
                    "gzip (zlib level \(Gzip.otlpLevel)) is \(share) % of the time; the rest is protobuf encoding"),
        ]
    }

    private func measure(seed: UInt64) throws -> Run {
        let spans = RealisticTelemetry.clientSpans(count: Self.batchSize, seed: seed)
        let resource = RealisticTelemetry.resource()
        var run = Run()
        var sink = 0
        // Two untimed batches first: page in the encoder, zlib and the allocator's arenas.
        for _ in 0..<2 {
            sink &+= try Gzip.compress(
                OTLPEncoder.encodeTraces(resource: resource, scope: StitchInstance.scope, spans: spans),
                level: Gzip.otlpLevel
            ).count
        }
        run.batches = try BoundedLoop(maxIterations: budget.encodeBatches / 2, seconds: budget.encodeSeconds / 2).run {
            _ in
            let cpu0 = ProcessStats.threadCPUSeconds()
            let t0 = Monotonic.nanos()
            let body = OTLPEncoder.encodeTraces(resource: resource, scope: StitchInstance.scope, spans: spans)
            let t1 = Monotonic.nanos()
            let gz = try Gzip.compress(body, level: Gzip.otlpLevel)
            let t2 = Monotonic.nanos()
            run.threadCPUSeconds += ProcessStats.threadCPUSeconds() - cpu0
            let fast = try Gzip.compress(body, level: 6)
            run.fastGzip.add(Double(Monotonic.nanos() &- t2))
            run.fastGzipBytes = fast.count
            sink &+= gz.count
            run.encode.add(Double(t1 &- t0))
            run.gzip.add(Double(t2 &- t1))
            run.total.add(Double(t2 &- t0))
        }
        precondition(sink > 0)
        return run
    }
}
