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
