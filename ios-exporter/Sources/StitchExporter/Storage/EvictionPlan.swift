/// Which persisted batches to drop so a new one fits the folder bound. Pure: sizes and values in, names out.
///
/// The least valuable go first — routine telemetry before errors and slow requests, the oldest of each first — and
/// the new batch competes with the old ones by the same order, so a routine batch never pushes out an error.
enum EvictionPlan {
    struct Candidate: Sendable, Equatable {
        var name: String
        var bytes: Int
        var important: Bool
        var createdMs: Int64
    }

    struct Outcome: Sendable, Equatable {
        /// Existing batches to delete, in order.
        var evict: [Candidate]
        /// Whether the new batch is written (false: it is the least valuable and is dropped itself).
        var writeIncoming: Bool
    }

    static func plan(existing: [Candidate], incoming: Candidate, maxFolderBytes: Int) -> Outcome {
        let withIncoming = leastValuable(existing + [incoming], until: maxFolderBytes)
        if !withIncoming.contains(where: { $0 == existing.count }) {
            return Outcome(evict: withIncoming.map { existing[$0] }, writeIncoming: true)
        }
        // The new batch is the one to go: keep the older ones unless they alone are over the bound.
        let alone = leastValuable(existing, until: maxFolderBytes)
        return Outcome(evict: alone.map { existing[$0] }, writeIncoming: false)
    }

    /// Indices of the least valuable items whose removal brings the total to `limit` or under.
    private static func leastValuable(_ items: [Candidate], until limit: Int) -> [Int] {
        var total = items.reduce(0) { $0 + $1.bytes }
        guard total > limit else { return [] }
        let order = items.indices.sorted { a, b in
            let x = items[a]
            let y = items[b]
            if x.important != y.important { return !x.important }
            if x.createdMs != y.createdMs { return x.createdMs < y.createdMs }
            return a < b
        }
        var chosen: [Int] = []
        for i in order where total > limit {
            total -= items[i].bytes
            chosen.append(i)
        }
        return chosen
    }
}
