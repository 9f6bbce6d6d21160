import Dispatch

/// The monotonic clock every timing reads (never the wall clock, which may jump).
enum Monotonic {
    static func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func seconds(since start: UInt64) -> Double { Double(nanos() &- start) / 1e9 }
}

/// Repeated measurements of one quantity, summarised by their median (robust to the odd preempted sample).
struct Samples {
    private(set) var values: [Double] = []

    mutating func add(_ value: Double) { values.append(value) }

    var count: Int { values.count }

    var median: Double { percentile(50) }

    /// Nearest-rank percentile; NaN when empty.
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

/// A loop bound by both a count and a deadline, so no benchmark can run away on a slow or loaded machine.
struct BoundedLoop {
    let maxIterations: Int
    let deadline: UInt64

    init(maxIterations: Int, seconds: Double) {
        self.maxIterations = maxIterations
        deadline = Monotonic.nanos() &+ UInt64(seconds * 1e9)
    }

    /// Runs `body` until it has run `maxIterations` times or the deadline passed; returns how often it ran.
    @discardableResult
    func run(_ body: (Int) throws -> Void) rethrows -> Int {
        var i = 0
        while i < maxIterations, Monotonic.nanos() < deadline {
            try body(i)
            i += 1
        }
        return i
    }
}
