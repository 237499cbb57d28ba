/// How long a failed image waits before its next try, by the class of its failure
/// (``FailureClass``):
/// - `transient`: `base · 2^(attempts − 1)`, capped at `max`;
/// - `throttled`: the same, but never under ``throttledMin``, even past `max` (the store asked
///   us to slow down);
/// - `in_use`: ``inUseBase`` doubling to ``inUseMax`` (hours: a clone can pin data for weeks);
/// - `misconfigured`, `unsupported`: ``wakeupTime`` (a person must act; time alone fixes nothing).
public struct Backoff: Sendable, Hashable, Codable {
    public var base: Double
    public var max: Double
    /// `wakeup_time`: the retry period of failures that need an operator.
    public var wakeupTime: Double
    public var throttledMin: Double
    public var inUseBase: Double
    public var inUseMax: Double

    public init(
        base: Double = 2,
        max: Double = 600,
        wakeupTime: Double = 300,
        throttledMin: Double = 10,
        inUseBase: Double = 300,
        inUseMax: Double = 21_600
    ) {
        self.base = base
        self.max = max
        self.wakeupTime = wakeupTime
        self.throttledMin = throttledMin
        self.inUseBase = inUseBase
        self.inUseMax = inUseMax
    }

    enum CodingKeys: String, CodingKey { case base, max, wakeupTime, throttledMin, inUseBase, inUseMax }

    /// A node of an earlier version sends `base` and `max` only: the other periods are the defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Backoff()
        self.init(
            base: try c.decode(Double.self, forKey: .base),
            max: try c.decode(Double.self, forKey: .max),
            wakeupTime: try c.decodeIfPresent(Double.self, forKey: .wakeupTime) ?? d.wakeupTime,
            throttledMin: try c.decodeIfPresent(Double.self, forKey: .throttledMin) ?? d.throttledMin,
            inUseBase: try c.decodeIfPresent(Double.self, forKey: .inUseBase) ?? d.inUseBase,
            inUseMax: try c.decodeIfPresent(Double.self, forKey: .inUseMax) ?? d.inUseMax
        )
    }

    /// Seconds to wait before the next try after the `attempts`-th failure (1-based) of a transient kind.
    public func delay(afterAttempts attempts: Int) -> Double {
        Self.doubling(from: base, to: max, attempts: attempts)
    }

    /// Seconds to wait before the next try after the `attempts`-th failure (1-based), of `failure`'s class.
    public func delay(afterAttempts attempts: Int, class failure: FailureClass) -> Double {
        guard attempts > 0 else { return 0 }
        switch failure {
        case .transient: return delay(afterAttempts: attempts)
        case .throttled: return Swift.max(delay(afterAttempts: attempts), throttledMin)
        case .inUse: return Self.doubling(from: inUseBase, to: inUseMax, attempts: attempts)
        case .misconfigured, .unsupported: return wakeupTime
        }
    }

    private static func doubling(from base: Double, to max: Double, attempts: Int) -> Double {
        guard attempts > 0 else { return 0 }
        let exponent = Swift.min(attempts - 1, 62)
        return Swift.min(base * Double(1 << exponent), max)
    }
}
