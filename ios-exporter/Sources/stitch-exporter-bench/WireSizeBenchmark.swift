import StitchExporter
import StitchOTLP

/// Goal 3: bytes on the wire per span, for a 512-span batch of realistic client spans (protobuf, then gzip at the
/// uploader's level), one batch per seed.
struct WireSizeBenchmark {
    func figures() throws -> [Figure] {
        let sizes = try [measure(seed: 21), measure(seed: 22)]
        let n = Double(EncodeBenchmark.batchSize)
        let gzipPerSpan = sizes.map { Double($0.gzip) / n }
        let protobufPerSpan = sizes.map { Double($0.protobuf) / n }
        let goal = "3. wire size"
        return [
            Figure(
                goal: goal, name: "protobuf + gzip per span, \(EncodeBenchmark.batchSize)-span batch", unit: "bytes",
                runs: gzipPerSpan, target: .atMost(200),
                causeIfMissed:
                    "random trace/span IDs (32 bytes a span) and per-span monotonic ns do not compress; the rest is "
                    + "repeated attribute keys", precision: 1),
            Figure(
                goal: goal, name: "protobuf alone per span (before gzip)", unit: "bytes", runs: protobufPerSpan,
                precision: 1),
        ]
    }

    private func measure(seed: UInt64) throws -> (protobuf: Int, gzip: Int) {
        let spans = RealisticTelemetry.clientSpans(count: EncodeBenchmark.batchSize, seed: seed)
        let body = OTLPEncoder.encodeTraces(
            resource: RealisticTelemetry.resource(), scope: StitchInstance.scope, spans: spans)
        return (body.count, try Gzip.compress(body, level: Gzip.otlpLevel).count)
    }
}
