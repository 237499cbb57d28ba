import ScrubberCore
import Synchronization

/// Where images wait for a limited store, each in a task of its own, so that no
/// `scrub_pool_size` slot is held while they wait and images for other stores go ahead.
///
/// A waiting image has not been started: on ``stop()`` its wait is cancelled and its image
/// handed back. Once ``start(_:)`` said yes, it is in flight and finishes like any other.
final class WaitingRoom: Sendable {
    struct Ticket: Sendable {
        fileprivate let id: Int
    }

    private struct State {
        var stopping = false
        var nextID = 0
        /// Tasks still waiting: the ones ``stop()`` cancels.
        var waiting: [Int: Task<Void, Never>] = [:]
        var all: [Int: Task<Void, Never>] = [:]
        var handedBack: [ClaimedImage] = []
    }

    private let state = Mutex(State())

    /// Runs `body` in a task of its own.
    /// - Returns: false (and runs nothing) once ``stop()`` was called.
    func enter(_ body: @escaping @Sendable (Ticket) async -> Void) -> Bool {
        state.withLock { state in
            guard !state.stopping else { return false }
            state.nextID += 1
            let ticket = Ticket(id: state.nextID)
            let task = Task { await body(ticket) }
            state.waiting[ticket.id] = task
            state.all[ticket.id] = task
            return true
        }
    }

    /// Called by a body when its wait is over and it is about to delete: false when the room is
    /// stopping (the body must then give back what it took and hand its image back).
    func start(_ ticket: Ticket) -> Bool {
        state.withLock { state in
            guard !state.stopping else { return false }
            state.waiting[ticket.id] = nil
            return true
        }
    }

    /// Called by a body as its last step.
    func leave(_ ticket: Ticket) {
        state.withLock { state in
            state.waiting[ticket.id] = nil
            state.all[ticket.id] = nil
        }
    }

    /// Records `image` as never started, to be handed back to the cluster.
    func handBack(_ image: ClaimedImage) {
        state.withLock { $0.handedBack.append(image) }
    }

    /// The images handed back so far.
    var handedBack: [ClaimedImage] { state.withLock { $0.handedBack } }

    /// Cancels every wait; bodies already started go on.
    func stop() {
        let waiting = state.withLock { state in
            state.stopping = true
            return Array(state.waiting.values)
        }
        for task in waiting { task.cancel() }
    }

    /// Returns when every body has returned.
    func waitForAll() async {
        while let task = state.withLock({ $0.all.values.first }) {
            await task.value
            // A body that returned removed itself; one still racing to do so is removed here.
            state.withLock { state in
                if let id = state.all.first(where: { $0.value == task })?.key { state.all[id] = nil }
            }
        }
    }
}
