/// SplitMix64 (Steele, Lea and Flood): a small seeded generator, so fixtures, corpora and the seeded IDs are the
/// same on every run and platform. Not for apps: its output is predictable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next value, with 0 (never valid as an ID) read as 1.
    public mutating func nonZero() -> UInt64 {
        let v = next()
        return v == 0 ? 1 : v
    }
}
