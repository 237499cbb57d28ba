import Synchronization

/// Tasks waiting until another task changes what they watch: a condition variable for actors
/// and locks, the node's hand-offs' way to wake (never a poll).
///
/// ``wait(isolation:until:)`` takes a ticket before it checks the condition, so a
/// ``wakeAll()`` between the check and the suspension is not lost: the ticket is woken and the
/// wait returns at once. Every waiter returns exactly once: when woken, or when its task is
/// cancelled, whichever comes first; a cancelled waiter is never left parked.
final class AsyncCondition: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        /// Tickets taken and neither woken nor cancelled since.
        var pending: Set<UInt64> = []
        /// The suspended waiters among them.
        var parked: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    init() {}

    /// Returns once `condition` holds (checked now, and again after every wake-up), or as soon as
    /// the task is cancelled (the caller checks which). `condition` runs on the caller's actor.
    func wait(isolation: isolated (any Actor)? = #isolation, until condition: () -> Bool) async {
        while !Task.isCancelled {
            let ticket = take()
            if condition() {
                discard(ticket)
                return
            }
            await park(ticket)
        }
    }

    /// Wakes every waiter, so each checks its condition again.
    func wakeAll() {
        let parked = state.withLock { state in
            state.pending.removeAll()
            defer { state.parked.removeAll() }
            return Array(state.parked.values)
        }
        for continuation in parked { continuation.resume() }
    }

    /// How many waiters are suspended now (for tests: a waiter to wake is asleep).
    var parkedCount: Int { state.withLock { $0.parked.count } }

    private func take() -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.pending.insert(state.nextID)
            return state.nextID
        }
    }

    private func discard(_ ticket: UInt64) {
        _ = state.withLock { $0.pending.remove(ticket) }
    }

    /// Suspends until `ticket` is woken (at once if it already was) or the task is cancelled.
    private func park(_ ticket: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { state in
                    guard state.pending.contains(ticket) else { return false }  // woken or cancelled already
                    state.parked[ticket] = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            // Whoever takes the ticket out of `pending` resumes it: this handler or wakeAll, never both.
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard state.pending.remove(ticket) != nil else { return nil }
                return state.parked.removeValue(forKey: ticket)
            }
            continuation?.resume()
        }
    }
}
