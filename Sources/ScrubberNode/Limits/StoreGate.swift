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
/// under the whole test suite). ``StoreLimits/tryStart(_:)``, with a pool slot in hand right
/// before the deletes, enforces the spacing between the starts that actually happen.
final class StoreGate: Sendable {
    let store: String
    private let slots: AsyncSemaphore?
    /// `1 / max_deletes_per_second`, if paced.
    let interval: Duration?
    /// The earliest start the next reservation gets.
    private let nextStart: Mutex<NodeClock.Instant>
    private let clock: NodeClock

    init?(_ backend: BackendConfiguration, clock: NodeClock) {
        guard backend.maxConcurrentDeletes != nil || backend.maxDeletesPerSecond != nil else { return nil }
        store = backend.name
        slots = backend.maxConcurrentDeletes.map { AsyncSemaphore(permits: $0) }
        interval = backend.maxDeletesPerSecond.map { .seconds(1 / $0) }
        self.clock = clock
        nextStart = Mutex(clock.now)
    }

    /// Waits until `deletes` deletes (one image's locations on this store, done one after the
    /// other) may start.
    /// - Throws: `CancellationError` when the task is cancelled first; nothing is then held.
    func enter(deletes: Int) async throws {
        try await slots?.acquire()
        guard let interval else { return }
        let start = nextStart.withLock { next in
            let start = max(next, clock.now)
            next = start + interval * deletes
            return start
        }
        do {
            if start > clock.now { try await clock.sleep(until: start) }
        } catch {
            slots?.release()
            throw error
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
    /// Per paced store, the earliest next start as deletes actually started.
    private let started = SharedMutex<[String: NodeClock.Instant]>([:])
    private let clock: NodeClock

    init(_ stores: StoresConfiguration, clock: NodeClock) {
        self.clock = clock
        gates = Dictionary(uniqueKeysWithValues: stores.backends.compactMap { StoreGate($0, clock: clock) }.map { ($0.store, $0) })
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

    /// Counts `needs`' deletes as starting now if every paced store among them allows a start
    /// (`1 / rate` since the last delete that actually started there, times its deletes).
    /// - Returns: nil when counted; else when to try again (nothing counted).
    func tryStart(_ needs: [(gate: StoreGate, deletes: Int)]) -> NodeClock.Instant? {
        // One lock for every store: an image on several paced stores starts on all or waits.
        started.withLock { started in
            let now = clock.now
            let blocked = needs.compactMap { need in started[need.gate.store].flatMap { $0 > now ? $0 : nil } }.max()
            if let blocked { return blocked }
            for need in needs {
                if let interval = need.gate.interval { started[need.gate.store] = now + interval * need.deletes }
            }
            return nil
        }
    }

    static func leave(_ needs: [(gate: StoreGate, deletes: Int)]) {
        for need in needs { need.gate.leave() }
    }
}

/// A `Mutex` a copyable value can hold.
final class SharedMutex<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}
