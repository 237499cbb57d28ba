import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

/// `scrubber serve` with real node, status and restore processes on loopback.
@Suite(.tags(.spawnsProcesses, .startsServers)) struct ServiceCLITests {
    /// A running `scrubber serve` for `ws`'s database, with its URL.
    static func serve(
        _ ws: Workspace,
        config: String,
        token: String,
        port: Int = 0,
        options: [String] = [],
        launcher: [String] = []
    ) async throws -> (process: Process, url: String) {
        let (process, stdout, stderr) = try CLI.start(
            ["serve", "--config-file", config, "--token-file", token, "--listen", "127.0.0.1:\(port)"]
                + options,
            in: ws.directory,
            launcher: launcher
        )
        var url: String?
        do {
            try await eventually("serve to listen", poll: .milliseconds(20)) {
                guard process.isRunning else {
                    throw CLIError("serve exited: " + ((try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""))
                }
                let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
                url = text.split(separator: "\n").first { $0.hasPrefix("listening ") }.map { String($0.dropFirst("listening ".count)) }
                return url != nil
            }
        } catch {
            process.terminate()
            throw error
        }
        return (process, try #require(url))
    }

    @Test func nodesDecryptLocationsThemselvesTheServiceNeverHasTheKey() async throws {
        let ws = try Workspace()
        let key = "0123456789abcdef0123456789abcdef"
        let store = ws.directory + "/images"
        // The service's configuration has no metadata_encryption_key; the nodes' has.
        let serviceConfig = try ws.write("service.conf", "[database]\nconnection = sqlite:///glance.sqlite\n")
        let nodeConfig = try ws.write(
            "node.conf",
            """
            [DEFAULT]
            metadata_encryption_key = \(key)
            scrub_pool_size = 4
            [glance_store]
            filesystem_store_datadir = \(store)
            """
        )
        let ids = try await ws.seed(["--store", store, "--images", "200", "--encrypt-key", key], config: serviceConfig, idsFile: "ids")
        #expect(try ws.count("SELECT count(*) FROM image_locations WHERE value LIKE 'file:%'") == 0, "values are ciphertext")
        let token = try ws.write("token", "cli-secret\n")
        let service = try await Self.serve(ws, config: serviceConfig, token: token)
        defer {
            service.process.terminate()
            service.process.waitUntilExit()
        }

        let run = try await CLI.run(
            ["run", "--once", "--config-file", nodeConfig, "--coordinator", service.url, "--token-file", token, "--node-id", "n1"],
            in: ws.directory
        )
        #expect(run.status == 0, "\(run.stderr)")
        for id in ids {
            #expect(try ws.status(id) == "deleted")
            #expect(!FileManager.default.fileExists(atPath: store + "/" + id))
        }

        let status = try await CLI.run(["status", "--json", "--coordinator", service.url, "--token-file", token], in: ws.directory)
        #expect(status.status == 5, "no live leader after a one-shot run: \(status.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["backlog"] as? [String: Any])?["eligible"] as? Int == 0)
    }

    /// 1,100 idle connections (more than the service's 1,024 descriptors) neither lock a valid
    /// client out for longer than the idle timeout nor exhaust the service: it caps its
    /// connections below its descriptor limit, closes idle ones, and keeps running.
    @Test func anIdleFloodNeitherLocksOutAValidClientNorExhaustsTheService() async throws {
        let ws = try Workspace()
        let config = try ws.write("service.conf", "[database]\nconnection = sqlite:///glance.sqlite\npool_timeout = 60\n")
        let token = try ws.write("token", "flood-secret\n")
        // A service that cannot raise its own limit: 1,024 descriptors, soft and hard. Its idle
        // timeout outlasts the few seconds the flood takes to build, so the flood fills it.
        let service = try await Self.serve(
            ws,
            config: config,
            token: token,
            options: ["--idle-timeout", "15"],
            launcher: ["/usr/bin/prlimit", "--nofile=1024:1024", "--"]
        )
        defer {
            service.process.terminate()
            service.process.waitUntilExit()
        }
        let port = try #require(service.url.split(separator: ":").last.flatMap { Int($0) })
        let flood = try IdleFlood(port: port, connections: 1100)
        defer { flood.close() }
        // The service holds as many as its cap (1,024 less 64 for itself); the rest wait in its backlog.
        let descriptors = "/proc/\(service.process.processIdentifier)/fd"
        func open() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: descriptors).count) ?? 0 }
        try await eventually("the flood to fill the service's connections (\(open()) descriptors)", poll: .milliseconds(100)) {
            open() >= 960
        }

        // A valid client, through the flood: its retries within its deadline reach the service
        // once idle connections are closed.
        let status = try await CLI.run(
            ["status", "--json", "--coordinator", service.url, "--token-file", token, "--config-file", config],
            in: ws.directory
        )
        #expect(status.status == 5, "answered (no leader yet): \(status.stderr)")
        #expect(status.stdout.contains(#""backlog""#))
        #expect(service.process.isRunning, "the service survived the flood")
        #expect(open() < 1024, "descriptors in use: \(open())")
    }

    /// Pause, resume, drain and step-down through the service, authorised by its token; the
    /// status page behind the same token, as HTTP Basic's password so a browser can open it.
    @Test func operatorCommandsAndTheStatusPageWorkThroughTheServiceWithItsToken() async throws {
        let ws = try Workspace()
        let config = try ws.write("service.conf", "[database]\nconnection = sqlite:///glance.sqlite\n")
        _ = try await ws.seed(["--store", ws.directory + "/none", "--images", "3", "--bytes", "0"], config: config, idsFile: "ids")
        let token = try ws.write("token", "ops-secret\n")
        let wrong = try ws.write("wrong", "not-it\n")
        let service = try await Self.serve(ws, config: config, token: token)
        defer {
            service.process.terminate()
            service.process.waitUntilExit()
        }
        func run(_ arguments: [String], token: String = token) async throws -> CLI.Result {
            try await CLI.run(arguments + ["--coordinator", service.url, "--token-file", token], in: ws.directory)
        }

        let refused = try await run(["pause"], token: wrong)
        #expect(refused.status == 1 && refused.stderr.contains("token"), "\(refused.stderr)")
        let paused = try await run(["pause"])
        #expect(paused.status == 0 && paused.stdout.hasPrefix("paused by "), "\(paused.stderr)")
        let status = try await run(["status", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((object["paused"] as? [String: Any])?["since"] is String)
        #expect(try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'paused'") == 1)
        #expect(try await run(["resume"]).stdout.hasPrefix("resumed by "))
        #expect(try await run(["drain", "nosuch"]).status == 6)
        #expect(try await run(["step-down"]).status == 5, "no leader")

        // The page: 401 with a Basic challenge without the token; the token as Basic's password
        // (any user) or as a bearer token opens it.
        /// Status, the headers `WWW-Authenticate` and `Content-Type`, and the body.
        func get(_ path: String, _ authorization: String?) async throws -> (status: Int, headers: [String: String], body: String) {
            var request = HTTPClientRequest(url: service.url + path)
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            var headers: [String: String] = [:]
            for name in ["WWW-Authenticate", "Content-Type"] { headers[name] = response.headers[name].first }
            return (Int(response.status.code), headers, String(buffer: try await response.body.collect(upTo: 4 << 20)))
        }
        let challenged = try await get("/", nil)
        #expect(challenged.status == 401 && challenged.headers["WWW-Authenticate"]?.hasPrefix("Basic ") == true)
        #expect(try await get("/", "Basic " + Data("admin:not-it".utf8).base64EncodedString()).status == 401)
        let page = try await get("/", "Basic " + Data("admin:ops-secret".utf8).base64EncodedString())
        #expect(page.status == 200 && page.headers["Content-Type"]?.hasPrefix("text/html") == true && page.body.contains("<html"))
        let document = try await get("/status.json", "Bearer ops-secret")
        #expect(document.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(document.body.utf8)) as? [String: Any])
        #expect((json["backlog"] as? [String: Any])?["eligible"] as? Int == 3 && json["history"] is [String: Any])
        #expect(try await get("/status.json", nil).status == 401)
    }

    @Test func plainHTTPOffLoopbackMustBeAskedFor() async throws {
        let ws = try Workspace()
        let config = try ws.write("service.conf", "[database]\nconnection = sqlite:///glance.sqlite\n")
        let token = try ws.write("token", "t\n")
        let refused = try await CLI.run(
            ["serve", "--config-file", config, "--token-file", token, "--listen", "0.0.0.0:0"],
            in: ws.directory
        )
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is not loopback: serve HTTPS there"), "\(refused.stderr)")
        let idle = try await CLI.run(["serve", "--config-file", config, "--token-file", token, "--idle-timeout", "600"], in: ws.directory)
        #expect(idle.status != 0 && idle.stderr.contains("--idle-timeout must be 1 to 60 seconds"), "\(idle.stderr)")
    }

    @Test func aWrongTokenStopsANodeAndStatusAtOnceWithAClearMessage() async throws {
        let ws = try Workspace()
        // A retrying client would keep at it for pool_timeout (300 s), far past the run's deadline:
        // exiting at all, with the 401's message, shows it did not retry.
        let config = try ws.write("service.conf", "[database]\nconnection = sqlite:///glance.sqlite\npool_timeout = 300\n")
        let token = try ws.write("token", "right\n")
        let wrong = try ws.write("wrong", "wrong\n")
        let service = try await Self.serve(ws, config: config, token: token)
        defer {
            service.process.terminate()
            service.process.waitUntilExit()
        }
        for command in [["run", "--daemon"], ["status"]] {
            let result = try await CLI.run(
                command + ["--config-file", config, "--coordinator", service.url, "--token-file", wrong],
                in: ws.directory
            )
            #expect(result.status == 1, "\(command[0]): \(result.stderr)")
            #expect(result.stderr.contains("refused our token (401)"), "\(command[0]) must not retry a 401")
        }
        let missing = try await CLI.run(["status", "--config-file", config, "--coordinator", service.url], in: ws.directory)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("token_file"))
        #expect(try ws.count("SELECT count(*) FROM scrub_nodes") == 0)
    }

    @Test func aNodeWhoseTokenIsRevokedMidRunStopsAtOnceWithTheError() async throws {
        let ws = try Workspace()
        let config = try ws.write(
            "node.conf",
            """
            [DEFAULT]
            enabled_backends = sim:simulated
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            default_backend = sim
            [cluster]
            heartbeat_interval = 0.2
            """
        )
        let old = try ws.write("old-token", "old\n")
        let new = try ws.write("new-token", "new\n")
        // A port below the kernel's ephemeral range, so nothing else takes it while the service
        // is down.
        let first = try await Self.serve(ws, config: config, token: old, port: Ports.stable())
        let node = try CLI.start(
            ["run", "--daemon", "--config-file", config, "--coordinator", first.url, "--token-file", old, "--node-id", "revoked"],
            in: ws.directory
        )
        defer { if node.0.isRunning { kill(node.0.processIdentifier, SIGKILL) } }
        try await eventually("the node to join") { try ws.count("SELECT count(*) FROM scrub_nodes WHERE node_id = 'revoked'") > 0 }
        // The service comes back with another token.
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let port = Int(first.url.split(separator: ":").last!)!
        let second = try await Self.serve(ws, config: config, token: new, port: port)
        defer {
            second.process.terminate()
            second.process.waitUntilExit()
        }
        // A daemon retries what it can ride out forever: that it exits at all, with the 401, shows
        // the 401 ended it.
        let result = try await CLI.wait(node.0, stdout: node.stdout, stderr: node.stderr)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("refused our token (401): check the token file \(old)"), "a 401 ends the node: \(result.stderr)")
    }

    @Test func anUnreachableServiceIsAClearErrorWithinTheDeadlineNotAHang() async throws {
        let ws = try Workspace()
        // pool_timeout is also the deadline of a lease-service call, retries included.
        let config = try ws.write("node.conf", "[database]\npool_timeout = 2\n")
        let token = try ws.write("token", "t\n")
        // A port nothing listens on: bind one, note it, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(fd)
        // The message names the deadline it gave up at; the run's own deadline only guards a hang.
        for command in [["status"], ["run", "--daemon"], ["restore", "some-image"]] {
            let result = try await CLI.run(
                command + ["--config-file", config, "--coordinator", "http://127.0.0.1:\(port)", "--token-file", token],
                in: ws.directory
            )
            #expect(result.status == 1, "\(command[0]): \(result.stderr)")
            #expect(
                result.stderr.contains("lease service at http://127.0.0.1:\(port): ping did not succeed within 2.0 s"),
                "\(result.stderr)"
            )
        }
        let badURL = try await CLI.run(["status", "--coordinator", "http://", "--token-file", token], in: ws.directory)
        #expect(badURL.status == 2, "\(badURL.stderr)")
        #expect(badURL.stderr.contains("coordinator_url"))
    }

    @Test func benchThroughTheServiceVerifiesItsRun() async throws {
        let ws = try Workspace(copyFixture: false)
        let result = try await CLI.run(
            ["bench", "--images", "400", "--nodes", "2", "--pool", "4", "--via-service", "--dir", ws.directory + "/bench"],
            in: ws.directory
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("via=service"))
        #expect(result.stdout.contains("verified=PASS"))
    }

    /// `bench --idle` runs both phases (each waits for a leader's first full sweep), measures the
    /// nodes, and finds the image it deletes as glance-api would.
    @Test func idleBenchMeasuresBothCatalogsAndFindsTheProbe() async throws {
        let ws = try Workspace(copyFixture: false)
        let result = try await CLI.run(
            [
                "bench", "--idle", "--history", "300", "--seconds", "1", "--nodes", "2",
                "--dir", ws.directory + "/idle",
            ],
            in: ws.directory
        )
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("catalog=0 idle: cpu_s/node=[") })
        #expect(lines.contains { $0.contains("catalog=300 idle: cpu_s/node=[") })
        #expect(
            lines.filter { $0.contains("an image glance-api deleted, scrubbed") && !$0.contains("not within") }.count == 2,
            "\(result.stdout)"
        )
        #expect(!result.stdout.contains("no full sweep recorded"), "the nodes keep their sweep: \(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("  ratio history/empty") })
    }
}

/// Connections opened to a port and left idle, each established before the next is opened (a
/// burst of connects would only meet the listener's SYN backlog); closed when done.
final class IdleFlood: Sendable {
    let sockets: [Int32]

    init(port: Int, connections: Int) throws {
        // The flood needs descriptors of its own: the test process's soft limit goes to its hard one.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var opened: [Int32] = []
        for _ in 0..<connections {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { break }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            // Established within 5 s (the kernel retries a SYN the listener's queue dropped), or a shortfall.
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard poll(&ready, 1, 5000) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else {
                _ = Glibc.close(fd)
                break
            }
            opened.append(fd)
        }
        sockets = opened
        guard opened.count == connections else {
            close()
            throw Shortfall(opened: opened.count, wanted: connections)
        }
    }

    func close() {
        for fd in sockets { _ = Glibc.close(fd) }
    }

    struct Shortfall: Error, CustomStringConvertible {
        var opened: Int, wanted: Int
        var description: String { "opened only \(opened) of \(wanted) connections (the test process's descriptor limit?)" }
    }
}
