/// The hosts whose requests carry `traceparent` and `baggage`. An entry is an exact host or a `.suffix`; matching
/// is on the lowercased host without port, so `API.example.com:8443` matches `api.example.com`.
struct HostAllowList: Sendable {
    private let exact: Set<String>
    private let suffixes: [String]

    init(_ entries: [String]) {
        exact = Set(entries.filter { !$0.hasPrefix(".") })
        suffixes = entries.filter { $0.hasPrefix(".") }
    }

    func allows(host: String?) -> Bool {
        guard let host, !host.isEmpty else { return false }
        let h = host.lowercased()
        if exact.contains(h) { return true }
        return suffixes.contains { h.hasSuffix($0) && h.utf8.count > $0.utf8.count }
    }

    /// Lowercase letters, digits, '-' and '.' labels (an optional leading '.' for a suffix); no scheme, port or path.
    static func isWellFormed(_ entry: String) -> Bool {
        let body = entry.hasPrefix(".") ? entry.dropFirst() : Substring(entry)
        guard !body.isEmpty, body.utf8.count <= 253 else { return false }
        return body.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { c in
                    (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D
                }
        }
    }
}
