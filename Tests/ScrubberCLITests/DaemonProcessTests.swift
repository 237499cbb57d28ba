import Foundation
import GRDB
import TestSupport
import Testing

/// `run --daemon` as a real process: waking, and stopping gracefully on SIGTERM.
@Suite(.tags(.spawnsProcesses)) struct DaemonProcessTests {
    @Test func theDaemonScrubsNewWorkAndExitsZeroOnSIGTERM() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "d.conf",
            """
            [DEFAULT]
            daemon = True
            wakeup_time = 1
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            [cluster]
            node_id = daemon-1
            heartbeat_interval = 0.5
            """
        )
        let (process, out, err) = try CLI.start(["run", "--config-file", config], in: ws.directory)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let ids = try await ws.seed(["--store", root, "--images", "100"], config: config, idsFile: "ids")
        try await eventually("every image scrubbed") { try ws.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 0 }
        for id in ids { #expect(try ws.status(id) == "deleted") }
        #expect(process.isRunning)

        kill(process.processIdentifier, SIGTERM)
        let result = try await CLI.wait(process, stdout: out, stderr: err)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            try await ws.queue().read { try String.fetchOne($0, sql: "SELECT state FROM scrub_nodes WHERE node_id = 'daemon-1'") } == "left"
        )
    }

    @Test func sigtermMidRunFinishesInFlightWorkHandsBackTheRestAndLosesNothing() async throws {
        let ws = try Workspace()
        let config = try ws.write(
            "s.conf",
            """
            [DEFAULT]
            scrub_pool_size = 2
            enabled_backends = sim:simulated
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            default_backend = sim
            [sim]
            simulated_latency = 0.05
            [cluster]
            claim_batch = 16
            """
        )
        let ids = try await ws.seed(["--store", ws.directory + "/none", "--images", "200", "--bytes", "0"], config: config, idsFile: "ids")
        let (process, out, err) = try CLI.start(["run", "--daemon", "--config-file", config, "--node-id", "slow"], in: ws.directory)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await eventually("10 images scrubbed") { (try? ws.count("SELECT count(*) FROM images WHERE status = 'deleted'")) ?? 0 >= 10 }
        kill(process.processIdentifier, SIGTERM)
        let result = try await CLI.wait(process, stdout: out, stderr: err)
        #expect(result.status == 0, "\(result.stderr)")
        // It finished what was in flight, not the backlog (how fast it stops is a benchmark's
        // question, not this test's: a loaded machine stretches any bound).
        let done = try ws.count("SELECT count(*) FROM images WHERE status = 'deleted'")
        #expect(done < 200, "the test must stop the daemon mid-run")
        // Nothing is left claimed by the stopped node: all of it is anyone's again.
        #expect(try ws.count("SELECT count(*) FROM scrub_assignments WHERE node_id = 'slow' OR state = 'scrubbing'") == 0)

        let rest = try await CLI.run(["run", "--once", "--config-file", config, "--pool-size", "16"], in: ws.directory)
        #expect(rest.status == 0, "\(rest.stderr)")
        for id in ids { #expect(try ws.status(id) == "deleted") }
    }
}
