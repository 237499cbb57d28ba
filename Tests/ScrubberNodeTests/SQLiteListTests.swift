import Foundation
import GRDB
import ScrubberCore
import ScrubberSQLite
import Testing

/// SQLite passes lists and rows as one JSON parameter (`json_each`): what goes in must come out
/// byte for byte, whatever the text, or the audit would record something else than happened.
@Suite struct SQLiteListTests {
    @Test func auditDetailsAndIdsSurviveTheJSONListsUnchanged() async throws {
        let box = try await Sandbox()
        let images = try await box.seed(3)
        let joined = try await box.catalog.join(
            NodeRegistration(nodeID: "w \"1\"", host: "h", pid: 1, version: "t", capacity: 4, leaderEligible: true),
            ttl: 30
        )
        let w = NodeIdentity(nodeID: "w \"1\"", incarnation: joined.incarnation)
        let term = try await box.catalog.campaign(w, ttl: 30).term
        #expect(try await box.catalog.apply(LeaderPlan(leader: w, term: term, assignments: images.map { ($0.id, "w \"1\"") }, moves: [])))
        let claimed = try await box.catalog.claim(ClaimRequest(w, limit: 10))
        #expect(Set(claimed.map(\.imageID)) == Set(images.map(\.id)))
        let details = ["quote \" and back\\slash", "line\nbreak\ttab\u{1}ctl", "é 日本 🧽 \u{7f}"]
        let outcomes = zip(claimed, details).map { image, detail in
            ScrubOutcome(image, locations: [LocationResult(locationID: image.locations[0].id, store: "st\"ore", outcome: .failed(detail))])
        }
        let report = try await box.catalog.complete(outcomes, node: w, backoff: Backoff(base: 60, max: 60))
        #expect(Set(report.imagesFailed) == Set(images.map(\.id)))
        for (image, detail) in zip(claimed, details) {
            let row = try #require(
                try box.row(
                    "SELECT node_id, store, detail, location_id FROM scrub_events WHERE image_id = ? AND action = 'failed'",
                    [image.imageID]
                )
            )
            #expect(row[0] as String == "w \"1\"")
            #expect(row[1] as String == "st\"ore")
            #expect(row[2] as String == detail)
            #expect(row[3] as Int64 == image.locations[0].id)
        }
    }
}
