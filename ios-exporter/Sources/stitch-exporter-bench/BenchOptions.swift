import Foundation

/// The benchmark's command line, and the bounds each mode runs under.
struct BenchOptions {
    enum Mode: String {
        /// For CI: well under a minute in total.
        case short
        /// For the results file: a few minutes.
        case full
    }

    var mode: Mode = .full
    /// Where the markdown goes; nil for the package's `Benchmarks/results.md`.
    var outPath: String?
    /// Set when this process is a child the benchmark started for one isolated scenario.
    var child: ChildScenario?

    static let usage = """
        usage: stitch-exporter-bench [--short] [--out PATH]

        Measures the Stitch exporter's record path, encoding, wire size, memory and CPU, and writes a markdown
        table (default: Benchmarks/results.md of the package), printing the same table.

          --short      bounded for CI (well under 60 s); the default full mode takes a few minutes
          --out PATH   write the markdown here instead
          --help       this text
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ args: [String]) throws(UsageError) -> BenchOptions {
        var options = BenchOptions()
        var i = 0
        while i < args.count {
            let arg = args[i]
            switch arg {
            case "--short": options.mode = .short
            case "--out", "--child":
                i += 1
                guard i < args.count, !args[i].isEmpty else { throw UsageError(description: "\(arg) needs a value") }
                if arg == "--out" {
                    options.outPath = args[i]
                } else {
                    guard let scenario = ChildScenario(argument: args[i]) else {
                        throw UsageError(description: "--child: \"\(args[i])\" is not a scenario")
                    }
                    options.child = scenario
                }
            case "--help", "-h": throw UsageError(description: "")
            default: throw UsageError(description: "unknown option \(arg)")
            }
            i += 1
        }
        return options
    }

    var budget: BenchBudget { mode == .short ? .short : .full }
}

/// How long and how often each benchmark runs. Every loop is bounded by a count and by a time.
struct BenchBudget {
    /// Samples per run of the record path (each sample records `spansPerSample` spans).
    var recordSamples: Int
    var spansPerSample: Int
    /// Longest a record-path run may take, in seconds.
    var recordSeconds: Double
    /// Most encode+gzip batches per run, and the longest a run may take.
    var encodeBatches: Int
    var encodeSeconds: Double
    /// How long each steady-load run records at 100 spans/s.
    var steadySeconds: Int
    /// Spans recorded while offline.
    var offlineSpans: Int

    static let short = BenchBudget(
        recordSamples: 60, spansPerSample: 1000, recordSeconds: 4, encodeBatches: 200, encodeSeconds: 1.5,
        steadySeconds: 6, offlineSpans: 10_000)
    static let full = BenchBudget(
        recordSamples: 400, spansPerSample: 1000, recordSeconds: 20, encodeBatches: 2000, encodeSeconds: 8,
        steadySeconds: 30, offlineSpans: 10_000)
}
