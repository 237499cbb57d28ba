import Foundation
import Logging
import ScrubberCore
import ScrubberStores
import TestSupport
import Testing

@testable import ScrubberNode

/// DESIGN §4, "Finding work", on a running daemon whose node clock and store clock the test
/// moves together: an idle leader reads only what changed, finds an image Glance marks
/// `pending_delete` at its next round, and sweeps the whole table once per `wakeup_time`,
/// which is what finds a row written with an old `updated_at`.
@Suite struct LeaderSweepNodeTests {
    /// Both clocks, moved as one.
    struct Clocks {
        let node = ManualClock()
        let store = StoreClock()

        /// Moves to the next sleeper's deadline, at most `limit` ahead.
        func step(limit: Duration = .milliseconds(50)) {
            store.advance(by: node.advanceToNextDeadline(limit: limit).seconds)
        }

        var stamp: String { GlanceTimestamp.string(from: Date(timeIntervalSince1970: store.now)) }
    }

    /// What glance-api writes when it deletes an image with `delayed_delete`: the image and its
    /// locations `pending_delete`, `deleted_at` and `updated_at` set to `at`.
    static func markPendingDelete(_ box: Sandbox, _ image: String, at stamp: String, updatedAt: String? = nil) throws {
        try box.queue().write { db in
            try db.execute(
                sql: "UPDATE images SET status = 'pending_delete', deleted = 1, deleted_at = ?, updated_at = ? WHERE id = ?",
                arguments: [stamp, updatedAt ?? stamp, image]
            )
            try db.execute(
                sql: """
                    UPDATE image_locations SET status = 'pending_delete', deleted = 1, deleted_at = ?, updated_at = ? WHERE image_id = ?
                    """,
                arguments: [stamp, updatedAt ?? stamp, image]
            )
        }
    }

    @Test func anIdleLeaderReadsOnlyWhatChangedAndSweepsInFullOncePerWakeupTime() async throws {
        let clocks = Clocks()
        let box = try await Sandbox(clock: clocks.store)
        _ = try await box.seed(40) {
            $0.status = .deleted
            $0.namePrefix = "history"
        }
        let active = try await box.seed(2) {
            $0.status = .active
            $0.namePrefix = "live"
        }
        let catalog = ObservedCatalog(box.catalog) { clocks.node.now.offset }
        var config = box.configuration()
        config.cluster.nodeID = "sweeper"
        config.wakeupTime = 60
        config.cluster.sweepSlack = 5
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil)
        let node = ScrubNode(
            catalog: catalog,
            router: router,
            options: NodeOptions(configuration: config, once: false, version: "t"),
            clock: NodeClock(clocks.node),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        let running = Task { try await node.run() }
        defer { running.cancel() }

        func fullScans() -> [Duration] {
            catalog.scans().filter { if case .full(nil) = $0.scan { true } else { false } }.map(\.at)
        }
        try await eventually("the first full sweep", poll: .milliseconds(2)) {
            clocks.step()
            return fullScans().count == 1 && catalog.scans().contains { $0.scan.isRecent }
        }
        let firstSweep = fullScans()[0]

        // Glance deletes an image: a round of the fast path lists it, with no full sweep. (How
        // fast is a benchmark's figure: `scrubber bench --idle`, BENCHMARKS.md.)
        try Self.markPendingDelete(box, active[0].id, at: clocks.stamp)
        func assigned(_ image: String) throws -> Bool {
            try box.status(of: image) == "deleted" || box.count("SELECT count(*) FROM scrub_assignments WHERE image_id = ?", [image]) > 0
        }
        try await eventually("the new image assigned", poll: .milliseconds(2)) {
            clocks.step(limit: .milliseconds(10))
            return try assigned(active[0].id)
        }
        #expect(fullScans().count == 1, "found by the fast path, not by a full sweep")
        try await eventually("the new image scrubbed", poll: .milliseconds(2)) {
            clocks.step(limit: .milliseconds(10))
            return try box.status(of: active[0].id) == "deleted"
        }

        // A row written with an old updated_at is the full sweep's: nothing finds it before
        // wakeup_time has passed since the last one started; the full sweep then does.
        let old = GlanceTimestamp.string(from: Date(timeIntervalSince1970: clocks.store.now - 3600))
        try Self.markPendingDelete(box, active[1].id, at: clocks.stamp, updatedAt: old)
        try await eventually("the old row assigned", poll: .milliseconds(2)) {
            clocks.step(limit: .milliseconds(250))
            return try assigned(active[1].id)
        }
        let sweeps = fullScans()
        #expect(sweeps.count == 2, "one full sweep per wakeup_time: \(sweeps)")
        if sweeps.count == 2 { #expect(sweeps[1] - firstSweep >= .seconds(60)) }
        #expect(clocks.node.now.offset - firstSweep >= .seconds(60), "not found before the next full sweep")
        // In between, every listing was a recent scan.
        let between = catalog.scans().filter { $0.at > firstSweep && $0.at < (sweeps.last ?? .zero) }
        #expect(!between.isEmpty && between.allSatisfy { $0.scan.isRecent })
        try await eventually("the old row scrubbed", poll: .milliseconds(2)) {
            clocks.step(limit: .milliseconds(10))
            return try box.status(of: active[1].id) == "deleted"
        }
        // The kept state: the mark is recent, the full sweep finished.
        let view = try await box.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil))
        #expect(view.sweep.fullCompletedAt != nil && view.sweep.fullPosition == nil)
        let mark = try #require(view.sweep.mark.flatMap(GlanceTimestamp.date(from:)))
        #expect(clocks.store.now - mark.timeIntervalSince1970 < 45, "the mark is kept once it moved 30 s")
    }
}
