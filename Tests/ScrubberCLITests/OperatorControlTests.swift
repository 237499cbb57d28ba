import Foundation
import ScrubberCore
import TestSupport
import Testing

/// `scrubber pause`, `resume`, `drain`, `undrain` and `step-down` against a running 3-node
/// cluster of real processes. They wait for events (rows of the catalog, heartbeats that show
/// the loops ran), never for time; how soon a pause takes hold is measured, not asserted (it is
/// printed, and in BENCHMARKS.md).
@Suite(.serialized, .tags(.spawnsProcesses)) struct OperatorControlTests {
    static func control(_ cluster: ProcessCluster, _ arguments: [String]) async throws -> CLI.Result {
        try await CLI.run(arguments + ["--config-file", cluster.config], in: cluster.ws.directory)
    }

    @Test(arguments: [ProcessCluster.Catalog.sqlite, .postgresql])
    func pauseStopsNewClaimsAndResumeRestartsThem(_ catalog: ProcessCluster.Catalog) async throws {
        let cluster = try await ProcessCluster(catalog, latency: 0.01)
        let ids = try await cluster.seed(3000)
        for n in 1...3 { try cluster.start("n\(n)") }
        try await cluster.waitFor("work in flight") { try cluster.pending() < 2900 }

        let paused = try await Self.control(cluster, ["pause"])
        #expect(paused.status == 0 && paused.stdout.hasPrefix("paused by "), "\(paused.stderr)")
        let since = try #require(try cluster.scalar("SELECT paused_at FROM scrub_leader WHERE id = 1").flatMap(Double.init))
        // Deletes in flight finish; then nothing is claimed while the nodes keep running.
        try await cluster.waitFor("in-flight deletes finished") {
            try cluster.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing'") == 0
        }
        let left = try cluster.pending()
        #expect(left > 0, "paused with work left")
        for n in 1...3 { try await cluster.heartbeats(of: "n\(n)", 3) }
        #expect(try cluster.count("SELECT count(*) FROM scrub_assignments WHERE claimed_at > \(since)") == 0, "no claim after the pause")
        #expect(try cluster.pending() == left, "nothing scrubbed while paused")
        let last = try cluster.scalar("SELECT max(at) FROM scrub_events WHERE action = 'image_deleted'").flatMap(Double.init) ?? since
        print("pause (\(catalog)): the last delete in flight finished \(String(format: "%.3f", max(0, last - since))) s after the pause")

        let status = try await Self.control(cluster, ["status", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let by = try #require((object["paused"] as? [String: Any])?["by"] as? [String: String])
        #expect(by["host"] == ProcessInfo.processInfo.hostName && by["user"]?.isEmpty == false)
        #expect(try await Self.control(cluster, ["status"]).stdout.contains("PAUSED since "))
        #expect(try await Self.control(cluster, ["pause"]).stdout.hasPrefix("already paused since "))
        // A one-shot run on a paused cluster claims nothing, ends, and says why.
        let once = try await Self.control(cluster, ["run", "--once", "--node-id", "cron"])
        #expect(once.status == 0 && once.stderr.contains("the cluster is paused since "), "\(once.stderr)")
        #expect(try cluster.pending() == left)

        let resumed = try await Self.control(cluster, ["resume"])
        #expect(resumed.status == 0 && resumed.stdout.hasPrefix("resumed by "))
        try await cluster.waitFor("every image scrubbed after the resume") { try cluster.pending() == 0 }
        for id in ids.prefix(50) { #expect(try cluster.scalar("SELECT status FROM images WHERE id = '\(id)'") == "deleted") }
        #expect(try cluster.count("SELECT count(*) FROM scrub_events WHERE action IN ('paused', 'resumed')") == 2)
        let results = try await cluster.stopAll()
        for (id, r) in results { #expect(r.status == 0, "\(id): \(r.stderr)") }
    }

    @Test func drainMovesANodesQueueToTheOthersUntilUndrained() async throws {
        let cluster = try await ProcessCluster(latency: 0.02)
        _ = try await cluster.seed(3000)
        for n in 1...3 { try cluster.start("d\(n)") }
        try await cluster.waitFor("d2 has a queue") {
            try cluster.count("SELECT count(*) FROM scrub_assignments WHERE node_id = 'd2' AND state = 'assigned'") > 0
        }
        let drained = try await Self.control(cluster, ["drain", "d2"])
        #expect(drained.status == 0 && drained.stdout.contains("node d2 drained by "), "\(drained.stderr)")
        try await cluster.waitFor("d2 holds nothing") {
            try cluster.count("SELECT count(*) FROM scrub_assignments WHERE node_id = 'd2'") == 0
        }
        #expect(try cluster.pending() > 0, "drained while work was left")
        try await cluster.heartbeats(of: "d2", 3, state: "draining")
        let done = try cluster.count("SELECT done FROM scrub_nodes WHERE node_id = 'd2'")
        #expect(try cluster.count("SELECT count(*) FROM scrub_assignments WHERE node_id = 'd2'") == 0, "it takes no new work")
        // Its queue went to the others.
        try await cluster.waitFor("the others scrub d2's share") {
            try cluster.count("SELECT count(*) FROM scrub_assignments WHERE node_id IS NULL") == 0 && cluster.pending() < 2000
        }
        let status = try await Self.control(cluster, ["status"])
        #expect(status.stdout.contains("draining (by "), "\(status.stdout)")
        #expect(try cluster.count("SELECT done FROM scrub_nodes WHERE node_id = 'd2'") == done)

        #expect(try await Self.control(cluster, ["drain", "nosuch"]).status == 6)
        let undrained = try await Self.control(cluster, ["undrain", "d2"])
        #expect(undrained.status == 0 && undrained.stdout.contains("node d2 undrained by "))
        try await cluster.waitFor("d2 scrubs again") { try cluster.count("SELECT done FROM scrub_nodes WHERE node_id = 'd2'") > done }
        #expect(try await Self.control(cluster, ["undrain", "d2"]).status == 6, "not drained any more")
        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }
        #expect(try cluster.count("SELECT count(*) FROM scrub_events WHERE action IN ('drained', 'undrained') AND node_id = 'd2'") == 2)
        let results = try await cluster.stopAll()
        for (id, r) in results { #expect(r.status == 0, "\(id): \(r.stderr)") }
    }

    /// The leader resigns at once and the next one is the live eligible node of the highest
    /// `leader_priority` among the others, under a new term.
    @Test func stepDownHandsTheLeadToTheNextPreferredNodeUnderANewTerm() async throws {
        let cluster = try await ProcessCluster(leaseTTL: 30, nodeTTL: 2)
        _ = try await cluster.seed(200)
        try cluster.start("s1", ["--leader-priority", "5"])
        try cluster.start("s2", ["--leader-priority", "1"])
        try cluster.start("s3", ["--leader-priority", "3"])
        try await cluster.waitFor("s1 leads") { try cluster.liveLeader()?.holder == "s1" }
        let before = try #require(try cluster.liveLeader())
        let result = try await Self.control(cluster, ["step-down"])
        #expect(result.status == 0 && result.stdout.contains("leader s1 (term \(before.term)) resigned"), "\(result.stderr)")
        // A 30 s lease: a new leader this side of it means the lease was given up, not run out.
        try await cluster.waitFor("a new leader") { (try cluster.liveLeader()?.term ?? 0) > before.term }
        let after = try #require(try cluster.liveLeader())
        #expect(after.holder == "s3", "the highest priority of the others")
        #expect(
            try cluster.count(
                "SELECT count(*) FROM scrub_events WHERE action = 'stepped_down' AND node_id = 's1' AND term = \(before.term)"
            ) == 1
        )
        // `scrubber elections` lists both, newest first.
        let listed = try await Self.control(cluster, ["elections", "--json"])
        let elections = try JSONDecoder().decode([Election].self, from: Data(listed.stdout.utf8))
        #expect(listed.status == 0 && elections.prefix(2).map(\.nodeID) == ["s3", "s1"], "\(listed.stdout) \(listed.stderr)")
        #expect(elections.first?.term == after.term)
        let results = try await cluster.stopAll()
        for (id, r) in results { #expect(r.status == 0, "\(id): \(r.stderr)") }
    }
}
