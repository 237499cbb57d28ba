import Foundation
import GRDB
import ScrubberCore
import ScrubberNode
import ScrubberSQLite
import ScrubberStores
import ScrubberTestKit
import TestSupport
import Testing

/// Restore (DESIGN §3.5): a compare-and-set that brings back the image and its locations.
@Suite struct RestoreTests {
    func restorer(_ box: Sandbox) throws -> Restorer {
        Restorer(catalog: box.catalog, router: try StoreRouter(configuration: box.configuration().stores, encryptionKey: nil))
    }

    @Test func restoreBringsBackTheImageAndEveryPendingLocation() async throws {
        let box = try await Sandbox()
        let image = try await box.seed(1) { $0.locationsPerImage = 2 }[0]
        let result = try await restorer(box).restore(imageID: image.id, force: false, actor: "test")
        #expect(result.restoredLocations.count == 2)
        let row = try #require(try box.row("SELECT status, deleted, deleted_at FROM images WHERE id = ?", [image.id]))
        #expect(row[0] as String == "active")
        #expect(row[1] as Int == 0)
        #expect(row[2] as String? == nil)
        #expect(
            try box.count(
                "SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'active' AND deleted = 0 AND deleted_at IS NULL",
                [image.id]
            ) == 2
        )
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'restored' AND image_id = ?", [image.id]) == 1)
        // A restored image is never scrubbed.
        _ = try await box.runOnce()
        for path in image.paths { #expect(box.exists(path)) }
    }

    @Test func restoreRefusesAnImageThatIsNotPendingDelete() async throws {
        let box = try await Sandbox()
        let image = try await box.seed(1) { $0.status = .active }[0]
        await #expect(throws: RestoreRefusal.notPendingDelete(image.id, .active)) {
            try await restorer(box).restore(imageID: image.id, force: false, actor: "test")
        }
        await #expect(throws: RestoreRefusal.noSuchImage("no-such-image")) {
            try await restorer(box).restore(imageID: "no-such-image", force: true, actor: "test")
        }
    }

    @Test func restoreRefusesWhileTheImageIsBeingScrubbed() async throws {
        let box = try await Sandbox(clock: StoreClock())
        let image = try await box.seed(1)[0]
        let b = try box.fixture()
        try await b.join("worker")
        try await b.leadAndAssign("worker")
        #expect(try await b.claimAll("worker").count == 1)
        await #expect(throws: RestoreRefusal.beingScrubbed(image.id, node: "worker")) {
            try await restorer(box).restore(imageID: image.id, force: true, actor: "test")
        }
        #expect(try box.status(of: image.id) == "pending_delete")
    }

    @Test func restoreRefusesWhenDataIsGoneUnlessForced() async throws {
        let box = try await Sandbox()
        let image = try await box.seed(1) { $0.locationsPerImage = 2 }[0]
        try FileManager.default.removeItem(atPath: image.paths[1])
        await #expect(throws: RestoreRefusal.self) {
            try await restorer(box).restore(imageID: image.id, force: false, actor: "test")
        }
        #expect(try box.status(of: image.id) == "pending_delete")
        #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'pending_delete'", [image.id]) == 2)

        let forced = try await restorer(box).restore(imageID: image.id, force: true, actor: "test")
        #expect(forced.restoredLocations.count == 1)
        #expect(forced.lostLocations.count == 1)
        #expect(try box.status(of: image.id) == "active")
        #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'deleted'", [image.id]) == 1)
    }

    @Test func aRestoreCommittedAfterTheLocationsChangedIsRefused() async throws {
        let box = try await Sandbox()
        let image = try await box.seed(1) { $0.locationsPerImage = 2 }[0]
        let plan = try await box.catalog.restorePlan(imageID: image.id)
        // A scrub completes one location between the plan and the commit.
        try await box.queue().write { db in
            try db.execute(sql: "UPDATE image_locations SET status = 'deleted' WHERE id = ?", arguments: [plan.locations[0].id])
        }
        await #expect(throws: RestoreRefusal.changedDuringRestore(image.id)) {
            try await box.catalog.commitRestore(RestoreRequest(imageID: image.id, keep: plan.locations.map(\.id), lost: [], actor: "t"))
        }
        #expect(try box.status(of: image.id) == "pending_delete")
    }

    @Test func restoresRacingARunningClusterNeverLoseARestoredImagesData() async throws {
        let box = try await Sandbox()
        let images = try await box.seed(300) { $0.locationsPerImage = 2 }
        var config = box.configuration(pool: 8)
        config.cluster.claimBatch = 8
        config.cluster.assignWindow = 16
        let restorer = try restorer(box)
        async let run = box.runOnce(config, nodeID: "racer")
        // Restore every third image while the node scrubs.
        var restored: [SeededImage] = []
        for image in images.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
            if (try? await restorer.restore(imageID: image.id, force: false, actor: "race")) != nil { restored.append(image) }
        }
        _ = try await run
        #expect(!restored.isEmpty, "some restores must win the race for the test to mean anything")
        for image in restored {
            #expect(try box.status(of: image.id) == "active")
            for path in image.paths { #expect(box.exists(path), "restored image \(image.id) lost \(path)") }
            #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status != 'active'", [image.id]) == 0)
        }
        let restoredIDs = Set(restored.map(\.id))
        for image in images where !restoredIDs.contains(image.id) {
            #expect(try box.status(of: image.id) == "deleted")
        }
    }
}
