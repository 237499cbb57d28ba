/// Exponential backoff for images whose scrub failed: `base · 2^(attempts − 1)`, capped at `max`.
public struct Backoff: Sendable, Hashable, Codable {
    public var base: Double
    public var max: Double

    public init(base: Double = 2, max: Double = 600) {
        self.base = base
        self.max = max
    }

    /// Seconds to wait before the next try after the `attempts`-th failure (1-based).
    public func delay(afterAttempts attempts: Int) -> Double {
        guard attempts > 0 else { return 0 }
        let exponent = Swift.min(attempts - 1, 62)
        return Swift.min(base * Double(1 << exponent), max)
    }
}
