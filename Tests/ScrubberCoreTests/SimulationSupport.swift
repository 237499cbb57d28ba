import TestSupport

/// A min-heap of events by (time, insertion order): ties run in the order they were scheduled,
/// so a run is a pure function of its seed (drawn from TestSupport's `SplitMix64`).
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
            let l = 2 * i + 1
            let r = l + 1
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
