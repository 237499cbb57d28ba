import Foundation
import ScrubberCore
import ScrubberNode
import ScrubberSQLite
import ScrubberStores
import ScrubberTestKit
import Testing

/// The coordination protocol's contract, run against every backend. Each test is named after
/// the invariant of DESIGN §3 it proves.
@Suite struct CatalogConformanceTests {
    // MARK: Membership

    @Test(arguments: CatalogBackend.allCases)
    func aNodeWhoseMembershipExpiredCanNeitherHeartbeatNorClaim(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        try await b.join("slow", ttl: 5)
        #expect(try await b.catalog.heartbeat(nodeID: "slow", ttl: 2))
        // The heartbeat's TTL counts on the store clock from the heartbeat.
        try b.advance(by: 1.9)
        #expect(try await b.catalog.claim(ClaimRequest(nodeID: "slow", limit: 10)).isEmpty, "still a member 1.9 s later")
        try b.advance(by: 0.2)
        #expect(try await b.catalog.heartbeat(nodeID: "slow", ttl: 5) == false)
        await #expect(throws: CatalogError.membershipExpired("slow")) {
            try await b.catalog.claim(ClaimRequest(nodeID: "slow", limit: 10))
        }
    }

    // MARK: One leader per term (§3.2)

    @Test(arguments: CatalogBackend.allCases)
    func competingCampaignsElectOneLeaderPerTermAndTermsOnlyGrow(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let nodes = (1...6).map { "n\($0)" }
        for node in nodes { try await b.join(node, ttl: 30) }
        var lastTerm: Int64 = 0
        for round in 0..<4 {
            let leases = try await withThrowingTaskGroup(of: LeaderLease.self) { group in
                for node in nodes { group.addTask { try await b.catalog.campaign(nodeID: node, ttl: 30) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = Set(leases.compactMap(\.liveHolder))
            #expect(winners.count == 1, "round \(round): \(leases)")
            let term = leases.map(\.term).max() ?? 0
            #expect(term == lastTerm + 1, "exactly one change of holder per round")
            lastTerm = term
            try await b.catalog.resign(nodeID: try #require(winners.first), term: term)
        }
    }

    @Test(arguments: CatalogBackend.allCases)
    func onlyALiveEligibleMemberCanLeadAndOnlyTheHolderCanRenew(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        #expect(try await b.catalog.campaign(nodeID: "stranger", ttl: 30).liveHolder == nil)
        try await b.join("shy", eligible: false)
        #expect(try await b.catalog.campaign(nodeID: "shy", ttl: 30).liveHolder == nil)
        try await b.join("a")
        let lease = try await b.catalog.campaign(nodeID: "a", ttl: 30)
        #expect(lease.liveHolder == "a")
        try await b.join("b")
        #expect(try await b.catalog.campaign(nodeID: "b", ttl: 30).liveHolder == "a", "a live lease is not taken")
        #expect(try await b.catalog.renewLeadership(nodeID: "a", term: lease.term, ttl: 30))
        #expect(try await b.catalog.renewLeadership(nodeID: "b", term: lease.term, ttl: 30) == false)
        #expect(try await b.catalog.renewLeadership(nodeID: "a", term: lease.term - 1, ttl: 30) == false)
    }

    /// `leader_priority`: a live preferred node leads; a lower leader's renewal is refused (it
    /// resigns, handing over); a vacant lease waits for the preferred node, but only for
    /// `grace` (better a leader than none); once the preferred node is gone a lower one leads.
    @Test(arguments: CatalogBackend.allCases)
    func aLivePreferredNodeLeadsAndALowerOneLeadsOnlyWithoutIt(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        try await b.join("low")
        let first = try await b.catalog.campaign(nodeID: "low", ttl: 30)
        #expect(first.liveHolder == "low", "alone, the lower node leads")
        _ = try await b.catalog.join(
            NodeRegistration(
                nodeID: "high",
                host: "test",
                pid: 2,
                version: "test",
                capacity: 4,
                leaderEligible: true,
                leaderPriority: 5
            ),
            ttl: 30
        )
        #expect(try await b.catalog.renewLeadership(nodeID: "low", term: first.term, ttl: 30) == false, "a preferred node is alive")
        #expect(
            try await b.catalog.campaign(nodeID: "high", ttl: 30).liveHolder == "low",
            "a live lease is not taken, even by the preferred"
        )
        try await b.catalog.resign(nodeID: "low", term: first.term)
        #expect(try await b.catalog.campaign(nodeID: "low", ttl: 30).liveHolder == nil, "the vacant lease waits for the preferred node")

        // The preferred node does not campaign: after `grace` (the campaign's ttl) a lower one leads.
        try b.advance(by: 3.2)
        let fallback = try await b.catalog.campaign(nodeID: "low", ttl: 3)
        #expect(fallback.liveHolder == "low" && fallback.term == first.term + 1)
        // Refused for the preferred node, and not retaken with a new term (robust to a slow
        // machine: were the lease to run out meanwhile, both would hold all the same).
        #expect(try await b.catalog.renewLeadership(nodeID: "low", term: fallback.term, ttl: 30) == false)
        let retake = try await b.catalog.campaign(nodeID: "low", ttl: 30)
        #expect(retake.holder == "low" && retake.term == fallback.term, "its own lease is not retaken with a new term")
        try await b.catalog.resign(nodeID: "low", term: fallback.term)

        let high = try await b.catalog.campaign(nodeID: "high", ttl: 30)
        #expect(high.liveHolder == "high" && high.term == fallback.term + 1)
        #expect(try await b.catalog.renewLeadership(nodeID: "high", term: high.term, ttl: 30), "nothing is preferred to it")

        // The preferred node dies: its membership and its lease run out; the lower node leads.
        _ = try await b.catalog.heartbeat(nodeID: "high", ttl: 0.05)
        _ = try await b.catalog.renewLeadership(nodeID: "high", term: high.term, ttl: 0.05)
        try b.advance(by: 0.3)
        let back = try await b.catalog.campaign(nodeID: "low", ttl: 30)
        #expect(back.liveHolder == "low" && back.term == high.term + 1)
        #expect(try await b.catalog.renewLeadership(nodeID: "low", term: back.term, ttl: 30))
    }

    @Test(arguments: CatalogBackend.allCases)
    func anExpiredLeaseIsTakenWithAHigherTermAndTheOldTermIsFenced(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(5)
        try await b.join("old")
        try await b.join("new")
        let old = try await b.catalog.campaign(nodeID: "old", ttl: 0.5)
        #expect(old.liveHolder == "old")
        try b.advance(by: 0.7)
        #expect(try await b.catalog.renewLeadership(nodeID: "old", term: old.term, ttl: 30) == false)
        let new = try await b.catalog.campaign(nodeID: "new", ttl: 30)
        #expect(new.liveHolder == "new")
        #expect(new.term == old.term + 1)

        // The deposed leader's round is rejected and writes nothing.
        let view = try await b.catalog.leaderView(scrubTime: 0, limit: 100, scan: .full(after: nil))
        #expect(view.unassigned.count == 5)
        let stale = LeaderPlan(leader: "old", term: old.term, assignments: view.unassigned.map { ($0, "old") }, moves: [])
        #expect(try await b.catalog.apply(stale) == false)
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 100, scan: .full(after: nil)).unassigned.count == 5)
        #expect(try await b.catalog.claim(ClaimRequest(nodeID: "old", limit: 10)).isEmpty)
    }

    /// The leader sweeps the catalog in keyset pages: each eligible unassigned image once,
    /// whatever the page size; assigned, active and not-yet-eligible images never; `next` is nil
    /// on the page that reached the end.
    @Test(arguments: CatalogBackend.allCases)
    func theLeadersSweepListsEveryEligibleUnassignedImageOnceInPages(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let eligible = try await b.seed(23)
        let active = try await b.seed(4) {
            $0.status = .active
            $0.namePrefix = "active"
        }
        let waiting = try await b.seed(3) {
            $0.deletedAgo = 5
            $0.namePrefix = "waiting"
        }
        try await b.join("leader")
        let term = try await b.catalog.campaign(nodeID: "leader", ttl: 30).term
        // Five of them are assigned already: the sweep skips them.
        let taken = Array(eligible.prefix(5).map(\.id))
        #expect(try await b.catalog.apply(LeaderPlan(leader: "leader", term: term, assignments: taken.map { ($0, "leader") }, moves: [])))

        for pageSize in [1, 4, 18, 100] {
            var seen: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let view = try await b.catalog.leaderView(scrubTime: 600, limit: pageSize, scan: .full(after: after))
                #expect(view.unassigned.count <= pageSize)
                seen += view.unassigned
                after = view.next
                pages += 1
                if view.next != nil { #expect(view.unassigned.count == pageSize, "only a full page may say there is more") }
            } while after != nil && pages < 100
            #expect(seen.count == Set(seen).count, "page size \(pageSize): an image listed twice")
            #expect(Set(seen) == Set(eligible.dropFirst(5).map(\.id)), "page size \(pageSize)")
            #expect(Set(seen).isDisjoint(with: active.map(\.id) + waiting.map(\.id)))
        }
        // A scan position SQLite did not make (its positions are rowids) is refused, not misread.
        if backend != .postgresql {
            await #expect(throws: CatalogError.self) {
                try await b.catalog.leaderView(scrubTime: 600, limit: 5, scan: .full(after: "not-a-rowid"))
            }
        }
    }

    /// The leader's fast path lists the eligible unassigned images updated after its bound, in
    /// pages, each once, and those updated `scrub_time` earlier, which become eligible now;
    /// what was updated before is left to the full sweep.
    @Test(arguments: CatalogBackend.allCases)
    func aRecentScanListsWhatWasUpdatedSinceItsBoundOnce(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let old = try await b.seed(3) {
            $0.deletedAgo = 3600
            $0.updatedAgo = 3600
            $0.namePrefix = "old"
        }
        let recent = try await b.seed(7) {
            $0.deletedAgo = 200
            $0.updatedAgo = 200
        }
        // Deleted long ago, touched since (written by hand, restored and deleted again).
        let touched = try await b.seed(2) {
            $0.deletedAgo = 3600
            $0.updatedAgo = 10
            $0.namePrefix = "touched"
        }
        let waiting = try await b.seed(2) {
            $0.deletedAgo = 30
            $0.updatedAgo = 30
            $0.namePrefix = "waiting"
        }
        _ = try await b.seed(2) {
            $0.status = .active
            $0.namePrefix = "active"
        }
        try await b.join("leader")
        let term = try await b.catalog.campaign(nodeID: "leader", ttl: 300).term
        let taken = recent[0].id
        #expect(try await b.catalog.apply(LeaderPlan(leader: "leader", term: term, assignments: [(taken, "leader")], moves: [])))

        // The seeds are stamped by this machine's clock, which ran on while the store's stood still.
        try b.advance(by: max(0, Date().timeIntervalSince1970 - b.clock.now))
        let since = GlanceTimestamp.string(from: Date(timeIntervalSince1970: b.clock.now - 1000))
        let listed = Set((recent.dropFirst() + touched).map(\.id))
        var scannedTo = ""
        for pageSize in [1, 2, 100] {
            var seen: [String] = []
            var scan = CandidateScan.recent(since: since, after: nil)
            var pages = 0
            while true {
                let view = try await b.catalog.leaderView(scrubTime: 60, limit: pageSize, scan: scan)
                #expect(view.scannedTo == ScanPosition.stamp(view.storeNow))
                #expect(abs(view.storeNow - b.clock.now) < 1, "the view carries the store clock")
                scannedTo = view.scannedTo
                seen += view.unassigned
                pages += 1
                guard let next = view.next, pages < 100 else { break }
                scan = scan.continued(after: next)
            }
            #expect(seen.count == Set(seen).count, "page size \(pageSize): an image listed twice")
            #expect(Set(seen) == listed, "page size \(pageSize): not the eligible unassigned images updated since")
        }
        #expect(try await b.catalog.apply(LeaderPlan(leader: "leader", term: term, assignments: listed.map { ($0, "leader") }, moves: [])))

        // From the mark on: nothing new is updated, but the images deleted `scrub_time` before
        // become eligible and are listed.
        #expect(try await b.catalog.leaderView(scrubTime: 60, limit: 100, scan: .recent(since: scannedTo, after: nil)).unassigned.isEmpty)
        try b.advance(by: 40)
        let later = try await b.catalog.leaderView(scrubTime: 60, limit: 100, scan: .recent(since: scannedTo, after: nil))
        #expect(Set(later.unassigned) == Set(waiting.map(\.id)))
        #expect(Set(old.map(\.id)).isDisjoint(with: later.unassigned), "updated before the bound: the full sweep's")

        // A bound or position the catalog did not make is refused, not misread.
        await #expect(throws: CatalogError.self) {
            try await b.catalog.leaderView(scrubTime: 60, limit: 5, scan: .recent(since: "yesterday", after: nil))
        }
        await #expect(throws: CatalogError.self) {
            try await b.catalog.leaderView(scrubTime: 60, limit: 5, scan: .recent(since: scannedTo, after: "not-a-position"))
        }
    }

    /// The sweep's state is kept by the leader's fenced round: a new leader reads what the last
    /// one wrote, and a deposed leader's state is not written.
    @Test(arguments: CatalogBackend.allCases)
    func theSweepStateIsKeptByTheFencedRound(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        try await b.join("a")
        try await b.join("b")
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).sweep == SweepState())
        let a = try await b.catalog.campaign(nodeID: "a", ttl: 1).term
        let kept = SweepState(
            mark: "2026-12-05 06:00:00.250000",
            fullStartedAt: 1_000_000.5,
            fullPosition: "42",
            fullCompletedAt: nil
        )
        #expect(try await b.catalog.apply(LeaderPlan(leader: "a", term: a, assignments: [], moves: [], sweep: kept)))
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).sweep == kept)
        try b.advance(by: 2)
        let bTerm = try await b.catalog.campaign(nodeID: "b", ttl: 30).term
        #expect(bTerm > a)
        let stale = SweepState(mark: "2026-12-05 07:00:00.000000")
        #expect(try await b.catalog.apply(LeaderPlan(leader: "a", term: a, assignments: [], moves: [], sweep: stale)) == false)
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).sweep == kept)
        let done = SweepState(mark: "2026-12-05 06:01:00.000000", fullStartedAt: 1_000_000.5, fullPosition: nil, fullCompletedAt: 1_000_002)
        #expect(try await b.catalog.apply(LeaderPlan(leader: "b", term: bTerm, assignments: [], moves: [], sweep: done)))
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).sweep == done)
    }

    @Test(arguments: CatalogBackend.allCases)
    func aResignedLeaseIsTakenAtOnce(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        try await b.join("a")
        try await b.join("b")
        let a = try await b.catalog.campaign(nodeID: "a", ttl: 30)
        try await b.catalog.resign(nodeID: "a", term: a.term)
        let next = try await b.catalog.campaign(nodeID: "b", ttl: 30)
        #expect(next.liveHolder == "b")
        #expect(next.term == a.term + 1)
    }

    // MARK: One worker per image (§3.3)

    @Test(arguments: CatalogBackend.allCases)
    func onlyTheAssignedNodeCanClaimAndEachImageIsClaimedOnce(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(40)
        try await b.join("w1")
        try await b.join("w2")
        try await b.leadAndAssign("leader", to: ["w1", "w2"])
        async let one = b.claimAll("w1", batch: 7)
        async let two = b.claimAll("w2", batch: 7)
        let (c1, c2) = try await (one, two)
        let ids1 = Set(c1.map(\.imageID))
        let ids2 = Set(c2.map(\.imageID))
        #expect(ids1.isDisjoint(with: ids2))
        #expect(ids1.union(ids2) == Set(images.map(\.id)))
        #expect(!ids1.isEmpty && !ids2.isEmpty, "rendezvous hashing shares the work")
        #expect(try await b.claimAll("leader").isEmpty, "the leader claims only what it assigned to itself")
        #expect(c1.allSatisfy { $0.locations.count == 1 })
    }

    @Test(arguments: CatalogBackend.allCases)
    func completionMarksLocationsAndImageDeletedAndAReplayChangesNothing(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(3) { $0.locationsPerImage = 2 }
        try await b.join("w")
        try await b.leadAndAssign("w")
        let claimed = try await b.claimAll("w")
        let first = try await b.completeAll(claimed, node: "w")
        let replay = try await b.completeAll(claimed, node: "w")
        #expect(first.imagesDeleted.count == 3)
        #expect(first.locationsDeleted == 6)
        if backend == .service {
            // The service answers the same batch sent again from its first try (the request
            // id follows the content): the replay is not applied at all.
            #expect(replay == first)
        } else {
            #expect(replay.imagesDeleted.isEmpty)
            #expect(replay.locationsDeleted == 0)
            #expect(Set(replay.claimsLost) == Set(images.map(\.id)))
        }
        for image in images { #expect(try await b.status(of: image.id) == .deleted) }
    }

    @Test(arguments: CatalogBackend.allCases)
    func aFailedImageStaysPendingWithAttemptsAndErrorAndIsNotClaimableDuringBackoff(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let image = try await b.seed(1)[0]
        try await b.join("w")
        try await b.leadAndAssign("w")
        let claimed = try await b.claimAll("w")
        let outcome = ScrubOutcome(
            imageID: image.id,
            previousAttempts: 0,
            locations: [LocationResult(locationID: claimed[0].locations[0].id, store: "file", outcome: .failed("boom"))]
        )
        let report = try await b.catalog.complete([outcome], nodeID: "w", backoff: Backoff(base: 60, max: 60))
        #expect(report.imagesFailed == [image.id])
        #expect(try await b.status(of: image.id) == .pendingDelete)
        #expect(try await b.claimAll("w").isEmpty, "inside its backoff")
        let backlog = try await b.catalog.backlog(scrubTime: 0, failureLimit: 10)
        #expect(backlog.failing == 1)
        #expect(backlog.failures.first?.attempts == 1)
        #expect(backlog.failures.first?.lastError == "boom")
        // A one-shot run that started after the failure tries it again.
        let retried = try await b.catalog.claim(
            ClaimRequest(nodeID: "w", limit: 10, retryClaimedBefore: Date().timeIntervalSince1970 + 3600)
        )
        #expect(retried.map(\.imageID) == [image.id])
        #expect(retried.first?.attempts == 1)
    }

    // MARK: Idempotent transitions, crashed nodes (§3.4)

    @Test(arguments: CatalogBackend.allCases)
    func aCrashedNodesClaimsMoveToALiveNodeOnlyAfterItsMembershipExpires(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(6)
        try await b.join("crashed", ttl: 20)
        try await b.leadAndAssign("leader", to: ["crashed"])
        let stolen = try await b.claimAll("crashed")
        #expect(stolen.count == 6)
        try await b.join("survivor")

        // While its membership is live, its claims stay put: up to the end of its TTL.
        try b.advance(by: 19.9)
        let early = try await b.catalog.leaderView(scrubTime: 0, limit: 100, scan: .full(after: nil))
        #expect(early.orphans.isEmpty)

        try b.advance(by: 0.2)
        let late = try await b.catalog.leaderView(scrubTime: 0, limit: 100, scan: .full(after: nil))
        #expect(Set(late.orphans.map(\.imageID)) == Set(images.map(\.id)))
        #expect(late.orphans.allSatisfy { $0.node == "crashed" && $0.scrubbing })
        try await b.leadAndAssign("leader", to: ["survivor"])
        let finished = try await b.completeAll(try await b.claimAll("survivor"), node: "survivor")
        #expect(finished.imagesDeleted.count == 6)
        // The crashed node's late completion is a harmless replay.
        let late2 = try await b.completeAll(stolen, node: "crashed")
        #expect(late2.imagesDeleted.isEmpty)
        #expect(late2.claimsLost.count == 6)
    }

    /// Chaos found this: a node deletes an image's data, pauses past its membership, and on
    /// waking records the gone locations (truthfully) but no longer holds the claim, so the
    /// image stays `pending_delete` with no pending location. Restoring it would bring back an
    /// image without data; restore must see what was scrubbed and refuse.
    @Test(arguments: CatalogBackend.allCases)
    func aRestoreRefusesAnImageWhoseDataALapsedNodeDeleted(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let image = try await b.seed(1) { $0.locationsPerImage = 2 }[0]
        try await b.join("lapsed")
        try await b.leadAndAssign("leader", to: ["lapsed"])
        let claimed = try await b.claimAll("lapsed")
        #expect(claimed.count == 1)
        // Its claim is taken away (a rejoin resets claims, as an expiry would let the leader move them).
        try await b.join("lapsed")
        let late = try await b.completeAll(claimed, node: "lapsed")
        #expect(late.claimsLost == [image.id])
        #expect(late.locationsDeleted == 2)

        let plan = try await b.catalog.restorePlan(imageID: image.id)
        #expect(plan.status == .pendingDelete)
        #expect(plan.locations.isEmpty)
        #expect(plan.scrubbedLocations == claimed[0].locations.map(\.id))
        let restorer = Restorer(catalog: b.catalog.raw, router: try StoreRouter(configuration: StoresConfiguration(), encryptionKey: nil))
        await #expect(throws: RestoreRefusal.self) {
            try await restorer.restore(imageID: image.id, force: false, actor: "test")
        }
        #expect(try await b.status(of: image.id) == .pendingDelete)
        // Forced, it restores the image and reports the locations as lost.
        let forced = try await restorer.restore(imageID: image.id, force: true, actor: "test")
        #expect(forced.restoredLocations.isEmpty)
        #expect(forced.lostLocations == claimed[0].locations.map(\.id))
        #expect(try await b.status(of: image.id) == .active)
    }

    /// A claim whose answer was lost is retried with the same token: the retry returns what the
    /// first try claimed, and claims nothing more.
    @Test(arguments: CatalogBackend.allCases)
    func aRetriedClaimWithTheSameTokenReturnsTheFirstClaimAndClaimsNothingNew(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(5) { $0.locationsPerImage = 2 }
        try await b.join("w")
        try await b.leadAndAssign("leader", to: ["w"])
        let first = try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 2, token: "t-1"))
        #expect(first.count == 2)
        let retry = try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 2, token: "t-1"))
        #expect(Set(retry) == Set(first), "order aside (PostgreSQL returns claimed rows in no order)")
        let next = try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 10, token: "t-2"))
        #expect(next.count == 3)
        #expect(Set(next.map(\.imageID)).isDisjoint(with: first.map(\.imageID)))
        // Once completed, the first claim's token holds nothing: a late replay claims afresh (nothing left).
        _ = try await b.completeAll(first, node: "w")
        #expect(try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 2, token: "t-1")).isEmpty)
    }

    @Test(arguments: CatalogBackend.allCases)
    func aRejoiningNodeResetsTheClaimsOfItsPreviousIncarnation(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(3)
        try await b.join("same")
        try await b.leadAndAssign("same")
        #expect(try await b.claimAll("same").count == 3)
        try await b.join("same")
        #expect(try await b.claimAll("same").count == 3, "claims of the dead incarnation are claimable again")
    }

    @Test(arguments: CatalogBackend.allCases)
    func releasedClaimsBecomeAnyonesAndOnlyTheHolderCanReleaseThem(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(6)
        try await b.join("holder")
        try await b.join("other")
        try await b.leadAndAssign("leader", to: ["holder"])
        let claimed = try await b.claimAll("holder")
        #expect(claimed.count == 6)
        let handedBack = Array(claimed.prefix(4).map(\.imageID))
        try await b.catalog.release(imageIDs: handedBack, nodeID: "other")
        #expect(
            try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).orphans.isEmpty,
            "another node cannot release them"
        )
        try await b.catalog.release(imageIDs: handedBack, nodeID: "holder")
        let orphans = try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).orphans
        #expect(Set(orphans.map(\.imageID)) == Set(handedBack))
        #expect(orphans.allSatisfy { $0.node == nil && !$0.scrubbing })
        let report = try await b.completeAll(Array(claimed.suffix(2)), node: "holder")
        #expect(report.imagesDeleted.count == 2, "the claims it kept are still its own")
    }

    @Test(arguments: CatalogBackend.allCases)
    func aDrainingNodeHandsBackItsQueueButKeepsWhatItIsScrubbing(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(10)
        try await b.join("leaving")
        try await b.join("staying")
        try await b.leadAndAssign("leader", to: ["leaving"])
        let inFlight = try await b.catalog.claim(ClaimRequest(nodeID: "leaving", limit: 3))
        try await b.catalog.windDown(nodeID: "leaving")
        let view = try await b.catalog.leaderView(scrubTime: 0, limit: 100, scan: .full(after: nil))
        #expect(view.orphans.count == 7)
        #expect(view.nodes.first { $0.id == "leaving" }?.draining == true)
        try await b.leadAndAssign("leader", to: ["staying"])
        #expect(try await b.claimAll("staying").count == 7)
        // The draining node finishes its own three.
        #expect(try await b.completeAll(inFlight, node: "leaving").imagesDeleted.count == 3)
    }

    /// The orphan query walks holders through the queue index; every kind of orphan must come
    /// back in one view, from several holders at once, and nothing of a live node.
    @Test(arguments: CatalogBackend.allCases)
    func oneLeaderViewSeesEveryKindOfOrphanAndNothingOfALiveNode(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        for node in ["keeper", "crashed", "left", "leaving"] { try await b.join(node) }
        var images: [String: [String]] = [:]
        for (node, count) in [("keeper", 4), ("crashed", 5), ("left", 3), ("leaving", 3)] {
            images[node] = try await b.seed(count).map(\.id)
            try await b.leadAndAssign("leader", to: [node])
        }
        var scrubbing: [String: [String]] = [:]
        for (node, count) in [("keeper", 2), ("crashed", 2), ("left", 1), ("leaving", 1)] {
            scrubbing[node] = try await b.catalog.claim(ClaimRequest(nodeID: node, limit: count)).map(\.imageID)
            #expect(scrubbing[node]?.count == count)
        }
        try await b.catalog.leave(nodeID: "left")
        try await b.catalog.windDown(nodeID: "leaving")
        // "crashed" stops heartbeating: its membership runs out now.
        _ = try await b.catalog.heartbeat(nodeID: "crashed", ttl: 0.05)
        try b.advance(by: 0.3)

        let orphans = try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).orphans
        let byImage = Dictionary(orphans.map { ($0.imageID, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(orphans.count == byImage.count, "each orphan once")
        let leavingQueued = Set(images["leaving"]!).subtracting(scrubbing["leaving"]!)
        #expect(Set(byImage.keys) == Set(images["crashed"]! + images["left"]!).union(leavingQueued))
        for id in images["crashed"]! {
            // A dead holder's work, started or not, with the holder named for the fenced move.
            #expect(byImage[id]?.node == "crashed" && byImage[id]?.scrubbing == scrubbing["crashed"]!.contains(id))
        }
        for id in images["left"]! + leavingQueued {
            // Leaving hands back everything, draining what was not started: unheld.
            #expect(byImage[id]?.node == nil && byImage[id]?.scrubbing == false)
        }
    }

    /// The states no protocol call leaves behind but a crash between two statements, an operator
    /// or an older version could: rows still held by a node that left, queued rows of a live
    /// draining node, rows of a node with no `scrub_nodes` row.
    @Test(arguments: CatalogBackend.allCases)
    func theOrphanQueryFindsRowsOfLeftDrainingAndUnknownHolders(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        for node in ["keeper", "quitter", "drainer"] { try await b.join(node) }
        let ids = try await b.seed(12).map(\.id)
        try await b.leadAndAssign("leader", to: ["keeper"])
        func hold(_ slice: ArraySlice<String>, by node: String, _ state: String) throws {
            let list = slice.map { "'\($0)'" }.joined(separator: ", ")
            try b.execute("UPDATE scrub_assignments SET node_id = '\(node)', state = '\(state)' WHERE image_id IN (\(list))")
        }
        try hold(ids[0..<2], by: "quitter", "assigned")
        try hold(ids[2..<4], by: "quitter", "scrubbing")
        try hold(ids[4..<6], by: "drainer", "assigned")
        try hold(ids[6..<8], by: "drainer", "scrubbing")
        try hold(ids[8..<10], by: "ghost", "scrubbing")
        try b.execute("UPDATE scrub_nodes SET state = 'left' WHERE node_id = 'quitter'")
        try b.execute("UPDATE scrub_nodes SET state = 'draining' WHERE node_id = 'drainer'")

        let orphans = try await b.catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)).orphans
        let expected = Set(ids[0..<6] + ids[8..<10])
        #expect(Set(orphans.map(\.imageID)) == expected, "not the draining node's started work, not the keeper's")
        #expect(orphans.count == expected.count)
        for orphan in orphans {
            let index = ids.firstIndex(of: orphan.imageID)!
            #expect(orphan.node == ["quitter", "quitter", "drainer", "drainer", "ghost"][index / 2])
        }
    }

    @Test(arguments: CatalogBackend.allCases)
    func aLeaderRoundMovesWorkOnlyIfItIsStillWhereTheRoundSawIt(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let image = try await b.seed(1)[0]
        try await b.join("a")
        try await b.join("b")
        let term = try await b.leadAndAssign("a", to: ["a"])
        // A plan that believes the image is with b (it is with a) moves nothing.
        let wrong = LeaderPlan(leader: "a", term: term, assignments: [], moves: [.init(imageID: image.id, from: "b", to: "b")])
        #expect(try await b.catalog.apply(wrong))
        #expect(try await b.claimAll("b").isEmpty)
        #expect(try await b.claimAll("a").count == 1)
    }

    // MARK: One claim per completion, one process per node id (§3.3)

    /// A worker's outcome of one image, every location gone (or all failed, with `error`).
    static func outcome(_ image: ClaimedImage, token: String? = nil, error: String? = nil) -> ScrubOutcome {
        ScrubOutcome(
            imageID: image.imageID,
            claimToken: token ?? image.claimToken,
            previousAttempts: image.attempts,
            locations: image.locations.map {
                LocationResult(locationID: $0.id, store: "file", outcome: error.map { .failed($0) } ?? .deleted)
            }
        )
    }

    /// A fresh backend with one eligible image, assigned to node `w` and claimed by it.
    static func oneClaimedImage(_ backend: CatalogBackend) async throws -> (BackendFixture, SeededImage, NodeIdentity, ClaimedImage) {
        let b = try await backend.make()
        let image = try #require(try await b.seed(1).first)
        let w = NodeIdentity(nodeID: "w", incarnation: try await b.catalog.join(BackendFixture.node("w"), ttl: 30).incarnation)
        try await b.leadAndAssign("w")
        let claimed = try #require(try await b.catalog.raw.claim(ClaimRequest(w, limit: 10)).first)
        #expect(claimed.imageID == image.id)
        return (b, image, w, claimed)
    }

    /// Node `node` rejoins as its own process does (presenting its incarnation): its claims are reset.
    /// - Returns: the incarnation the join answered.
    static func rejoin(_ b: BackendFixture, _ node: NodeIdentity) async throws -> String {
        var registration = BackendFixture.node(node.nodeID)
        registration.incarnation = node.incarnation
        return try await b.catalog.raw.join(registration, ttl: 30).incarnation
    }

    /// Restores `image` as an operator would (keeping every pending location): the refusal, if any.
    static func restoreRefusal(_ b: BackendFixture, _ image: String) async throws -> RestoreRefusal? {
        let plan = try await b.catalog.restorePlan(imageID: image)
        do {
            _ = try await b.catalog.raw.commitRestore(RestoreRequest(imageID: image, keep: plan.locations.map(\.id), lost: [], actor: "op"))
            return nil
        } catch let refusal as RestoreRefusal {
            return refusal
        }
    }

    /// Claim X (epoch 1), rejoin, claim X again (epoch 2), then the epoch-1 failure arrives: it
    /// is lost. Before claims had tokens it sent X back to `assigned`, so a restore succeeded
    /// while the epoch-2 worker deleted X's data.
    @Test(arguments: CatalogBackend.allCases)
    func aLateOutcomeOfAClaimBeforeARejoinIsLost(_ backend: CatalogBackend) async throws {
        let (b, image, w, first) = try await Self.oneClaimedImage(backend)

        // The node's membership lapses and it rejoins: its claims are reset.
        #expect(try await Self.rejoin(b, w) == w.incarnation, "a node's own rejoin keeps its incarnation")
        let second = try #require(try await b.catalog.raw.claim(ClaimRequest(w, limit: 10)).first)
        #expect(second.imageID == image.id)
        #expect(second.claimToken != first.claimToken, "every claim has a fresh token")

        let late = try await b.catalog.raw.complete([Self.outcome(first, error: "permit withdrawn")], node: w, backoff: Backoff())
        #expect(late.claimsLost == [image.id])
        #expect(late.imagesFailed.isEmpty && late.imagesDeleted.isEmpty)
        #expect(try await Self.restoreRefusal(b, image.id) == .beingScrubbed(image.id, node: "w"), "the newer claim still lives")

        let done = try await b.catalog.raw.complete([Self.outcome(second)], node: w, backoff: Backoff())
        #expect(done.imagesDeleted == [image.id])
        #expect(try await b.status(of: image.id) == .deleted)
    }

    /// Claim X, fail it, claim X again after the backoff, then the first completion is sent
    /// again (its answer was lost: a commit whose reply never came, a replay cache that
    /// restarted or expired): it is lost, not applied twice.
    @Test(arguments: CatalogBackend.allCases)
    func aReSentOutcomeOfAnEarlierClaimInTheSameEpochIsLost(_ backend: CatalogBackend) async throws {
        let (b, image, w, first) = try await Self.oneClaimedImage(backend)
        let failure = [Self.outcome(first, error: "backend timed out")]
        #expect(try await b.catalog.raw.complete(failure, node: w, backoff: Backoff(base: 3600, max: 3600)).imagesFailed == [image.id])
        // The backoff is over (a one-shot run's retry claims inside it: the same path).
        let second = try #require(try await b.catalog.raw.claim(ClaimRequest(w, limit: 10, retryClaimedBefore: 4e9)).first)
        #expect(second.attempts == 1)
        #expect(second.claimToken != first.claimToken)

        // Sent again past the lease service's replay cache (which would answer an identical
        // request from its first try): the same outcome, a new request.
        let resent = [Self.outcome(first, error: "backend timed out (sent again)")]
        let again = try await b.catalog.raw.complete(resent, node: w, backoff: Backoff(base: 3600, max: 3600))
        #expect(again.claimsLost == [image.id])
        #expect(again.imagesFailed.isEmpty)
        #expect(try await Self.restoreRefusal(b, image.id) == .beingScrubbed(image.id, node: "w"))
        #expect(try await b.catalog.backlog(scrubTime: 0, failureLimit: 5).failures.first?.attempts == 1, "not counted twice")

        #expect(try await b.catalog.raw.complete([Self.outcome(second)], node: w, backoff: Backoff()).imagesDeleted == [image.id])
        // An outcome that names no claim (an older node's) completes nothing either.
        let untokened = ScrubOutcome(imageID: image.id, claimToken: nil, previousAttempts: 0, locations: [])
        #expect(try await b.catalog.raw.complete([untokened], node: w, backoff: Backoff()).claimsLost == [image.id])
    }

    /// A release hands back only the claims it names: a stale one leaves the newer claim alone.
    @Test(arguments: CatalogBackend.allCases)
    func aReleaseOfAnEarlierClaimLeavesTheNewerOne(_ backend: CatalogBackend) async throws {
        let (b, image, w, first) = try await Self.oneClaimedImage(backend)
        _ = try await Self.rejoin(b, w)
        let second = try #require(try await b.catalog.raw.claim(ClaimRequest(w, limit: 10)).first)
        try await b.catalog.raw.release([first.claim], node: w)
        #expect(try await Self.restoreRefusal(b, image.id) == .beingScrubbed(image.id, node: "w"))
        try await b.catalog.raw.release([second.claim], node: w)
        #expect(try await b.catalog.restorePlan(imageID: image.id).scrubbingNode == nil, "the named claim is handed back")
    }

    /// Two live processes cannot share a node id: the second join is refused (naming the first)
    /// until the first's membership lapses or it leaves; then the old incarnation is refused.
    @Test(arguments: CatalogBackend.allCases)
    func aLiveNodeIDCannotBeJoinedByAnotherProcess(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        var first = BackendFixture.node("dup")
        first.host = "host-a"
        let a = NodeIdentity(nodeID: "dup", incarnation: try await b.catalog.raw.join(first, ttl: 30).incarnation)
        var second = BackendFixture.node("dup")
        second.host = "host-b"
        do {
            _ = try await b.catalog.raw.join(second, ttl: 30)
            Issue.record("a second process joined under a live node id")
        } catch let error as CatalogError where error.code == .nodeIDInUse {
            #expect(error.message.contains("host-a"), "the refusal names the live member: \(error)")
        }
        // A made-up incarnation is no way in either.
        second.incarnation = "guessed"
        await #expect(throws: CatalogError.self) { _ = try await b.catalog.raw.join(second, ttl: 30) }
        #expect(try await b.catalog.raw.heartbeat(a, ttl: 30), "the first process is untouched")

        // Its membership lapses (a crash): the id is free again, under a new incarnation.
        _ = try await b.catalog.raw.heartbeat(a, ttl: 0.05)
        try b.advance(by: 0.3)
        second.incarnation = nil
        let b2 = NodeIdentity(nodeID: "dup", incarnation: try await b.catalog.raw.join(second, ttl: 30).incarnation)
        #expect(b2.incarnation != a.incarnation)
        await #expect(throws: CatalogError.self) { _ = try await b.catalog.raw.heartbeat(a, ttl: 30) }
        do {
            _ = try await b.catalog.raw.claim(ClaimRequest(a, limit: 1))
            Issue.record("the old incarnation claimed")
        } catch let error as CatalogError where error.code == .wrongIncarnation {}
        #expect(try await b.catalog.raw.heartbeat(b2, ttl: 30))
        // After a graceful leave the id is free at once.
        try await b.catalog.raw.leave(b2)
        #expect(try await b.catalog.raw.join(first, ttl: 30).incarnation != b2.incarnation)
    }

    /// Leader operations are accepted from the lease holder's incarnation only.
    @Test(arguments: CatalogBackend.allCases)
    func onlyTheLeaseHoldersIncarnationActsAsLeader(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(2)
        let l = NodeIdentity(nodeID: "l", incarnation: try await b.catalog.raw.join(BackendFixture.node("l"), ttl: 30).incarnation)
        let lease = try await b.catalog.raw.campaign(l, ttl: 30)
        #expect(lease.liveHolder == "l")
        let impostor = NodeIdentity(nodeID: "l", incarnation: "guessed")
        for attempt in [
            { _ = try await b.catalog.raw.renewLeadership(impostor, term: lease.term, ttl: 30) },
            { try await b.catalog.raw.resign(impostor, term: lease.term) },
            { _ = try await b.catalog.raw.campaign(impostor, ttl: 30) },
        ] as [@Sendable () async throws -> Void] {
            await #expect(throws: CatalogError.self) { try await attempt() }
        }
        let plan = LeaderPlan(leader: impostor, term: lease.term, assignments: images.map { ($0.id, "l") }, moves: [])
        #expect(try await b.catalog.raw.apply(plan) == false, "a round under another incarnation writes nothing")
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 10, scan: .full(after: nil)).unassigned.count == 2)
        #expect(try await b.catalog.raw.renewLeadership(l, term: lease.term, ttl: 30))
        #expect(try await b.catalog.raw.apply(LeaderPlan(leader: l, term: lease.term, assignments: images.map { ($0.id, "l") }, moves: [])))
    }

    /// A completion marks only locations of the image it names, and audits only what changed:
    /// the audit is a "deleted exactly once" record, whatever is replayed.
    @Test(arguments: CatalogBackend.allCases)
    func aCompletionWritesOnlyWhatItChanges(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(2)
        try await b.join("w")
        try await b.leadAndAssign("w")
        let claimed = try await b.claimAll("w")
        try #require(claimed.count == 2)
        let (x, y) = (claimed[0], claimed[1])
        // X's outcome names Y's location as deleted too.
        var crossed = Self.outcome(x)
        crossed.locations.append(LocationResult(locationID: y.locations[0].id, store: "file", outcome: .deleted))
        let w = b.catalog.identity("w")
        let report = try await b.catalog.raw.complete([crossed], node: w, backoff: Backoff())
        #expect(report.imagesDeleted == [x.imageID])
        #expect(report.locationsDeleted == x.locations.count, "Y's location is not X's to mark")
        #expect(
            try await b.catalog.restorePlan(imageID: y.imageID).locations.map(\.id) == y.locations.map(\.id),
            "Y's locations stay pending"
        )

        // The same outcome again (twice, so that the service's replay cache does not answer it
        // from the first try): nothing changes, nothing is audited.
        let replay = try await b.catalog.raw.complete([crossed, crossed], node: w, backoff: Backoff())
        #expect(replay.claimsLost == [x.imageID, x.imageID] && replay.locationsDeleted == 0)
        let done = try await b.catalog.raw.complete([Self.outcome(y)], node: w, backoff: Backoff())
        #expect(done.imagesDeleted == [y.imageID])
        let again = try await b.catalog.raw.complete([Self.outcome(y), Self.outcome(x)], node: w, backoff: Backoff())
        #expect(again.locationsDeleted == 0 && again.imagesDeleted.isEmpty)
        let locations = try b.count("SELECT count(*) FROM scrub_events WHERE action IN ('deleted', 'not_found')")
        #expect(locations == x.locations.count + y.locations.count, "one audit row per location deleted")
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'image_deleted'") == 2, "one per image deleted")
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE location_id = \(y.locations[0].id)") == 1)
    }

    // MARK: No lost image (§3.6)

    @Test(arguments: CatalogBackend.allCases)
    func remainingWorkCountsEverythingAOneShotRunMustWaitFor(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(4)
        _ = try await b.seed(2) { $0.deletedAgo = 5 }  // inside scrub_time
        try await b.join("w")
        let start = try await b.catalog.join(BackendFixture.node("w"), ttl: 30).storeTime
        #expect(try await b.catalog.remainingWork(scrubTime: 60, nodeID: "w", runStartedAt: start) == 4)
        try await b.leadAndAssign("w", scrubTime: 60)
        let claimed = try await b.claimAll("w")
        #expect(try await b.catalog.remainingWork(scrubTime: 60, nodeID: "w", runStartedAt: start) == 4, "being scrubbed")
        let fail = claimed.prefix(1).map {
            ScrubOutcome(
                imageID: $0.imageID,
                previousAttempts: 0,
                locations: [LocationResult(locationID: $0.locations[0].id, store: nil, outcome: .failed("x"))]
            )
        }
        _ = try await b.catalog.complete(fail, nodeID: "w", backoff: Backoff(base: 600, max: 600))
        _ = try await b.completeAll(Array(claimed.dropFirst()), node: "w")
        #expect(
            try await b.catalog.remainingWork(scrubTime: 60, nodeID: "w", runStartedAt: start) == 0,
            "the image that failed during this run waits out its backoff"
        )
        #expect(images.count == 4)
    }

    // MARK: Status

    @Test(arguments: CatalogBackend.allCases)
    func statusReportsTheLeaderNodesAndBacklog(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(5)
        _ = try await b.seed(2) { $0.deletedAgo = 5 }
        try await b.join("a")
        try await b.join("b", eligible: false)
        let term = try await b.leadAndAssign("a", to: ["b"], scrubTime: 60)
        _ = try await b.catalog.claim(ClaimRequest(nodeID: "b", limit: 2))
        let status = try await b.catalog.status(scrubTime: 60, failureLimit: 10)
        #expect(status.leader?.nodeID == "a")
        #expect(status.leader?.term == term)
        #expect((status.leader?.leaseRemainingSeconds ?? 0) > 10, "a 30 s lease, taken moments ago (slack for a loaded machine)")
        let nodeB = try #require(status.nodes.first { $0.nodeID == "b" })
        #expect(nodeB.assigned == 3)
        #expect(nodeB.scrubbing == 2)
        #expect(nodeB.alive)
        #expect(nodeB.leaderEligible == false)
        #expect(status.backlog.eligible == 5)
        #expect(status.backlog.waiting == 2)
        try await b.catalog.resign(nodeID: "a", term: term)
        #expect(try await b.catalog.status(scrubTime: 60, failureLimit: 10).leader == nil)
    }
}

extension CatalogConformanceTests {
    @Test(arguments: CatalogBackend.allCases)
    func aRebalanceMovesOnlyUnclaimedWorkFromABusyNodeToAnIdleOne(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        _ = try await b.seed(40)
        try await b.join("busy")
        try await b.join("idle")
        let term = try await b.leadAndAssign("leader", to: ["busy"])
        let claimed = try await b.catalog.claim(ClaimRequest(nodeID: "busy", limit: 10))
        let plan = LeaderPlan(
            leader: "leader",
            term: term,
            assignments: [],
            moves: [],
            rebalances: [.init(from: "busy", to: "idle", count: 50)]
        )
        #expect(try await b.catalog.apply(plan))
        let moved = try await b.claimAll("idle")
        #expect(moved.count == 30, "all 30 unclaimed images moved, none of the 10 being scrubbed")
        #expect(Set(moved.map(\.imageID)).isDisjoint(with: claimed.map(\.imageID)))
        #expect(try await b.claimAll("busy").isEmpty)
        // A stale leader cannot rebalance.
        #expect(
            try await b.catalog.apply(
                LeaderPlan(
                    leader: "leader",
                    term: term - 1,
                    assignments: [],
                    moves: [],
                    rebalances: [.init(from: "idle", to: "busy", count: 5)]
                )
            ) == false
        )
    }
}
