import Foundation
import ScrubberCore
import Testing

/// The decisions every SQL backend's completion makes, without a database: which claims an
/// outcome completes, which locations it may mark, and what it audits.
@Suite struct CompletionBatchTests {
    static func outcome(_ image: String, token: String?, _ locations: [(Int64, LocationOutcome)]) -> ScrubOutcome {
        ScrubOutcome(
            imageID: image,
            claimToken: token,
            previousAttempts: 0,
            locations: locations.map { LocationResult(locationID: $0.0, store: "s", outcome: $0.1) }
        )
    }

    static let held: [String: CompletionBatch.HeldClaim] = [
        "x": .init(term: 3, imageStatus: "pending_delete", claimToken: "x-new"),
        "y": .init(term: 3, imageStatus: "pending_delete", claimToken: "y-1"),
    ]

    @Test func onlyTheOutcomeThatNamesTheHeldClaimCompletesIt() {
        // A stale outcome of x (an earlier claim) before the current one, in one batch.
        let batch = CompletionBatch(
            [
                Self.outcome("x", token: "x-old", [(1, .failed("permit withdrawn"))]),
                Self.outcome("x", token: "x-new", [(1, .deleted)]),
                Self.outcome("y", token: nil, [(2, .deleted)]),
            ],
            nodeID: "n",
            backoff: Backoff()
        )
        let decision = batch.decide(held: Self.held)
        #expect(decision.candidates == ["x"])
        let finish = batch.finish(decision, held: Self.held, deleted: ["x"], changedLocations: [1, 2])
        #expect(finish.report.imagesDeleted == ["x"])
        #expect(finish.report.claimsLost == ["x", "y"], "the stale x and the untokened y")
        #expect(finish.failures.isEmpty, "the stale failure is not recorded")
        #expect(finish.events.map(\.action) == [.deleted, .imageDeleted, .deleted])
        #expect(finish.events.filter { $0.action == .failed }.isEmpty)
    }

    @Test func aFailureIsRecordedUnderTheClaimItNames() {
        let batch = CompletionBatch(
            [Self.outcome("y", token: "y-1", [(2, .failed("timeout")), (3, .notFound)])],
            nodeID: "n",
            backoff: Backoff(base: 10, max: 10)
        )
        let decision = batch.decide(held: Self.held)
        let finish = batch.finish(decision, held: Self.held, deleted: [], changedLocations: [3])
        #expect(finish.failures.map(\.claimToken) == ["y-1"])
        #expect(finish.failures.first?.delay == 10)
        #expect(finish.report.imagesFailed == ["y"])
        #expect(finish.events.map(\.action) == [.failed, .notFound])
    }

    @Test func goneLocationsNameTheirImageAndOnlyChangedRowsAreAudited() {
        let batch = CompletionBatch(
            [
                Self.outcome("x", token: "x-new", [(1, .deleted), (9, .deleted)]),
                Self.outcome("x", token: "x-new", [(1, .deleted)]),
            ],
            nodeID: "n",
            backoff: Backoff()
        )
        #expect(batch.goneLocations.map(\.locationID) == [1, 9])
        #expect(batch.goneLocations.allSatisfy { $0.imageID == "x" })
        // The store changed location 1 only (9 is not x's, or was already deleted).
        let decision = batch.decide(held: Self.held)
        let finish = batch.finish(decision, held: Self.held, deleted: ["x"], changedLocations: [1])
        #expect(finish.report.locationsDeleted == 1)
        #expect(finish.events.filter { $0.action == .deleted }.map(\.locationID) == [1], "once, and not 9")
        #expect(finish.report.claimsLost == ["x"], "the repeat")
    }

    @Test func statusJSONHasEveryDocumentedKeyEvenWhenUnknown() throws {
        let status = ClusterStatus(
            leader: nil,
            nodes: [],
            backlog: .init(eligible: 0, waiting: 0, oldestAgeSeconds: nil, failing: 1),
            failures: [.init(imageID: "i", attempts: 1, lastError: nil)]
        )
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any])
        #expect(Set(object.keys) == ["leader", "paused", "nodes", "backlog", "failing_by_class", "failures", "history"])
        #expect(object["leader"] is NSNull)
        #expect(object["paused"] is NSNull, "running: paused is null")
        let backlog = try #require(object["backlog"] as? [String: Any])
        #expect(Set(backlog.keys) == ["eligible", "waiting", "oldest_age_s", "failing", "bytes", "stores"])
        #expect(backlog["oldest_age_s"] is NSNull)
        let failure = try #require((object["failures"] as? [[String: Any]])?.first)
        #expect(Set(failure.keys) == ["image_id", "attempts", "last_error", "class", "store", "dependents"])
        #expect(failure["last_error"] is NSNull && failure["class"] is NSNull)
        let history = try #require(object["history"] as? [String: Any])
        #expect(Set(history.keys) == ["minutes", "leader_changes"])
        #expect((history["minutes"] as? [[String: Any]])?.count == 60)
    }

    /// A paused cluster's `paused`: an object with `since` (ISO 8601) and `by` (host, user),
    /// read back as written; a document from a service of an earlier version (no `paused`,
    /// `history`, classes) still decodes.
    @Test func statusJSONCarriesThePauseAndReadsOlderDocuments() throws {
        var status = ClusterStatus(
            leader: nil,
            nodes: [],
            backlog: .init(eligible: 0, waiting: 0, oldestAgeSeconds: nil, failing: 0),
            failures: []
        )
        status.paused = PauseState(since: 1_796_462_400, by: Operator(host: "ops", user: "alice"))
        let data = try JSONEncoder().encode(status)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paused = try #require(object["paused"] as? [String: Any])
        #expect(paused["since"] as? String == "2026-12-05T09:20:00Z")
        #expect(paused["by"] as? [String: String] == ["host": "ops", "user": "alice"])
        #expect(try JSONDecoder().decode(ClusterStatus.self, from: data) == status)
        let older =
            #"{"leader":null,"nodes":[],"backlog":{"eligible":1,"waiting":0,"oldest_age_s":null,"failing":1},"failures":[{"image_id":"i","attempts":2,"last_error":"x"}]}"#
        let decoded = try JSONDecoder().decode(ClusterStatus.self, from: Data(older.utf8))
        #expect(decoded.paused == nil && decoded.history == .empty && decoded.failures.first?.attempts == 2)
    }

    /// The class of a failure a node of an earlier version reports only in its message.
    @Test func aFailureIsClassedByItsFirstWordAndBacksOffByItsClass() {
        #expect(FailureClass(classifying: "in_use: rbd image a/b is in use") == .inUse)
        #expect(FailureClass(classifying: "misconfigured: 403") == .misconfigured)
        #expect(FailureClass(classifying: "boom") == .transient)
        #expect(FailureClass(classifying: "weird: a colon") == .transient)
        let backoff = Backoff(base: 2, max: 600, wakeupTime: 300, throttledMin: 10, inUseBase: 300, inUseMax: 21_600)
        #expect(backoff.delay(afterAttempts: 3, class: .transient) == 8)
        #expect(backoff.delay(afterAttempts: 1, class: .throttled) == 10)
        #expect(backoff.delay(afterAttempts: 10, class: .throttled) == 600)
        #expect(backoff.delay(afterAttempts: 1, class: .inUse) == 300)
        #expect(backoff.delay(afterAttempts: 20, class: .inUse) == 21_600, "hours")
        #expect(backoff.delay(afterAttempts: 1, class: .misconfigured) == 300)
        #expect(backoff.delay(afterAttempts: 9, class: .unsupported) == 300, "once per wakeup_time, however often it failed")
        // A node of an earlier version sends base and max only.
        let old = try? JSONDecoder().decode(Backoff.self, from: Data(#"{"base":1,"max":5}"#.utf8))
        #expect(old == Backoff(base: 1, max: 5))
    }
}
