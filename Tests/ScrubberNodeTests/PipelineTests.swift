import Foundation
import GRDB
import ScrubberCore
import ScrubberSQLite
import ScrubberStores
import TestSupport
import Testing

/// The scrub pipeline on copies of Glance's own database.
@Suite struct PipelineTests {
    @Test func scrubsEveryEligibleShapeAndLeavesEverythingElseUntouched() async throws {
        let box = try await Sandbox()
        let plain = try await box.seed(20)
        let multi = try await box.seed(5) { $0.locationsPerImage = 3 }
        let community = try await box.seed(5) { $0.visibility = .community }
        let nullMeta = try await box.seed(5) { $0.nullMetaData = true }
        let missingFiles = try await box.seed(5) { $0.fileBytes = 0 }
        let noPendingLeft = try await box.seed(3)
        try await box.queue().write { db in
            for image in noPendingLeft {
                try db.execute(sql: "UPDATE image_locations SET status = 'deleted' WHERE image_id = ?", arguments: [image.id])
            }
        }
        let active = try await box.seed(10) { $0.status = .active }
        let waiting = try await box.seed(10) { $0.deletedAgo = 60 }
        let before = try box.queue().read { db in
            try Row.fetchAll(db, sql: "SELECT id, deleted_at FROM image_locations ORDER BY id")
        }

        let summary = try await box.runOnce(box.configuration(scrubTime: 600))

        let eligible = plain + multi + community + nullMeta + missingFiles + noPendingLeft
        #expect(summary.imagesDeleted == eligible.count)
        #expect(summary.failedImages.isEmpty)
        for image in eligible {
            #expect(try box.status(of: image.id) == "deleted")
            #expect(
                try box.count(
                    "SELECT count(*) FROM image_locations WHERE image_id = ? AND (status != 'deleted' OR deleted != 1)",
                    [image.id]
                ) == 0
            )
            // Only pending locations are ever deleted: the already-`deleted` ones keep their files.
            for path in image.paths { #expect(box.exists(path) == noPendingLeft.contains(image), "\(path)") }
        }
        for image in active + waiting {
            #expect(try box.status(of: image.id) == (active.contains(image) ? "active" : "pending_delete"))
            for path in image.paths { #expect(box.exists(path), "\(path) must survive") }
        }
        // Glance's formats are kept: deleted_at untouched, updated_at as naive UTC with microseconds.
        let after = try box.queue().read { db in
            try Row.fetchAll(db, sql: "SELECT id, deleted_at FROM image_locations ORDER BY id")
        }
        #expect(before == after)
        let updated = try #require(try box.row("SELECT updated_at FROM images WHERE id = ?", [plain[0].id])?[0] as String?)
        #expect(updated.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/) != nil)
        #expect(GlanceTimestamp.date(from: updated).map { abs($0.timeIntervalSinceNow) < 60 } == true)
        // Audit: one row per location deleted or not found, one per image.
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'deleted'") == 20 + 15 + 5 + 5)
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'not_found'") == 5)
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'image_deleted'") == eligible.count)
        #expect(try box.count("SELECT count(*) FROM scrub_assignments") == 0)
    }

    @Test func multiStoreRoutesByMetaDataAndFailsUnknownStoresClearly() async throws {
        let box = try await Sandbox()
        let slowRoot = box.directory + "/slow"
        let fast = try await box.seed(3) { $0.storeID = "fast" }
        let slow = try await box.seed(3) {
            $0.storeID = "slow"
            $0.storeDirectory = slowRoot
        }
        let defaulted = try await box.seed(3) { $0.nullMetaData = true }
        let unknown = try await box.seed(2) { $0.storeID = "nope" }
        var config = box.configuration()
        config.stores.multiStore = true
        config.stores.defaultBackend = "fast"
        config.stores.backends = [
            BackendConfiguration(name: "fast", type: "file", fileRoots: [FileRoot(path: box.storeRoot, priority: 0)]),
            BackendConfiguration(name: "slow", type: "file", fileRoots: [FileRoot(path: slowRoot, priority: 0)]),
        ]

        let summary = try await box.runOnce(config)

        #expect(summary.imagesDeleted == 9)
        for image in fast + slow + defaulted {
            #expect(try box.status(of: image.id) == "deleted")
            #expect(!box.exists(image.paths[0]))
        }
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE store = 'slow' AND action = 'deleted'") == 3)
        for image in unknown {
            #expect(try box.status(of: image.id) == "pending_delete")
            #expect(box.exists(image.paths[0]))
            let row = try #require(
                try box.row("SELECT attempts, last_error, not_before FROM scrub_assignments WHERE image_id = ?", [image.id])
            )
            #expect(row[0] as Int == 1)
            #expect((row[1] as String).contains("'nope'"))
            #expect(row[2] as Double? != nil)
        }
        #expect(summary.failedImages == Set(unknown.map(\.id)))
    }

    @Test func backendFailuresLeaveTheImagePendingWithAttemptsErrorAndBackoff() async throws {
        let box = try await Sandbox()
        let images = try await box.seed(6) {
            $0.locationsPerImage = 2
            $0.fileBytes = 0
        }
        let failing = images[0]
        let simulated = SimulatedStore(failing: ["file://" + failing.paths[1]])

        let first = try await box.runOnce(replacing: ["file": simulated])

        #expect(first.imagesDeleted == 5)
        #expect(first.failedImages == [failing.id])
        #expect(try box.status(of: failing.id) == "pending_delete")
        // The location that did go is recorded as gone; the other stays pending.
        #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'deleted'", [failing.id]) == 1)
        #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'pending_delete'", [failing.id]) == 1)
        let row = try #require(
            try box.row(
                """
                SELECT a.attempts, a.last_error, a.not_before - e.at FROM scrub_assignments a
                JOIN scrub_events e ON e.image_id = a.image_id AND e.action = 'failed'
                WHERE a.image_id = ?
                """,
                [failing.id]
            )
        )
        #expect(row[0] as Int == 1)
        #expect((row[1] as String).contains("simulated backend failure"))
        // Backoff base 30 s, from the failure's own store time (its audit row, same transaction):
        // not from the wall clock after the run, which a loaded machine stretched past 10 s.
        #expect((row[2] as Double) > 20)
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'failed' AND image_id = ?", [failing.id]) == 1)

        // The next one-shot run tries it again (inside its backoff) and counts the attempt.
        let second = try await box.runOnce(nodeID: "another-run", replacing: ["file": simulated])
        #expect(second.failedImages == [failing.id])
        #expect(try box.row("SELECT attempts FROM scrub_assignments WHERE image_id = ?", [failing.id])?[0] as Int? == 2)

        // Once the backend recovers, it completes.
        let third = try await box.runOnce(nodeID: "third-run", replacing: ["file": SimulatedStore()])
        #expect(third.imagesDeleted == 1)
        #expect(try box.status(of: failing.id) == "deleted")
    }

    @Test func locationsOutsideTheStoreRootsAreNeverDeleted() async throws {
        let box = try await Sandbox()
        let outside = box.directory + "/outside"
        let escaping = try await box.seed(1) { $0.storeDirectory = outside }
        let dotdot = try await box.seed(1) { $0.storeDirectory = outside }
        try await box.queue().write { db in
            // file://ROOT/../outside/ID: lexically climbs out of the root.
            try db.execute(
                sql: "UPDATE image_locations SET value = ? WHERE image_id = ?",
                arguments: ["file://\(box.storeRoot)/../outside/\(dotdot[0].id)", dotdot[0].id]
            )
        }
        let linked = try await box.seed(1) { $0.storeDirectory = outside }
        try FileManager.default.createSymbolicLink(atPath: box.storeRoot + "/link", withDestinationPath: outside)
        try await box.queue().write { db in
            try db.execute(
                sql: "UPDATE image_locations SET value = ? WHERE image_id = ?",
                arguments: ["file://\(box.storeRoot)/link/\(linked[0].id)", linked[0].id]
            )
        }

        let summary = try await box.runOnce()

        #expect(summary.imagesDeleted == 0)
        for image in escaping + dotdot + linked {
            #expect(box.exists(image.paths[0]), "\(image.paths[0]) is outside the roots and must survive")
            #expect(try box.status(of: image.id) == "pending_delete")
            let error = try #require(try box.row("SELECT last_error FROM scrub_assignments WHERE image_id = ?", [image.id])?[0] as String?)
            #expect(error.contains("outside the store roots"))
            #expect(error.contains("not deleted"))
        }
    }

    @Test func encryptedLocationsAreDecryptedAndUndecryptableOnesFailClearly() async throws {
        let box = try await Sandbox()
        let key = "0123456789abcdef0123456789abcdef"
        let encrypted = try await box.seed(5) { $0.encryptionKey = key }
        let garbage = try await box.seed(1) { $0.encryptionKey = key }
        try await box.queue().write { db in
            try db.execute(
                sql: "UPDATE image_locations SET value = 'bm90LWdsYW5jZS1jaXBoZXJ0ZXh0' WHERE image_id = ?",
                arguments: [garbage[0].id]
            )
        }
        var config = box.configuration()
        config.metadataEncryptionKey = key

        let summary = try await box.runOnce(config)

        #expect(summary.imagesDeleted == 5)
        for image in encrypted { #expect(!box.exists(image.paths[0])) }
        #expect(box.exists(garbage[0].paths[0]))
        let error = try #require(try box.row("SELECT last_error FROM scrub_assignments WHERE image_id = ?", [garbage[0].id])?[0] as String?)
        #expect(error.contains("cannot be decrypted"))
    }

    @Test func aLockedDatabaseDelaysWorkButLosesNothing() async throws {
        let box = try await Sandbox(busyTimeout: 0.1)
        let images = try await box.seed(50)
        // Another connection holds the write lock for far longer than one busy timeout.
        let holder = try DatabaseQueue(path: box.databasePath)
        let locked = AsyncStream<Void>.makeStream()
        let retries = box.busyRetries
        // On a thread of its own: the lock is held inside one blocking database access, which
        // must not take one of the test process's two cooperative threads.
        let blocker = Task {
            try await PostgresTestServer.offload {
                try holder.inDatabase { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    locked.continuation.yield()
                    // Hold the lock until the run has met it, then for several more busy timeouts.
                    let deadline = Date().addingTimeInterval(patienceSeconds)
                    while retries.count == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                    Thread.sleep(forTimeInterval: 0.5)
                    try db.execute(sql: "COMMIT")
                }
            }
        }
        var iterator = locked.stream.makeAsyncIterator()
        await iterator.next()

        let summary = try await box.runOnce()
        try await blocker.value

        #expect(box.busyRetries.count > 0, "the run must have met the lock")
        #expect(summary.imagesDeleted == 50)
        for image in images { #expect(try box.status(of: image.id) == "deleted") }
    }

    @Test func eligibilityFollowsTheStoreClockWhateverTheTimeZone() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(4) { $0.deletedAgo = 1800 }  // 30 min ago
        _ = try await box.seed(3) { $0.deletedAgo = 7200 }  // 2 h ago
        let saved = ProcessInfo.processInfo.environment["TZ"]
        defer {
            if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
            tzset()
        }
        for zone in ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata"] {
            setenv("TZ", zone, 1)
            tzset()
            let backlog = try await box.catalog.backlog(scrubTime: 3600, failureLimit: 10)
            #expect(backlog.eligible == 3, "TZ=\(zone)")
            #expect(backlog.waiting == 4, "TZ=\(zone)")
            #expect(backlog.oldestAgeSeconds.map { abs($0 - 7200) < 60 } == true)
        }
    }
}
