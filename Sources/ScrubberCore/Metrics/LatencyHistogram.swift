import Foundation

/// Durations in fixed logarithmic buckets (10 a decade, 1 µs to 10,000 s): constant memory
/// whatever the count, mergeable across nodes, quantiles good to the bucket (±12 %).
public struct LatencyHistogram: Sendable, Hashable, Codable {
    /// Buckets per factor of 10.
    static let perDecade = 10.0
    /// The first bucket's upper bound: 1 µs.
    static let floor = 1e-6
    static let bucketCount = 100

    /// Count per bucket; bucket `i` holds durations up to `floor × 10^((i + 1) / perDecade)`.
    public private(set) var counts: [Int]
    public private(set) var total = 0
    public private(set) var maximum = 0.0

    public init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    static func bucket(_ seconds: Double) -> Int {
        guard seconds > floor else { return 0 }
        var i = Int((log10(seconds / floor) * perDecade).rounded(.up)) - 1
        // A value on a bucket bound may round below it: it belongs where its bound is not less than it.
        if i >= 0, i < bucketCount - 1, upperBound(i) < seconds { i += 1 }
        return min(max(i, 0), bucketCount - 1)
    }

    static func upperBound(_ bucket: Int) -> Double {
        floor * pow(10, Double(bucket + 1) / perDecade)
    }

    public mutating func record(_ seconds: Double) {
        counts[Self.bucket(seconds)] += 1
        total += 1
        maximum = max(maximum, seconds)
    }

    public mutating func merge(_ other: LatencyHistogram) {
        guard other.counts.count == counts.count else { return }
        for i in counts.indices { counts[i] += other.counts[i] }
        total += other.total
        maximum = max(maximum, other.maximum)
    }

    /// The upper bound of the bucket holding the `q` quantile (0 < q ≤ 1), capped by the largest
    /// duration seen; nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return min(Self.upperBound(i), maximum) }
        }
        return maximum
    }
}
