import Foundation
import TestSupport
import Testing

/// The cluster on PostgreSQL: a server of the test's own, which it may stop and start.
@Suite(.serialized, .tags(.spawnsProcesses, .startsServers)) struct PostgresClusterTests {
    @Test func threeNodesSurviveAKilledLeaderAndADatabaseRestartAndFinishEverything() async throws {
        let cluster = try await ProcessCluster(.postgresql)
        let ids = try await cluster.seed(2000)
        for n in 1...3 { try cluster.start("n\(n)") }
        try await cluster.waitFor("a leader") { try cluster.liveLeader() != nil }
        try await cluster.waitFor("work in flight") { try cluster.pending() < 1900 }

        // The leader dies.
        let old = try #require(try cluster.liveLeader())
        kill(cluster.nodes[old.holder]!.process.processIdentifier, SIGKILL)
        try await cluster.waitFor("a new leader") {
            guard let now = try cluster.liveLeader() else { return false }
            return now.holder != old.holder && now.term > old.term
        }
        // How fast is a benchmark's question (BENCHMARKS.md, FAILOVER_PG=1 cluster/failover-bench).

        // The database restarts under the survivors, longer than their node_ttl.
        let before = try cluster.pending()
        #expect(before > 0, "the restart must happen mid-run")
        let server = try #require(cluster.server)
        try await PostgresTestServer.offload { try server.stop(mode: "fast") }
        try await Task.sleep(for: .seconds(3))
        for (id, node) in cluster.nodes where id != old.holder {
            #expect(node.process.isRunning, "\(id) must keep running while the database is down")
        }
        try await PostgresTestServer.offload { try server.startServer() }

        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }
        let list = ids.map { "'\($0)'" }.joined(separator: ",")
        #expect(try cluster.scalar("SELECT count(*) FROM images WHERE status = 'deleted' AND id IN (\(list))") == "\(ids.count)")
        #expect(try cluster.scalar("SELECT count(*) FROM image_locations WHERE status != 'deleted'") == "0")
        #expect(try cluster.scalar("SELECT count(*) FROM scrub_assignments") == "0")
        #expect(
            try cluster.count("SELECT count(*) FROM scrub_events WHERE action = 'reassigned' AND detail LIKE 'from \(old.holder) %'") > 0,
            "the killed node held work that others finished"
        )
        #expect(try cluster.liveLeader() != nil, "a leader again after the restart")
        let results = try await cluster.stopAll()
        for (id, result) in results where id != old.holder {
            #expect(result.status == 0, "\(id): \(result.stderr.suffix(2000))")
        }
    }

    @Test func dryRunStatusAndRestoreWorkOnPostgreSQL() async throws {
        let cluster = try await ProcessCluster(.postgresql)
        let ids = try await cluster.seed(3)
        let before = try cluster.scalar(
            "SELECT md5(string_agg(i.id || i.status || l.status, ',' ORDER BY i.id)) FROM images i JOIN image_locations l ON l.image_id = i.id"
        )
        let dry = try await CLI.run(["run", "--once", "--dry-run", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(dry.status == 0, "\(dry.stderr)")
        for id in ids { #expect(dry.stdout.contains(id), "the dry run lists \(id)") }
        #expect(
            try cluster.scalar(
                "SELECT md5(string_agg(i.id || i.status || l.status, ',' ORDER BY i.id)) FROM images i JOIN image_locations l ON l.image_id = i.id"
            ) == before
        )
        #expect(
            try cluster.scalar(
                "SELECT (SELECT count(*) FROM scrub_nodes) + (SELECT count(*) FROM scrub_events) + (SELECT count(*) FROM scrub_assignments)"
            ) == "0",
            "a dry run writes nothing"
        )
        let restore = try await CLI.run(["restore", "--config-file", cluster.config, ids[0]], in: cluster.ws.directory)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try cluster.scalar("SELECT status FROM images WHERE id = '\(ids[0])'") == "active")
        let status = try await CLI.run(["status", "--json", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(status.status == 5, "no leader yet: \(status.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["backlog"] as? [String: Any])?["eligible"] as? Int == 2)
        let once = try await CLI.run(["run", "--once", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(once.status == 0, "\(once.stderr)")
        #expect(try cluster.pending() == 0)
    }
}
