import Foundation
import GRDB
import ScrubberCore
import ScrubberNode
import ScrubberSQLite
import ScrubberStores
import Testing

/// Membership, claims and restore: the invariants of DESIGN §3 that hold from the first issue on.
@Suite struct ClusterSafetyTests {
    static func node(_ id: String) -> NodeRegistration {
        NodeRegistration(nodeID: id, host: "test", pid: 1, version: "test", capacity: 4, leaderEligible: true)
    }

    @Test func aCrashedNodesClaimsAreFinishedByAnotherAfterItsMembershipExpires() async throws {
        let box = try await Sandbox()
        let images = try await box.seed(10)
        let joined = ContinuousClock.now
        _ = try await box.catalog.join(Self.node("crashed"), ttl: 3)
        let claimed = try await box.catalog.claim(ClaimRequest(nodeID: "crashed", limit: 4, scrubTime: 0, selfAssign: true))
        #expect(claimed.count == 4)

        // While the crashed node's membership is live, nobody else may take its claims.
        _ = try await box.catalog.join(Self.node("other"), ttl: 30)
        let early = try await box.catalog.claim(ClaimRequest(nodeID: "other", limit: 100, scrubTime: 0, selfAssign: true))
        #expect(Set(early.map(\.imageID)).isDisjoint(with: claimed.map(\.imageID)))
        try await box.catalog.release(imageIDs: early.map(\.imageID), nodeID: "other")
        try await box.catalog.leave(nodeID: "other")

        #expect(ContinuousClock.now - joined < .seconds(3), "the early claim must happen inside the crashed node's TTL")
        try await Task.sleep(until: joined + .seconds(3.2), clock: .continuous)
        let summary = try await box.runOnce()

        #expect(summary.imagesDeleted == 10)
        for image in images { #expect(try box.status(of: image.id) == "deleted") }
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'reassigned' AND detail LIKE '%crashed%'") == 4)
    }

    @Test func aNodeWhoseMembershipExpiredCanNeitherHeartbeatNorClaim() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(2)
        _ = try await box.catalog.join(Self.node("slow"), ttl: 2)
        let renewed = ContinuousClock.now
        #expect(try await box.catalog.heartbeat(nodeID: "slow", ttl: 2))
        try await Task.sleep(until: renewed + .seconds(2.3), clock: .continuous)
        #expect(try await box.catalog.heartbeat(nodeID: "slow", ttl: 5) == false)
        await #expect(throws: CatalogError.membershipExpired("slow")) {
            try await box.catalog.claim(ClaimRequest(nodeID: "slow", limit: 10, scrubTime: 0, selfAssign: true))
        }
    }

    @Test func twoNodesNeverClaimTheSameImage() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(300)
        _ = try await box.catalog.join(Self.node("a"), ttl: 30)
        _ = try await box.catalog.join(Self.node("b"), ttl: 30)
        async let a = claimAll(box.catalog, "a")
        async let b = claimAll(box.catalog, "b")
        let (fromA, fromB) = try await (a, b)
        #expect(fromA.isDisjoint(with: fromB))
        #expect(fromA.count + fromB.count == 300)
    }

    private func claimAll(_ catalog: SQLiteCatalog, _ node: String) async throws -> Set<String> {
        var all = Set<String>()
        while true {
            let batch = try await catalog.claim(ClaimRequest(nodeID: node, limit: 7, scrubTime: 0, selfAssign: true))
            if batch.isEmpty { return all }
            all.formUnion(batch.map(\.imageID))
        }
    }

    @Test func aRejoiningNodeResetsTheClaimsOfItsPreviousIncarnation() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(3)
        _ = try await box.catalog.join(Self.node("same"), ttl: 30)
        let claimed = try await box.catalog.claim(ClaimRequest(nodeID: "same", limit: 10, scrubTime: 0, selfAssign: true))
        #expect(claimed.count == 3)
        _ = try await box.catalog.join(Self.node("same"), ttl: 30)
        #expect(try box.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing'") == 0)
        let again = try await box.catalog.claim(ClaimRequest(nodeID: "same", limit: 10, scrubTime: 0, selfAssign: true))
        #expect(again.count == 3)
    }
}

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
        #expect(try box.count("SELECT count(*) FROM image_locations WHERE image_id = ? AND status = 'active' AND deleted = 0 AND deleted_at IS NULL", [image.id]) == 2)
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
        let box = try await Sandbox()
        let image = try await box.seed(1)[0]
        _ = try await box.catalog.join(ClusterSafetyTests.node("worker"), ttl: 30)
        _ = try await box.catalog.claim(ClaimRequest(nodeID: "worker", limit: 1, scrubTime: 0, selfAssign: true))
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
}
