import Foundation

/// Runs an async operation to its end on the calling thread: the thread blocks, running the
/// operation's jobs as they are enqueued, until it returns.
///
/// For GRDB, which lends a connection only inside a synchronous closure on its own serial
/// queue (and checks every use is there): the catalog's operations are async (they are shared
/// with PostgreSQL), but against SQLite none of their awaits suspends, so each runs as a few
/// jobs on the connection's own thread. An operation that did await something running
/// elsewhere would still finish: its continuation is enqueued here, and the thread waits for it.
final class InlineTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs on this thread until ``finish()``.
    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty, !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Runs `operation` on the calling thread and returns its result (or throws its error).
    static func run<T>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let executor = InlineTaskExecutor()
        let outcome = OutcomeBox<T>()
        Task(executorPreference: executor) {
            do { outcome.result = .success(try await operation()) } catch { outcome.result = .failure(error) }
            executor.finish()
        }
        executor.runJobs()
        guard let result = outcome.result else { preconditionFailure("an inline operation ended without a result") }
        return try result.get()
    }
}

/// The operation's result, written by its task before ``InlineTaskExecutor/finish()`` and read
/// after the jobs ran out (the executor's lock orders the two).
private final class OutcomeBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
