import Synchronization

/// A counting semaphore for tasks: ``acquire()`` suspends (first come, first served) until a
/// permit is free, and gives up with `CancellationError` when its task is cancelled, so a
/// waiter never outlives a shutdown.
final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var nextID: UInt64 = 0
        /// Acquires not yet decided (neither granted nor cancelled).
        var undecided: Set<UInt64> = []
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state: Mutex<State>

    init(permits: Int) {
        precondition(permits > 0, "a semaphore needs at least one permit")
        state = Mutex(State(permits: permits))
    }

    /// Takes a permit, waiting for one if none is free.
    /// - Throws: `CancellationError` if the task is cancelled first (no permit is then held).
    func acquire() async throws {
        // The uncontended case (every image, when no store is limited) suspends nothing.
        let id: UInt64? = state.withLock { state in
            if state.permits > 0, state.waiters.isEmpty {
                state.permits -= 1
                return nil
            }
            state.nextID += 1
            state.undecided.insert(state.nextID)
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let granted: Bool? = state.withLock { state in
                    guard state.undecided.contains(id) else { return false }  // cancelled before it queued
                    if state.permits > 0, state.waiters.isEmpty {
                        state.permits -= 1
                        state.undecided.remove(id)
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                switch granted {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard state.undecided.remove(id) != nil else { return nil }  // already granted
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit, handing it to the longest waiter if there is one.
    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiters.isEmpty else {
                state.permits += 1
                return nil
            }
            let next = state.waiters.removeFirst()
            state.undecided.remove(next.id)
            return next.continuation
        }
        waiter?.resume()
    }
}
