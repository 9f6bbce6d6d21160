import Foundation

/// Runs the benchmark: every goal's figures (the memory and CPU ones in child processes of their own), then the
/// report to the results file and standard output. Exit 0 whatever the figures say; 1 only when the benchmark
/// itself could not run.
enum BenchCommand {
    static func run(arguments: [String]) -> Int32 {
        let options: BenchOptions
        do {
            options = try BenchOptions.parse(arguments)
        } catch {
            if error.description.isEmpty {
                print(BenchOptions.usage)
                return 0
            }
            fail("\(error.description)\n\(BenchOptions.usage)")
            return 1
        }
        do {
            if let child = options.child {
                try runChild(child)
            } else {
                try runAll(options)
            }
            return 0
        } catch {
            fail("\(error)")
            return 1
        }
    }

    private static func runChild(_ scenario: ChildScenario) throws {
        switch scenario {
        case .steady(let seconds):
            try ChildProcess.report(SteadyLoadBenchmark.runChild(seconds: seconds))
        case .offline(let spans, let granted, let rate):
            try ChildProcess.report(
                OfflineBufferBenchmark.runChild(spans: spans, consentGranted: granted, ratePerSecond: rate))
        }
    }

    private static func runAll(_ options: BenchOptions) throws {
        let outFile = try options.outPath.map { URL(fileURLWithPath: $0) } ?? ResultsLocation.defaultFile()
        let started = Date()
        let loadAtStart = ResultsReport.loadAverage
        let t0 = Monotonic.nanos()
        let budget = options.budget
        var figures: [Figure] = []
        func step(_ name: String, _ body: () throws -> [Figure]) throws {
            let s = Monotonic.nanos()
            progress("\(name)…")
            figures += try body()
            progress("\(name): \(String(format: "%.1f", Monotonic.seconds(since: s))) s")
        }
        try step("1. record path") { try RecordPathBenchmark(budget: budget).figures() }
        try step("2. encode + gzip") { try EncodeBenchmark(budget: budget).figures() }
        try step("3. wire size") { try WireSizeBenchmark().figures() }
        try step("4. steady load (2 child runs)") { try SteadyLoadBenchmark.figures(budget: budget) }
        try step("5. offline (4 child runs)") { try OfflineBufferBenchmark.figures(budget: budget) }
        // Keep the report in goal order (the steady run also yields a wire-size row).
        let ordered = figures.enumerated().sorted { a, b in
            a.element.goal == b.element.goal ? a.offset < b.offset : a.element.goal < b.element.goal
        }.map(\.element)

        let report = ResultsReport(
            mode: options.mode, figures: ordered, notMeasurable: notMeasurable, methods: methods(budget),
            startedAt: started, durationSeconds: Monotonic.seconds(since: t0), loadAtStart: loadAtStart)
        try FileManager.default.createDirectory(
            at: outFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(report.markdown.utf8).write(to: outFile, options: .atomic)
        print(report.table)
        let missed = ordered.filter { $0.isMet == false }
        for f in missed { print("missed: \(f.goal), \(f.name): \(f.causeIfMissed ?? "no cause identified")") }
        print("wrote \(outFile.path)")
    }

    private static let notMeasurable = [
        "Allocations per span (a count): Swift rejects interposing `malloc` (a reserved runtime symbol) and glibc "
            + "2.34+ has no malloc hooks, so without a C target only heap bytes are read (glibc `malloc_info`).",
        "The CPU and memory of an iPhone: these figures are from Linux (Foundation's URLSession runs on libcurl "
            + "here); the ratios and per-span costs travel better than the absolute numbers.",
    ]

    private static func methods(_ budget: BenchBudget) -> [String] {
        [
            "**1. Record path.** A real `StitchInstance` (ManualClock, SeededIDGenerator, NetworkDouble unavailable, "
                + "consent granted, endpoint 127.0.0.1:9, maxBatchDelay 3600 s) records `startAction(name).end()` "
                + "on the calling thread; each sample times \(budget.spansPerSample) spans on the monotonic clock, "
                + "up to \(budget.recordSamples) samples per run after 3 warm-ups, and a run's figure is the median "
                + "sample. The same samples time the call with 2 app attributes, a second instance with the "
                + "production SystemClock and RandomIDGenerator, and the reference: a finished `SpanData` appended "
                + "to an Array under an NSLock. Buffers are emptied between samples (consent denied, then granted). "
                + "Full batches are cut to batch files on the export queue while recording, as on a device. Heap "
                + "bytes: glibc `malloc_info` in-use bytes before and after 500 spans (below one batch, so none are "
                + "cut away), median of 3.",
            "**2. Encode + gzip.** `OTLPEncoder.encodeTraces` then `Gzip.compress` (level `Gzip.otlpLevel` = 1, the exporter's) of one "
                + "512-span batch of realistic client spans (the exporter's attributes: session.id, "
                + "network.connection.type, user.id, stitch.user.tier, stitch.clock.offset_ms, "
                + "stitch.clock.monotonic_ns, http.request.method, url.template, server.address, "
                + "http.response.status_code, error.type, app.screen.name, stitch.action.name, stitch.action.id, "
                + "sampling; 1–5 requests per action trace, 10 % non-200), on one thread, up to "
                + "\(budget.encodeBatches / 2) batches or \(budget.encodeSeconds / 2) s per run; spans/s = 512 ÷ the "
                + "median batch time; the cross-check divides by the thread's CPU time for the same work. The "
                + "level-6 reference compresses the same body again in each sample.",
            "**3. Wire size.** The gzip'd body of one such batch ÷ 512, one seed per run; and, from goal 4's runs, "
                + "the trace bodies the sink received ÷ spans the exporter counted as exported.",
            "**4. Steady load.** Each run is a fresh child process: a loopback sink that only counts (built on "
                + "StitchTestSupport's LoopbackHTTPServer; `InProcessOTLPReceiver` keeps and decodes every payload, "
                + "which would be counted as the exporter's memory and CPU), one warm-up request through a "
                + "throwaway URLSession, the reference (the same 100-Hz sleep loop recording nothing, its CPU per "
                + "wake-up), then the baseline RSS (/proc/self/statm); then a real StitchInstance (system clock, "
                + "random IDs, default batching: 512 spans or 5 s, persistence on) records one action span every "
                + "10 ms for \(budget.steadySeconds) s. RSS is sampled every 0.5 s; the figure is the median of the "
                + "second half minus the baseline. CPU = the process's getrusage user+system time over the window, "
                + "less the reference's CPU per wake-up × spans, ÷ the window. Each record call is also timed.",
            "**5. Offline.** Each run is a fresh child process: a real StitchInstance (ManualClock, seeded IDs, "
                + "default bounds: 2048 spans in memory, 16 MiB of batch files) with the network unavailable "
                + "records \(budget.offlineSpans) action spans in chunks of 256 timed on the monotonic clock: with "
                + "consent granted at \(OfflineBufferBenchmark.pacedRate) spans/s and in a burst as fast as the "
                + "thread can (full batches are cut into batch files; `shutdown()` writes the rest; the disk figure "
                + "is `persistedBacklog.bytes` after it), and with consent pending in a burst (nothing may be "
                + "written, so memory holds up to its bound and drops the rest). Peak RSS is VmHWM minus the RSS "
                + "right after `StitchInstance.init`; the init itself, on a cold process, is shown beside it.",
        ]
    }

    private static func progress(_ line: String) {
        FileHandle.standardError.write(Data("bench: \(line)\n".utf8))
    }

    private static func fail(_ message: String) {
        FileHandle.standardError.write(Data("stitch-exporter-bench: error: \(message)\n".utf8))
    }
}
