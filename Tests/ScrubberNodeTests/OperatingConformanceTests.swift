import Foundation
import ScrubberCore
import Testing

/// Operating the cluster (DESIGN §7), on every backend: failure classes on every surface and
/// their backoffs, the bytes of the backlog, the last hour, and the operator's commands (pause,
/// drain, step-down), each kept in the catalog and audited.
@Suite struct OperatingConformanceTests {
    static let operator_ = Operator(host: "ops-host", user: "alice")

    static func control(_ b: BackendFixture, _ action: ControlRequest.Action, node: String? = nil) async throws -> ControlAnswer {
        try await b.catalog.raw.control(ControlRequest(action, nodeID: node, by: operator_))
    }

    // MARK: Failure classes

    @Test(arguments: CatalogBackend.allCases)
    func aFailureKeepsItsClassStoreAndDependentsAndBacksOffByClass(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(4)
        try await b.join("w", ttl: 1000)
        try await b.leadAndAssign("w")
        let claimed = Dictionary(uniqueKeysWithValues: try await b.claimAll("w").map { ($0.imageID, $0) })
        func failed(
            _ index: Int,
            _ store: String,
            _ message: String,
            _ failureClass: FailureClass?,
            _ dependents: [String] = []
        ) throws -> ScrubOutcome {
            let image = try claimed[images[index].id].unwrap("claim of image \(index)")
            return ScrubOutcome(
                imageID: image.imageID,
                previousAttempts: 0,
                locations: [
                    LocationResult(
                        locationID: image.locations[0].id,
                        store: store,
                        outcome: .failed(message),
                        failureClass: failureClass,
                        dependents: dependents
                    )
                ]
            )
        }
        let outcomes = [
            try failed(
                0,
                "ceph",
                "in_use: rbd image images/a on ceph is in use (its snapshot snap has clones: vms/child-1); not deleted",
                .inUse,
                ["vms/child-1"]
            ),
            try failed(1, "s3", "misconfigured: HEAD b/k on s3 answered 403; not deleted", .misconfigured),
            try failed(2, "file", "transient: cannot delete /x: Input/output error", .transient),
            // A node of an earlier version sends no class: it is read from the message.
            try failed(3, "s3", "throttled: DELETE b/k on s3 answered 503; not deleted", nil),
        ]
        let backoff = Backoff(base: 1, max: 1, wakeupTime: 100, throttledMin: 10, inUseBase: 50, inUseMax: 50)
        #expect(try await b.catalog.complete(outcomes, nodeID: "w", backoff: backoff).imagesFailed.count == 4)

        // The class, store and dependents, in the backlog, the status and its JSON.
        let backlog = try await b.catalog.backlog(scrubTime: 0, failureLimit: 10)
        let byImage = Dictionary(uniqueKeysWithValues: backlog.failures.map { ($0.imageID, $0) })
        #expect(byImage[images[0].id]?.failureClass == .inUse)
        #expect(byImage[images[0].id]?.store == "ceph")
        #expect(byImage[images[0].id]?.dependents == ["vms/child-1"])
        #expect(byImage[images[1].id]?.failureClass == .misconfigured)
        #expect(byImage[images[2].id]?.failureClass == .transient)
        #expect(byImage[images[3].id]?.failureClass == .throttled)
        #expect(
            Set(backlog.failingGroups) == [
                FailingGroup(failureClass: .inUse, store: "ceph", images: 1),
                FailingGroup(failureClass: .misconfigured, store: "s3", images: 1),
                FailingGroup(failureClass: .transient, store: "file", images: 1),
                FailingGroup(failureClass: .throttled, store: "s3", images: 1),
            ]
        )
        let status = try await b.catalog.status(scrubTime: 0, failureLimit: 10)
        #expect(status.failingByClass.count == 4)
        #expect(status.failures.first { $0.imageID == images[0].id }?.dependents == ["vms/child-1"])
        let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
        #expect(json.contains(#""class":"in_use""#) && json.contains(#""dependents":["vms\/child-1"]"#))
        // And in the audit row.
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'failed' AND failure_class = 'in_use'") == 1)
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'failed' AND failure_class = 'throttled'") == 1)

        // Backoff by class: transient after `base`, throttled after `throttledMin`, in use after
        // `inUseBase`, misconfigured after `wakeup_time`.
        func claimable() async throws -> Set<String> {
            Set(try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 10)).map(\.imageID))
        }
        try b.advance(by: 2)
        #expect(try await claimable() == [images[2].id])
        try b.advance(by: 9)
        #expect(try await claimable() == [images[3].id])
        try b.advance(by: 40)
        #expect(try await claimable() == [images[0].id])
        try b.advance(by: 50)
        #expect(try await claimable() == [images[1].id])
    }

    // MARK: Bytes and history

    @Test(arguments: CatalogBackend.allCases)
    func theBacklogCountsBytesPerStoreAndTheHistoryCountsWhatWasReclaimed(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let named = try await b.seed(2) {
            $0.storeID = "fast"
            $0.fileBytes = 1000
        }
        _ = try await b.seed(3) {
            $0.fileBytes = 500
            $0.namePrefix = "plain"
        }
        _ = try await b.seed(1) {
            $0.deletedAgo = 10
            $0.namePrefix = "young"
        }  // inside scrub_time: not in the backlog
        let backlog = try await b.catalog.backlog(scrubTime: 60, failureLimit: 0)
        #expect(
            Set(backlog.stores) == [StoreBacklog(store: "fast", images: 2, bytes: 2000), StoreBacklog(store: nil, images: 3, bytes: 1500)]
        )
        #expect(backlog.bytes == 3500)
        let status = try await b.catalog.status(scrubTime: 60, failureLimit: 0).namingStores(default: "file")
        #expect(status.backlog.bytes == 3500)
        #expect(Set(status.backlog.stores.map(\.store)) == ["fast", "file"])

        try await b.join("w")
        try await b.leadAndAssign("w", scrubTime: 60)
        let claimed = try await b.claimAll("w").filter { Set(named.map(\.id)).contains($0.imageID) }
        #expect(try await b.completeAll(claimed, node: "w").imagesDeleted.count == 2)
        let history = try await b.catalog.status(scrubTime: 60, failureLimit: 0).history
        #expect(history.minutes.count == 60 && history.minutes.last?.ago == 0)
        #expect(history.minutes.reduce(0) { $0 + $1.images } == 2)
        #expect(history.minutes.reduce(0) { $0 + $1.bytes } == 2000)
        #expect(history.leaderChanges == 1)
        // An hour later the reclaimed images and the election have left the window.
        try b.advance(by: 3601)
        let later = try await b.catalog.status(scrubTime: 60, failureLimit: 0).history
        #expect(later.minutes.allSatisfy { $0.images == 0 } && later.leaderChanges == 0)
    }

    /// The audit's elections, newest first, by the store clock: who won which term, and only
    /// those of the window asked for.
    @Test(arguments: CatalogBackend.allCases)
    func electionsListWhoWonWhichTermNewestFirst(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        try await b.join("a")
        try await b.join("b")
        let first = try await b.catalog.campaign(nodeID: "a", ttl: 10)
        try b.advance(by: 11)  // a's lease lapses (memberships are 30 s)
        let second = try await b.catalog.campaign(nodeID: "b", ttl: 10)
        #expect(first.holder == "a" && second.holder == "b" && second.term == first.term + 1)
        try b.advance(by: 5)
        let elections = try await b.catalog.raw.elections(withinLast: 3600, limit: 10)
        #expect(elections.map(\.nodeID) == ["b", "a"])
        #expect(elections.map(\.term) == [second.term, first.term])
        #expect(elections.map { ($0.ageSeconds * 10).rounded() / 10 } == [5, 16])
        #expect(elections[0].at - elections[1].at > 10.9 && elections[0].detail == "lease_ttl 10.0 s")
        #expect(try await b.catalog.raw.elections(withinLast: 3600, limit: 1).map(\.nodeID) == ["b"])
        #expect(try await b.catalog.raw.elections(withinLast: 10, limit: 10).map(\.nodeID) == ["b"])
    }

    // MARK: Pause

    @Test(arguments: CatalogBackend.allCases)
    func whilePausedNothingIsClaimedOrAssignedUntilResumed(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(4)
        try await b.join("w")
        try await b.leadAndAssign("w")
        let first = try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 1))
        #expect(first.count == 1)

        let paused = try await Self.control(b, .pause)
        #expect(paused.changed && paused.paused?.by == Self.operator_)
        let again = try await Self.control(b, .pause)
        #expect(!again.changed && again.message.contains("already paused") && again.paused == paused.paused)
        #expect(try await b.catalog.claim(ClaimRequest(nodeID: "w", limit: 10)).isEmpty, "no claim while paused")
        #expect(try await b.catalog.leaderView(scrubTime: 0, limit: 10, scan: .full(after: nil)).paused)
        #expect(try await b.catalog.remainingWork(scrubTime: 0, nodeID: "w", runStartedAt: 0) == 0, "a one-shot run ends while paused")
        let status = try await b.catalog.status(scrubTime: 0, failureLimit: 0)
        #expect(status.paused?.by == Self.operator_)
        // A claim made before the pause finishes.
        #expect(try await b.completeAll(first, node: "w").imagesDeleted == first.map(\.imageID))

        let resumed = try await Self.control(b, .resume)
        #expect(resumed.changed && resumed.paused == nil)
        #expect(try await Self.control(b, .resume).changed == false)
        #expect(try await b.catalog.status(scrubTime: 0, failureLimit: 0).paused == nil)
        #expect(try await b.catalog.remainingWork(scrubTime: 0, nodeID: "w", runStartedAt: 0) == images.count - 1)
        #expect(try await b.claimAll("w").count == images.count - 1)
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'paused' AND detail = 'by alice@ops-host'") == 1)
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'resumed'") == 1)
    }

    // MARK: Drain

    @Test(arguments: CatalogBackend.allCases)
    func aDrainedNodeHandsBackItsQueueAndTakesNoWorkUntilUndrainedOrRejoined(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        let images = try await b.seed(6)
        try await b.join("w1")
        try await b.join("w2")
        try await b.leadAndAssign("leader", to: ["w1"])
        let inFlight = try await b.catalog.claim(ClaimRequest(nodeID: "w1", limit: 1))

        let drained = try await Self.control(b, .drain, node: "w1")
        #expect(drained.changed && drained.message.contains("5 unclaimed images handed back"))
        #expect(try await Self.control(b, .drain, node: "w1").changed == false, "already draining")
        #expect(try await Self.control(b, .drain, node: "nobody").changed == false)
        let node = try await b.catalog.status(scrubTime: 0, failureLimit: 0).nodes.first { $0.nodeID == "w1" }
        #expect(node?.state == "draining" && node?.drainedBy == "alice@ops-host" && node?.assigned == 0)
        #expect(try await b.catalog.claim(ClaimRequest(nodeID: "w1", limit: 10)).isEmpty, "a drained node claims nothing")
        // Its deletes in flight finish; its queue goes to the other node.
        #expect(try await b.completeAll(inFlight, node: "w1").imagesDeleted.count == 1)
        // The node's own rejoin (its membership lapsed, a claim failed) keeps the drain: only a restart ends it.
        try await b.join("w1")
        let rejoined = try await b.catalog.status(scrubTime: 0, failureLimit: 0).nodes.first { $0.nodeID == "w1" }
        #expect(rejoined?.state == "draining" && rejoined?.drainedBy == "alice@ops-host")
        try await b.leadAndAssign("leader", to: ["w2"])
        #expect(try await b.claimAll("w2").count == images.count - 1)

        #expect(try await Self.control(b, .undrain, node: "w1").changed)
        #expect(try await Self.control(b, .undrain, node: "w1").changed == false, "not drained any more")
        #expect(try await b.catalog.status(scrubTime: 0, failureLimit: 0).nodes.first { $0.nodeID == "w1" }?.state == "active")

        // A restart (a join under a new incarnation) ends a drain, even after a lapsed membership.
        #expect(try await Self.control(b, .drain, node: "w2").changed)
        try b.advance(by: 31)
        try await b.join("w2", ttl: 30)
        #expect(
            try await b.catalog.status(scrubTime: 0, failureLimit: 0).nodes.first { $0.nodeID == "w2" }?.state == "draining",
            "the same process, back after its membership lapsed"
        )
        try await b.catalog.leave(nodeID: "w2")
        _ = try await b.catalog.raw.join(BackendFixture.node("w2"), ttl: 30)
        let restarted = try await b.catalog.status(scrubTime: 0, failureLimit: 0).nodes.first { $0.nodeID == "w2" }
        #expect(restarted?.state == "active" && restarted?.drainedBy == nil)

        // A node that drains itself (it is stopping) is no operator's to undrain.
        try await b.join("w1")
        #expect(try await Self.control(b, .drain, node: "w1").changed)
        try await b.catalog.windDown(nodeID: "w1")
        #expect(try await Self.control(b, .undrain, node: "w1").changed == false, "undrain never revives a stopping node")
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'drained' AND node_id = 'w1'") == 2)
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'undrained' AND node_id = 'w1'") == 1)
    }

    // MARK: Step down

    @Test(arguments: CatalogBackend.allCases)
    func aSteppedDownLeaderYieldsToAnotherEligibleNodeUnderANewTerm(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        #expect(try await Self.control(b, .stepDown).changed == false, "no leader to step down")
        try await b.join("a")
        try await b.join("b")
        let lease = try await b.catalog.campaign(nodeID: "a", ttl: 30)
        #expect(lease.liveHolder == "a")

        let answer = try await Self.control(b, .stepDown)
        #expect(answer.changed && answer.message.contains("leader a (term \(lease.term)) resigned"))
        #expect(try await b.catalog.renewLeadership(nodeID: "a", term: lease.term, ttl: 30) == false, "its lease is gone")
        let plan = LeaderPlan(leader: b.catalog.identity("a"), term: lease.term, assignments: [], moves: [], sweep: SweepState(mark: "x"))
        #expect(try await b.catalog.raw.apply(plan) == false, "its term is fenced")
        #expect(try await b.catalog.campaign(nodeID: "a", ttl: 30).liveHolder == nil, "it does not simply take the lease back")
        let next = try await b.catalog.campaign(nodeID: "b", ttl: 30)
        #expect(next.liveHolder == "b" && next.term == lease.term + 1)
        #expect(try b.count("SELECT count(*) FROM scrub_events WHERE action = 'stepped_down' AND node_id = 'a'") == 1)

        // Alone, a stepped-down leader leads again at once (better a leader than none).
        #expect(try await Self.control(b, .stepDown).changed)
        try await b.catalog.leave(nodeID: "a")
        let alone = try await b.catalog.campaign(nodeID: "b", ttl: 30)
        #expect(alone.liveHolder == "b" && alone.term == next.term + 1)
    }

    /// A stepped-down node of a higher `leader_priority` does not take the lead back by its
    /// priority, until it restarts.
    @Test(arguments: CatalogBackend.allCases)
    func aSteppedDownPreferredNodeLeadsAgainOnlyAfterItRestarts(_ backend: CatalogBackend) async throws {
        let b = try await backend.make()
        func registration(_ id: String, priority: Int) -> NodeRegistration {
            NodeRegistration(nodeID: id, host: "test", pid: 1, version: "test", capacity: 4, leaderEligible: true, leaderPriority: priority)
        }
        try await b.catalog.join(registration("high", priority: 5), ttl: 30)
        try await b.catalog.join(registration("low", priority: 0), ttl: 30)
        #expect(try await b.catalog.campaign(nodeID: "high", ttl: 30).liveHolder == "high")
        #expect(try await Self.control(b, .stepDown).changed)
        let low = try await b.catalog.campaign(nodeID: "low", ttl: 30)
        #expect(low.liveHolder == "low", "the stepped-down node is preferred to none")
        #expect(try await b.catalog.renewLeadership(nodeID: "low", term: low.term, ttl: 30), "nor does it preempt by its priority")

        // A restart: a new incarnation (the membership left, a new process joins).
        try await b.catalog.leave(nodeID: "high")
        _ = try await b.catalog.raw.join(registration("high", priority: 5), ttl: 30)
        #expect(try await b.catalog.renewLeadership(nodeID: "low", term: low.term, ttl: 30) == false, "preferred again after its restart")
    }
}
