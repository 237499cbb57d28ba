/// Deterministic randomness and a discrete-event queue for the simulation tests: the same seed
/// gives the same run on every platform, so a failing seed reproduces exactly.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, well mixed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits (no platform-dependent library code involved).
    mutating func unit() -> Double { Double(next() >> 11) / 9_007_199_254_740_992.0 }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A min-heap of events by (time, insertion order): ties run in the order they were scheduled,
/// so a run is a pure function of its seed.
struct EventQueue<Payload> {
    private var heap: [(time: Double, seq: Int, payload: Payload)] = []
    private var seq = 0

    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Double? { heap.first?.time }

    mutating func push(_ time: Double, _ payload: Payload) {
        heap.append((time, seq, payload))
        seq += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (time: Double, payload: Payload)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count, Self.less(heap[l], heap[m]) { m = l }
            if r < heap.count, Self.less(heap[r], heap[m]) { m = r }
            guard m != i else { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.payload)
    }

    private static func less(_ a: (time: Double, seq: Int, payload: Payload), _ b: (time: Double, seq: Int, payload: Payload)) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }
}
