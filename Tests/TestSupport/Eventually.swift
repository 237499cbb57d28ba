/// How long a test waits for an event before calling it a hang: long enough for the slowest
/// machine the suite runs on with its other core busy. It guards against hangs; it is not a
/// performance bound (those live in the benchmarks).
public let patience: Duration = .seconds(patienceSeconds)
public let patienceSeconds: Double = 180

/// Waits for `condition` to hold, looking every `poll`; throws ``TestServerError`` naming
/// `what` when it has not held within `within` (a hang, never a timing assertion).
public func eventually(
    _ what: @autoclosure () -> String,
    within: Duration = patience,
    poll: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + within
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestServerError("gave up after \(within) waiting for: \(what())") }
        try await Task.sleep(for: poll)
    }
}
