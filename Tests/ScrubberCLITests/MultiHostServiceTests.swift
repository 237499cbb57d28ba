import Foundation
import TestSupport
import Testing

/// The lease service across a real network: `scrubber serve` on one host (network namespace),
/// daemon nodes on another, joined by a veth pair with addresses of their own.
@Suite(.serialized, .tags(.spawnsProcesses, .startsServers)) struct MultiHostServiceTests {
    @Test func nodesOnAnotherHostScrubThroughTheServiceAndRideOutItsRestart() async throws {
        let hosts = try NetworkNamespaces()
        // Slow simulated deletes (10 ms, 4 at a time per node) keep the run going for seconds.
        let cluster = try await ProcessCluster(.sqlite, leaseTTL: 3, nodeTTL: 3, latency: 0.01, pool: 4)
        let ids = try await cluster.seed(3000)
        let token = try cluster.ws.write("token", "multi-host-secret\n")
        // Below the ephemeral range (32768 and up here): the service restarts on it.
        let listen = "\(hosts.serverAddress):\(Int.random(in: 20_000..<32_000))"
        // A private test network: plain HTTP must be asked for off loopback.
        let serve = ["serve", "--config-file", cluster.config, "--token-file", token, "--listen", listen, "--insecure-http"]

        func startService() async throws {
            let (process, stdout, stderr) = try CLI.start(serve, in: cluster.ws.directory, netns: hosts.server)
            let service = (process: process, stdout: stdout, stderr: stderr)
            cluster.nodes["service"] = service
            try await eventually("the service to listen on \(listen)") {
                guard service.process.isRunning else { throw CLIError("service exited: " + cluster.stderr("service")) }
                return ((try? String(contentsOfFile: service.stdout, encoding: .utf8)) ?? "").contains("listening http://\(listen)")
            }
        }
        try await startService()
        for id in ["far-1", "far-2"] {
            let (process, stdout, stderr) = try CLI.start(
                [
                    "run", "--daemon", "--config-file", cluster.config, "--node-id", id,
                    "--coordinator", "http://\(listen)", "--token-file", token,
                ],
                in: cluster.ws.directory,
                netns: hosts.nodes
            )
            cluster.nodes[id] = (process, stdout, stderr)
        }
        try await cluster.waitFor("the remote nodes to scrub 300 images") { try cluster.pending() <= ids.count - 300 }

        // The service dies mid-run and comes back on the same address.
        let service = try #require(cluster.nodes["service"])
        kill(service.process.processIdentifier, SIGKILL)
        service.process.waitUntilExit()
        let left = try cluster.pending()
        #expect(left > 0, "the restart must land mid-run")
        // Down until both nodes have met the outage.
        try await cluster.waitFor("both nodes to meet the outage") {
            ["far-1", "far-2"].allSatisfy { cluster.stderr($0).contains("heartbeat failed") }
        }
        try await startService()

        try await cluster.waitFor("every image to be scrubbed after the restart") { try cluster.pending() == 0 }
        #expect(try hosts.serverReceivedBytes() > 100_000, "the nodes' requests crossed the veth link")
        // Nodes leave through the service, so they stop first.
        let removed = cluster.nodes.removeValue(forKey: "service")
        let service2 = try #require(removed)
        var results = try await cluster.stopAll()
        kill(service2.process.processIdentifier, SIGTERM)
        results["service"] = try await CLI.wait(service2.process, stdout: service2.stdout, stderr: service2.stderr)
        for (id, result) in results {
            #expect(result.status == 0, "\(id) exited \(result.status): \(result.stderr.suffix(3000))")
        }
        for id in ids { #expect(try cluster.ws.status(id) == "deleted") }
        #expect(try cluster.ws.count("SELECT count(*) FROM scrub_assignments") == 0)
        #expect(try cluster.ws.count("SELECT count(*) FROM scrub_nodes WHERE node_id LIKE 'far-%' AND state = 'left'") == 2)
    }
}
