import Logging
import ScrubberCore
import ServiceLifecycle

/// How the node's loops run, and what they do when something fails, in one place: a graceful
/// shutdown or the task's cancellation ends a loop; an error no retry can fix
/// (``CatalogError/isFatal``: a 401 from the lease service, a node id in use) ends the node;
/// any other error is logged and the round tried again after a pause on the node's clock.
///
/// ``run(_:)`` and ``untilSuccess(_:)`` are the loops (heartbeats, the election, the leader's
/// rounds, a daemon's first join); ``attempt(isolation:_:)`` is one try under the same rule,
/// for a step that handles its own failure (a campaign, a claim, a completion batch).
struct RetryingLoop: Sendable {
    /// What failed, for the log: "NAME failed: ERROR".
    let name: String
    let clock: NodeClock
    let logger: Logger
    /// The pause after the `failures`-th failure in a row (from 1).
    let retryDelay: @Sendable (_ failures: Int) -> Duration
    /// Reports the `failures`-th failure in a row (from 1); nil: a warning, "NAME failed: ERROR".
    let onFailure: (@Sendable (_ error: any Error, _ failures: Int) -> Void)?

    init(
        _ name: String,
        clock: NodeClock,
        logger: Logger,
        retryDelay: @escaping @Sendable (_ failures: Int) -> Duration = { _ in .zero },
        onFailure: (@Sendable (_ error: any Error, _ failures: Int) -> Void)? = nil
    ) {
        self.name = name
        self.clock = clock
        self.logger = logger
        self.retryDelay = retryDelay
        self.onFailure = onFailure
    }

    /// Runs `round` again and again until a graceful shutdown or cancellation, then returns.
    /// - Parameters:
    ///   - state: what one round hands the next (the leader's sweep).
    ///   - round: one round, given how many failed in a row just before it (0 after one that succeeded).
    /// - Throws: the errors no retry can fix.
    func run<State: Sendable>(
        _ state: State,
        _ round: @escaping @Sendable (inout State, _ failures: Int) async throws -> Void
    ) async throws {
        _ = try await loop(state) { state, failures -> Void? in
            try await round(&state, failures)
            return nil
        }
    }

    /// ``run(_:_:)`` with no state.
    func run(_ round: @escaping @Sendable (_ failures: Int) async throws -> Void) async throws {
        try await run(()) { _, failures in try await round(failures) }
    }

    /// Tries `body` until it succeeds.
    /// - Returns: its value; nil when a graceful shutdown or cancellation came first.
    /// - Throws: the errors no retry can fix.
    func untilSuccess<T: Sendable>(_ body: @escaping @Sendable (_ failures: Int) async throws -> T) async throws -> T? {
        try await loop(()) { _, failures in try await body(failures) }
    }

    /// One try of `body` under the loops' rule.
    /// - Returns: its value, or the error a retry may fix (for the caller to log and handle).
    /// - Throws: cancellation, and the errors no retry can fix.
    static func attempt<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> Result<T, any Error> {
        do {
            return .success(try await body())
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            try CatalogError.rethrowIfFatal(error)
            return .failure(error)
        }
    }

    /// Rounds of `body` until one returns a value (nil: go on), in a child task that a graceful
    /// shutdown cancels.
    private func loop<State: Sendable, T: Sendable>(
        _ state: State,
        _ body: @escaping @Sendable (inout State, Int) async throws -> T?
    ) async throws -> T? {
        let name = name
        let clock = clock
        let logger = logger
        let retryDelay = retryDelay
        let onFailure = onFailure
        do {
            return try await cancelWhenGracefulShutdown {
                var state = state
                var failures = 0
                while true {
                    try Task.checkCancellation()
                    switch try await Self.attempt({ try await body(&state, failures) }) {
                    case .success(let value?):
                        return value
                    case .success(nil):
                        failures = 0
                    case .failure(let error):
                        failures += 1
                        if let onFailure {
                            onFailure(error, failures)
                        } else {
                            logger.warning("\(name) failed: \(error)")
                        }
                        let pause = retryDelay(failures)
                        if pause > .zero { try await clock.sleep(for: pause) }
                    }
                }
            }
        } catch is CancellationError {
            return nil
        }
    }
}
