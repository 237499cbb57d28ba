import Logging
import ScrubberCore
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import ScrubberNode

/// The log lines a logger wrote, as "LEVEL MESSAGE".
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "t") { _ in Handler(lines: self) }
    }

    private struct Handler: LogHandler {
        let lines: LogLines
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.lines.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }
}

/// The node's one loop: a graceful shutdown or cancellation ends it quietly, an error no retry
/// can fix ends it with that error, any other is logged and retried after its pause on the
/// node's clock.
@Suite struct RetryingLoopTests {
    struct Flaky: Error, CustomStringConvertible {
        var description: String { "flaky" }
    }

    /// The rounds a loop ran, each with the failures in a row it was told of.
    final class Rounds: Sendable {
        let seen = Mutex<[Int]>([])
        /// What the next rounds throw, in order (then they succeed).
        let script = Mutex<[(any Error)?]>([])

        func round(_ failures: Int) throws {
            seen.withLock { $0.append(failures) }
            if let error = script.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw error }
        }

        var count: Int { seen.withLock { $0.count } }
    }

    @Test func aFailedRoundIsLoggedAndRetriedAfterItsPauseOnTheNodesClock() async throws {
        let time = ManualClock()
        let log = LogLines()
        let rounds = Rounds()
        rounds.script.withLock { $0 = [Flaky(), Flaky(), nil, Flaky()] }
        let loop = RetryingLoop("test round", clock: NodeClock(time), logger: log.logger, retryDelay: { .seconds($0) })
        let running = Task { try await loop.run { failures in try rounds.round(failures) } }

        try await eventually("the first failure's pause") { time.deadlines == [.init(offset: .seconds(1))] }
        #expect(rounds.count == 1)
        time.advance(by: .seconds(1))
        try await eventually("the second failure's pause, longer") { time.deadlines == [.init(offset: .seconds(3))] }
        time.advance(by: .seconds(2))
        // A success, then a failure: the count starts again.
        try await eventually("the fourth round's pause") { time.deadlines == [.init(offset: .seconds(4))] }
        #expect(rounds.seen.withLock { $0 } == [0, 1, 2, 0])
        #expect(log.all == ["warning test round failed: flaky", "warning test round failed: flaky", "warning test round failed: flaky"])

        running.cancel()
        try await running.value
    }

    @Test func anErrorNoRetryCanFixEndsTheLoopWithIt() async throws {
        let rounds = Rounds()
        rounds.script.withLock { $0 = [Flaky(), CatalogError.unauthorized("401")] }
        let log = LogLines()
        let loop = RetryingLoop("test round", clock: NodeClock(ManualClock()), logger: log.logger)
        await #expect(throws: CatalogError.unauthorized("401")) { try await loop.run { failures in try rounds.round(failures) } }
        #expect(rounds.count == 2)
        #expect(log.all == ["warning test round failed: flaky"])
    }

    @Test func aCustomReportSeesEveryFailureInARow() async throws {
        let reported = Mutex<[Int]>([])
        let rounds = Rounds()
        rounds.script.withLock { $0 = [Flaky(), Flaky(), Flaky()] }
        let loop = RetryingLoop(
            "join",
            clock: NodeClock(ManualClock()),
            logger: LogLines().logger,
            onFailure: { _, failures in
                reported.withLock { $0.append(failures) }
            }
        )
        let value = try await loop.untilSuccess { failures in
            try rounds.round(failures)
            return "joined after \(failures)"
        }
        #expect(value == "joined after 3")
        #expect(reported.withLock { $0 } == [1, 2, 3])
    }

    @Test func cancellationEndsTheLoopQuietly() async throws {
        let time = ManualClock()
        let log = LogLines()
        let loop = RetryingLoop("test round", clock: NodeClock(time), logger: log.logger)
        let waiting = Task {
            try await loop.untilSuccess { _ -> Int in
                try await NodeClock(time).sleep(for: .seconds(60))
                return 1
            }
        }
        try await eventually("the round asleep") { !time.deadlines.isEmpty }
        waiting.cancel()
        #expect(try await waiting.value == nil)
        #expect(log.all.isEmpty)
    }

    /// A service running the loop, as the node's services do.
    struct Looping: Service {
        let loop: RetryingLoop
        let time: ManualClock
        let ended: HandoffTests.Flag

        func run() async throws {
            try await loop.run { _ in try await NodeClock(time).sleep(for: .seconds(60)) }
            ended.set()
        }
    }

    @Test func aGracefulShutdownEndsTheLoopAndTheServiceGoesOn() async throws {
        let time = ManualClock()
        let ended = HandoffTests.Flag()
        let loop = RetryingLoop("test round", clock: NodeClock(time), logger: LogLines().logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [Looping(loop: loop, time: time, ended: ended)],
                logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
            )
        )
        let running = Task { try await group.run() }
        try await eventually("the round asleep") { !time.deadlines.isEmpty }
        await group.triggerGracefulShutdown()
        try await running.value
        let ranOn = ended.value.load(ordering: .sequentiallyConsistent)
        #expect(ranOn, "the service ran on after its loop")
    }

    @Test func anAttemptGivesBackWhatARetryMayFixAndThrowsTheRest() async throws {
        let flaky = try await RetryingLoop.attempt { () throws -> Int in throw Flaky() }
        guard case .failure(let error) = flaky else {
            Issue.record("a flaky error came back as \(flaky)")
            return
        }
        #expect(error is Flaky)
        #expect(try await RetryingLoop.attempt { 7 }.get() == 7)
        await #expect(throws: CatalogError.nodeIDInUse("twin")) {
            try await RetryingLoop.attempt { () throws -> Int in throw CatalogError.nodeIDInUse("twin") }
        }
        await #expect(throws: CancellationError.self) { try await RetryingLoop.attempt { () throws -> Int in throw CancellationError() } }
        // A store that is only down is retried.
        let down = try await RetryingLoop.attempt { () throws -> Int in throw CatalogError.unavailable("down") }
        #expect(throws: CatalogError.unavailable("down")) { try down.get() }
    }
}
