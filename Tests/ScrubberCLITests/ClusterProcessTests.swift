import Foundation
import GRDB
import TestSupport
import Testing

/// Leader election, failover and fencing with real processes. They assert events (terms, audit
/// rows, which process is still running), never how many seconds something took: deadlines
/// here are generous safety nets against a hang. How fast a failover or a hand-off is, is a
/// benchmark's question (`cluster/failover-bench`, figures in BENCHMARKS.md).
@Suite(.serialized, .tags(.spawnsProcesses)) struct ClusterProcessTests {
    /// `from` resigned `term` while it still held it, and `to` was elected to `term + 1` after
    /// that: a hand-over, not a lease left to run out (audit rows, in the store's clock).
    static func expectHandOver(_ cluster: ProcessCluster, from: String, to: String, term: Int64) throws {
        let (resigned, elected) = try cluster.ws.queue().read { db in
            (
                try Double.fetchOne(
                    db,
                    sql: "SELECT at FROM scrub_events WHERE action = 'resigned' AND node_id = ? AND term = ?",
                    arguments: [from, term]
                ),
                try Double.fetchOne(
                    db,
                    sql: "SELECT at FROM scrub_events WHERE action = 'elected' AND node_id = ? AND term = ?",
                    arguments: [to, term + 1]
                )
            )
        }
        let resignedAt = try #require(resigned, "\(from) resigned term \(term) while it held it")
        let electedAt = try #require(elected, "\(to) was elected to term \(term + 1)")
        #expect(electedAt >= resignedAt, "elected after the resignation")
    }

    @Test func aKilledLeaderIsReplacedWithAHigherTermAndItsWorkIsFinishedByOthers() async throws {
        let cluster = try await ProcessCluster()
        let ids = try await cluster.seed(1500)
        for n in 1...3 { try cluster.start("n\(n)") }
        try await cluster.waitFor("a leader") { try cluster.liveLeader() != nil }
        try await cluster.waitFor("work in flight") { try cluster.pending() < 1400 }
        let old = try #require(try cluster.liveLeader())
        cluster.signal(old.holder, SIGKILL)
        try await cluster.waitFor("a new leader") {
            guard let now = try cluster.liveLeader() else { return false }
            return now.holder != old.holder && now.term > old.term
        }
        // The dead leader never resigned: its lease had to run out before another took it.
        #expect(try cluster.ws.count("SELECT count(*) FROM scrub_events WHERE action = 'resigned' AND term = \(old.term)") == 0)
        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }
        for id in ids { #expect(try cluster.ws.status(id) == "deleted") }
        #expect(
            try cluster.ws.count("SELECT count(*) FROM scrub_events WHERE action = 'reassigned' AND detail LIKE 'from \(old.holder) %'")
                > 0,
            "the killed node held work that others finished"
        )
        let results = try await cluster.stopAll()
        for (id, result) in results where id != old.holder { #expect(result.status == 0, "\(id): \(result.stderr)") }
    }

    @Test func aPausedLeaderIsDeposedAndWhenResumedItsWritesAreRejectedAndItStepsDown() async throws {
        let cluster = try await ProcessCluster()
        let ids = try await cluster.seed(3000)
        for n in 1...3 { try cluster.start("p\(n)") }
        try await cluster.waitFor("a leader") { try cluster.liveLeader() != nil }
        try await cluster.waitFor("work in flight") { try cluster.pending() < 2900 }
        // SQLite has one write lock: a leader paused *inside* a write transaction stalls every
        // writer until it resumes (no one can depose it, and no one writes meanwhile). This test
        // is about a pause outside one, so a pause that stalls the cluster is undone and retried.
        var old = try #require(try cluster.liveLeader())
        var deposed = false
        for _ in 0..<5 where !deposed {
            old = try #require(try cluster.liveLeader())
            cluster.signal(old.holder, SIGSTOP)
            let paused = old
            // Deposed: a higher term leads. Stalled: the paused lease ran out two lease TTLs ago
            // (store clock) and no one could take it: undo the pause and try again.
            try await cluster.waitFor("a new leader, or a stalled cluster") {
                if let now = try cluster.liveLeader(), now.holder != paused.holder, now.term > paused.term { deposed = true }
                return try deposed
                    || cluster.count("SELECT count(*) FROM scrub_leader WHERE term = \(paused.term) AND expires_at + 4 < {now}") == 1
            }
            if !deposed {
                cluster.signal(old.holder, SIGCONT)
                try await cluster.waitFor("a live leader again") { try cluster.liveLeader() != nil }
            }
        }
        try #require(deposed, "the paused leader was never deposed in 5 tries")
        let electedAt = try await cluster.ws.queue().read { db in
            try Int64.fetchOne(db, sql: "SELECT max(id) FROM scrub_events WHERE action = 'elected'")!
        }
        let paused = old.holder
        try await cluster.waitFor("the paused node's membership to lapse too") { try cluster.membershipLapsed(paused) }
        cluster.signal(old.holder, SIGCONT)
        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }

        // Fencing: nothing was written under the old term after the new term began.
        #expect(
            try cluster.ws.count(
                "SELECT count(*) FROM scrub_events WHERE term = ? AND action IN ('reassigned', 'elected') AND id > ?",
                [old.term, electedAt]
            ) == 0
        )
        #expect(try cluster.ws.count("SELECT count(*) FROM scrub_assignments WHERE term = ?", [old.term]) == 0)
        let current = try #require(try cluster.liveLeader())
        #expect(current.term > old.term)
        for id in ids { #expect(try cluster.ws.status(id) == "deleted") }
        let results = try await cluster.stopAll()
        let resumed = try #require(results[old.holder])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            resumed.stderr.contains("stepped down") || resumed.stderr.contains("deposed")
                || resumed.stderr.contains("lost the leader lease"),
            "the resumed leader must notice it no longer leads: \(resumed.stderr)"
        )
        #expect(resumed.stderr.contains("rejoining"), "its membership had lapsed, so it rejoins: \(resumed.stderr)")
    }

    @Test func sigtermHandsLeadershipToAnotherNodeAtOnce() async throws {
        let cluster = try await ProcessCluster(.sqlite, leaseTTL: 6, nodeTTL: 5)
        _ = try await cluster.seed(200)
        try cluster.start("t1")
        try await cluster.waitFor("t1 leads") { try cluster.liveLeader()?.holder == "t1" }
        try cluster.start("t2")
        try await cluster.waitFor("t2 joined") { try cluster.ws.count("SELECT count(*) FROM scrub_nodes WHERE node_id = 't2'") == 1 }
        let old = try #require(try cluster.liveLeader())
        cluster.signal("t1", SIGTERM)
        try await cluster.waitFor("t2 leads") {
            guard let now = try cluster.liveLeader() else { return false }
            return now.holder == "t2" && now.term == old.term + 1
        }
        // Handed over, not run out: t1 resigned its term while it still held it (a resignation
        // of a lease already taken by another changes nothing and is not audited), and t2 was
        // elected after that resignation.
        try Self.expectHandOver(cluster, from: "t1", to: "t2", term: old.term)
        let t1 = try await CLI.wait(cluster.nodes["t1"]!.process, stdout: cluster.nodes["t1"]!.stdout, stderr: cluster.nodes["t1"]!.stderr)
        #expect(t1.status == 0, "\(t1.stderr)")
        #expect(try cluster.ws.count("SELECT count(*) FROM scrub_events WHERE action = 'resigned' AND node_id = 't1'") == 1)
        _ = try await cluster.stopAll()
    }

    @Test func statusReportsTheDocumentedJSONAndExitsFiveWithoutALeader() async throws {
        let cluster = try await ProcessCluster()
        _ = try await cluster.seed(300)
        for n in 1...3 { try cluster.start("s\(n)") }
        try await cluster.waitFor("a leader and three nodes") {
            try cluster.liveLeader() != nil && cluster.ws.count("SELECT count(*) FROM scrub_nodes WHERE state = 'active'") == 3
        }
        let result = try await CLI.run(["status", "--json", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let leader = try #require(object["leader"] as? [String: Any])
        #expect(Set(leader.keys) == ["node_id", "term", "lease_remaining_s"])
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.count == 3)
        for node in nodes {
            #expect(
                Set([
                    "node_id", "host", "pid", "state", "heartbeat_age_s", "alive", "capacity", "assigned", "scrubbing",
                    "done", "failed", "leader_eligible",
                ]).isSubset(of: Set(node.keys))
            )
        }
        let backlog = try #require(object["backlog"] as? [String: Any])
        #expect(Set(["eligible", "waiting", "oldest_age_s", "failing"]).isSubset(of: Set(backlog.keys)))
        #expect(object["failures"] is [Any])
        let table = try await CLI.run(["status", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(table.stdout.hasPrefix("leader: "))

        let results = try await cluster.stopAll()
        for (id, r) in results { #expect(r.status == 0, "\(id): \(r.stderr)") }
        let none = try await CLI.run(["status", "--json", "--config-file", cluster.config], in: cluster.ws.directory)
        #expect(none.status == 5)
        let after = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
        #expect(after["leader"] is NSNull)
        let keys = try #require(after["backlog"] as? [String: Any]).keys
        #expect(Set(keys) == ["eligible", "waiting", "oldest_age_s", "failing", "bytes", "stores"], "every key, null when unknown")
        #expect(after["paused"] is NSNull)
    }

    /// Two processes under one node id (two containers with one hostname): the second is
    /// refused while the first lives, names it and exits 1; the first is untouched. Once the
    /// first is gone, the id is free again.
    @Test func aSecondProcessUnderALiveNodeIDExitsNamingTheFirst() async throws {
        let cluster = try await ProcessCluster(.sqlite, nodeTTL: 1.5)
        _ = try await cluster.seed(50)
        try cluster.start("dup")
        try await cluster.waitFor("dup to join") { try cluster.ws.count("SELECT count(*) FROM scrub_nodes WHERE node_id = 'dup'") == 1 }
        func incarnation() throws -> String? {
            try cluster.ws.queue().read { db in try String.fetchOne(db, sql: "SELECT incarnation FROM scrub_nodes WHERE node_id = 'dup'") }
        }
        let first = try incarnation()
        let twin = try await CLI.run(["run", "--once", "--config-file", cluster.config, "--node-id", "dup"], in: cluster.ws.directory)
        #expect(twin.status == 1, "\(twin.stderr)")
        #expect(twin.stderr.contains("node id dup is in use by a live member"), "\(twin.stderr)")
        let pid = try #require(cluster.nodes["dup"]).process.processIdentifier
        #expect(twin.stderr.contains("pid \(pid)"), "it names the live process")
        #expect(try incarnation() == first)
        let results = try await cluster.stopAll()
        #expect(results["dup"]?.status == 0, "the first process was untouched: \(results["dup"]?.stderr ?? "")")
        let after = try await CLI.run(["run", "--once", "--config-file", cluster.config, "--node-id", "dup"], in: cluster.ws.directory)
        #expect(after.status == 0, "after the first left, the id is free: \(after.stderr)")
    }

    @Test func aNodeThatMayNotLeadNeverLeads() async throws {
        let cluster = try await ProcessCluster()
        _ = try await cluster.seed(100)
        try cluster.start("follower", ["--no-lead"])
        // Long enough for a campaign, were it to run one: its loops ran for several heartbeats.
        try await cluster.heartbeats(of: "follower", 6)
        #expect(try cluster.liveLeader() == nil)
        #expect(try cluster.pending() == 100, "without a leader nothing is assigned")
        try cluster.start("leader")
        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }
        #expect(try cluster.liveLeader()?.holder == "leader")
        #expect(try cluster.ws.count("SELECT done FROM scrub_nodes WHERE node_id = 'follower'") > 0, "the follower scrubs its share")
        _ = try await cluster.stopAll()
    }

    /// A preferred leader stopped by SIGTERM hands over at once, although its workers still
    /// finish slow deletes for seconds: a stopping node is no longer the preferred one.
    @Test func aPreferredLeaderStoppedGracefullyHandsOverAtOnce() async throws {
        let cluster = try await ProcessCluster(.sqlite, leaseTTL: 6, nodeTTL: 5, latency: 10)
        _ = try await cluster.seed(40)
        try cluster.start("plain")
        try cluster.start("preferred", ["--leader-priority", "1"])
        try await cluster.waitFor("the preferred node leads with deletes in flight") {
            try cluster.liveLeader()?.holder == "preferred"
                && cluster.ws.count("SELECT count(*) FROM scrub_assignments WHERE node_id = 'preferred' AND state = 'scrubbing'") > 0
        }
        let term = try #require(try cluster.liveLeader()).term
        cluster.signal("preferred", SIGTERM)
        try await cluster.waitFor("plain leads") { try cluster.liveLeader()?.holder == "plain" }
        // Handed over while the preferred node still finishes its 10 s deletes: not after them.
        #expect(try #require(cluster.nodes["preferred"]).process.isRunning, "plain leads before the stopping node's deletes end")
        try Self.expectHandOver(cluster, from: "preferred", to: "plain", term: term)
        let results = try await cluster.stopAll()
        #expect(results["preferred"]?.status == 0, "\(results["preferred"]?.stderr ?? "")")
    }

    @Test func thePreferredNodeTakesOverWhileAliveAndALowerOneLeadsWhenItDies() async throws {
        let cluster = try await ProcessCluster()
        _ = try await cluster.seed(50)
        try cluster.start("plain")
        try await cluster.waitFor("plain leads") { try cluster.liveLeader()?.holder == "plain" }
        let before = try #require(try cluster.liveLeader()).term
        try cluster.start("preferred", ["--leader-priority", "10"])
        // Handed over at plain's next renewal (every lease_ttl / 3), not at its lease's expiry.
        try await cluster.waitFor("the preferred node leads") { try cluster.liveLeader()?.holder == "preferred" }
        let preferred = try #require(try cluster.liveLeader()).term
        #expect(preferred > before)
        // Plain campaigns and renews every lease_ttl / 3 (0.67 s): six heartbeats (1.5 s) see it try.
        try await cluster.heartbeats(of: "plain", 6)
        #expect(try cluster.liveLeader()?.holder == "preferred", "plain does not take it back while the preferred node lives")

        cluster.signal("preferred", SIGKILL)
        try await cluster.waitFor("plain leads again") { try cluster.liveLeader()?.holder == "plain" }
        #expect(try #require(try cluster.liveLeader()).term > preferred)
        try await cluster.waitFor("every image scrubbed") { try cluster.pending() == 0 }
        let results = try await cluster.stopAll()
        #expect(results["plain"]?.status == 0, "\(results["plain"]?.stderr ?? "")")
    }
}
