/// Answers of recent writes by request id, so a client's retry (its first answer was lost, or
/// it timed out while the first try still ran) gets the first answer instead of a second
/// application. A retry that arrives while the first try runs waits for it; the first try runs
/// to its end even if its own client went away. Only successes are kept, for `window` (longer
/// than any client's deadline), at most `maxEntries` of them and at most `maxBytes` of keys
/// and answers together, oldest out first: a failed try is run again by its retry.
actor ReplayCache {
    private struct Kept {
        var answer: CatalogService.Answer
        var at: ContinuousClock.Instant
    }

    private var running: [String: Task<CatalogService.Answer, Never>] = [:]
    private var done: [String: Kept] = [:]
    private var order: [(key: String, at: ContinuousClock.Instant, bytes: Int)] = []
    private var head = 0
    private var bytes = 0
    private let window: Duration
    private let maxBytes: Int
    private let maxEntries: Int

    init(window: Duration, maxBytes: Int = 64 << 20, maxEntries: Int = 100_000) {
        self.window = window
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
    }

    /// What the cache holds now: entries and bytes (keys and answers).
    var size: (entries: Int, bytes: Int) { (done.count, bytes) }

    func answer(key: String, _ perform: @escaping @Sendable () async -> CatalogService.Answer) async -> CatalogService.Answer {
        expire()
        if let kept = done[key] { return kept.answer }
        if let first = running[key] { return await first.value }
        let task = Task { await perform() }
        running[key] = task
        let answer = await task.value
        running[key] = nil
        if (200..<300).contains(answer.status.code) {
            let now = ContinuousClock.now
            // A key kept again (a retry after its first answer expired) replaces the older entry.
            done[key] = Kept(answer: answer, at: now)
            let cost = answer.body.count + key.utf8.count + Self.entryOverhead
            order.append((key, now, cost))
            bytes += cost
            expire()
        }
        return answer
    }

    /// What one entry costs beyond its key and answer: the dictionary's and the queue's slots.
    static let entryOverhead = 128

    private func expire() {
        let now = ContinuousClock.now
        while head < order.count, bytes > maxBytes || order.count - head > maxEntries || now - order[head].at > window {
            let oldest = order[head]
            if done[oldest.key]?.at == oldest.at { done[oldest.key] = nil }
            bytes -= oldest.bytes
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
