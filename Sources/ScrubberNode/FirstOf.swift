/// Waits until the first of `events` returns, then cancels the others (each must return when
/// cancelled). Returns when the task is cancelled too: the caller checks.
func firstOf(_ events: (@Sendable () async -> Void)...) async {
    await withTaskGroup(of: Void.self) { group in
        for event in events { group.addTask { await event() } }
        _ = await group.next()
        group.cancelAll()
    }
}
