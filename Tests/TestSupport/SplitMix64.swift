/// The tests' one seeded generator: the same seed gives the same sequence on every platform,
/// so a failing seed reproduces exactly.
///
/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, well mixed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits (no platform-dependent library code involved).
    public mutating func unit() -> Double { Double(next() >> 11) / 9_007_199_254_740_992.0 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Uniform in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
