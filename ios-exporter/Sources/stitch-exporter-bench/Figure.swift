/// One row of the report: a quantity measured in two runs, with the product goal it is judged against.
struct Figure {
    /// What a figure is judged against.
    enum Target {
        case atMost(Double)
        case atLeast(Double)

        func isMet(by value: Double) -> Bool {
            switch self {
            case .atMost(let limit): return value <= limit
            case .atLeast(let floor): return value >= floor
            }
        }
    }

    /// The product issue's goal number and short name, e.g. "1. record path".
    var goal: String
    var name: String
    var unit: String
    /// One value per run (two), or empty when the figure could not be measured here.
    var runs: [Double]
    var target: Target?
    /// Why the figure is missing or what the measurement is (a reference, a bound), shown beside it.
    var note: String?
    /// When the goal is missed: the likely cause, in one line.
    var causeIfMissed: String?
    /// Digits after the decimal point.
    var precision = 2

    /// The two runs' mean (with two runs, also their median).
    var combined: Double? { runs.isEmpty ? nil : runs.reduce(0, +) / Double(runs.count) }

    var isMet: Bool? {
        guard let target, let combined, combined.isFinite else { return nil }
        return target.isMet(by: combined)
    }

    var verdict: String {
        guard target != nil else { return "—" }
        guard let met = isMet else { return "not measured" }
        return met ? "met" : "missed"
    }

    var targetText: String {
        switch target {
        case .atMost(let v): return "≤ \(format(v)) \(unit)"
        case .atLeast(let v): return "≥ \(format(v)) \(unit)"
        case nil: return "—"
        }
    }

    func format(_ v: Double) -> String {
        guard v.isFinite else { return "n/a" }
        let digits = abs(v) >= 1000 ? 0 : precision
        return Self.grouped(v, digits: digits)
    }

    /// Thousands separated by commas, so large rates stay readable in a table.
    private static func grouped(_ v: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (abs(v) * scale).rounded() / scale
        let whole = Int(rounded)
        var text = String(whole)
        var i = text.count - 3
        while i > 0 {
            text.insert(",", at: text.index(text.startIndex, offsetBy: i))
            i -= 3
        }
        if digits > 0 {
            let fraction = Int(((rounded - Double(whole)) * scale).rounded())
            let padded = String(fraction)
            text += "." + String(repeating: "0", count: max(0, digits - padded.count)) + padded
        }
        return (v < 0 ? "-" : "") + text
    }
}
