import ScrubberCore
import Synchronization

/// One backend's limits on this node: `max_concurrent_deletes` (a semaphore) and
/// `max_deletes_per_second` (evenly spaced starts: each delete reserves the next start time,
/// `1 / rate` after the previous one, so there is no burst; an idle store does not save up).
///
/// A caller takes the concurrency slot first and only then reserves its start, so no more than
/// `max_concurrent_deletes` reservations are ever outstanding: a shutdown that abandons waiters
/// wastes none of the store's time.
///
/// Reservations order the waiters, but tasks wake late on a loaded machine and then wait for a
/// slot of the pool, so reserved times alone let starts bunch (17 in one second at 10/s, seen
/// under the whole test suite). ``pace()``, right before the deletes, enforces the spacing
/// between the starts that actually happen.
final class StoreGate: Sendable {
    let store: String
    private let slots: AsyncSemaphore?
    private let interval: Duration?
    /// The earliest start of the next delete: reserved, and as actually started.
    private let nextStart: Mutex<(reserved: ContinuousClock.Instant, actual: ContinuousClock.Instant)>

    init?(_ backend: BackendConfiguration) {
        guard backend.maxConcurrentDeletes != nil || backend.maxDeletesPerSecond != nil else { return nil }
        store = backend.name
        slots = backend.maxConcurrentDeletes.map { AsyncSemaphore(permits: $0) }
        interval = backend.maxDeletesPerSecond.map { .seconds(1 / $0) }
        nextStart = Mutex((.now, .now))
    }

    /// Waits until `deletes` deletes (one image's locations on this store, done one after the
    /// other) may start.
    /// - Throws: `CancellationError` when the task is cancelled first; nothing is then held.
    func enter(deletes: Int) async throws {
        try await slots?.acquire()
        guard let interval else { return }
        let start = nextStart.withLock { next in
            let start = max(next.reserved, .now)
            next.reserved = start + interval * deletes
            return start
        }
        do {
            if start > .now { try await Task.sleep(until: start) }
        } catch {
            slots?.release()
            throw error
        }
    }

    /// Waits, after ``enter(deletes:)``, until `1 / rate` has passed since the last delete that
    /// actually started (times its deletes), and counts these `deletes` as started now.
    /// - Throws: `CancellationError` when cancelled first; nothing is then counted.
    func pace(deletes: Int) async throws {
        guard let interval else { return }
        while true {
            let wait: ContinuousClock.Instant? = nextStart.withLock { next in
                let now = ContinuousClock.now
                guard now >= next.actual else { return next.actual }
                next.actual = now + interval * deletes
                return nil
            }
            guard let wait else { return }
            try await Task.sleep(until: wait)
        }
    }

    /// Gives back what ``enter(deletes:)`` took.
    func leave() {
        slots?.release()
    }
}

/// The limited stores of a node, and which of them an image needs.
struct StoreLimits: Sendable {
    private let gates: [String: StoreGate]

    init(_ stores: StoresConfiguration) {
        gates = Dictionary(uniqueKeysWithValues: stores.backends.compactMap { StoreGate($0) }.map { ($0.store, $0) })
    }

    var isEmpty: Bool { gates.isEmpty }

    /// The limited stores `stores` (each location's store name) go to, with how many deletes
    /// each, in name order (the order they are entered in, so two images never wait on each other).
    func needs(_ stores: some Sequence<String>) -> [(gate: StoreGate, deletes: Int)] {
        guard !gates.isEmpty else { return [] }
        var counts: [String: Int] = [:]
        for name in stores where gates[name] != nil { counts[name, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { (gates[$0.key]!, $0.value) }
    }

    /// Enters every gate of `needs`, in order.
    /// - Throws: `CancellationError` when cancelled first; the gates entered so far are left.
    static func enter(_ needs: [(gate: StoreGate, deletes: Int)]) async throws {
        for (index, need) in needs.enumerated() {
            do {
                try await need.gate.enter(deletes: need.deletes)
            } catch {
                for entered in needs[..<index] { entered.gate.leave() }
                throw error
            }
        }
    }

    /// Paces every gate of `needs` (``StoreGate/pace(deletes:)``), in order.
    static func pace(_ needs: [(gate: StoreGate, deletes: Int)]) async throws {
        for need in needs { try await need.gate.pace(deletes: need.deletes) }
    }

    static func leave(_ needs: [(gate: StoreGate, deletes: Int)]) {
        for need in needs { need.gate.leave() }
    }
}
