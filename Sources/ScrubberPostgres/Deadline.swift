import ScrubberCore
import Synchronization

/// Runs `operation` in a task of its own and gives up on it after `timeout`: a query on a
/// connection whose server vanished may never return, and the caller must get on (the
/// abandoned operation may still finish; every operation is safe to repeat).
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ message: @autoclosure () -> String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let message = message()
    let outcome = Outcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.start(continuation)
            let work = Task {
                do { outcome.finish(.success(try await operation())) } catch { outcome.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled, outcome.finish(.failure(CatalogError.unavailable(message))) { work.cancel() }
            }
            outcome.onFinish { timer.cancel() }
        }
    } onCancel: {
        outcome.finish(.failure(CancellationError()))
    }
}

/// One continuation resumed once, by whichever of the work, the timer or a cancellation comes first.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var done = false
        var onFinish: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onFinish(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.done { return true }
            state.onFinish = body
            return false
        }
        if now { body() }
    }

    /// - Returns: whether this call decided the outcome.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        typealias Hand = (continuation: CheckedContinuation<T, any Error>?, hook: (@Sendable () -> Void)?)
        let hand: Hand? = state.withLock { state in
            guard !state.done else { return nil }
            state.done = true
            if state.continuation == nil { state.early = result }
            let hand = (state.continuation, state.onFinish)
            state.continuation = nil
            state.onFinish = nil
            return hand
        }
        guard let hand else { return false }
        hand.continuation?.resume(with: result)
        hand.hook?()
        return true
    }
}
