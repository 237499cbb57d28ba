import AsyncHTTPClient
import Foundation
import GRDB
import Synchronization
import TestSupport
import Testing

/// `run --metrics-listen`: Prometheus text on /metrics, /healthz and /readyz, scraped from the
/// real binary and parsed; the figures must agree with the audit table.
@Suite(.tags(.spawnsProcesses)) struct MetricsTests {
    @Test func aScrapeParsesAndAgreesWithTheAuditTable() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "m.conf",
            """
            [DEFAULT]
            scrub_pool_size = 4
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            [cluster]
            node_id = metered
            heartbeat_interval = 0.25
            metrics_listen = 127.0.0.1:1
            """
        )
        let ids = try await ws.seed(["--store", root, "--images", "120", "--bytes", "1000"], config: config, idsFile: "ids")
        // The flag overrides the file's (unusable) port.
        let node = try await MetricsNode.start(["run", "--daemon", "--config-file", config, "--metrics-listen", "127.0.0.1:0"], in: ws)
        defer { node.kill() }

        #expect(try await node.get("/healthz").status == 200)
        try await eventually("every image scrubbed", poll: .milliseconds(100)) {
            try ws.count(
                "SELECT count(*) FROM images WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending_delete'",
                [String(data: JSONEncoder().encode(ids), encoding: .utf8)!]
            ) == 0
        }
        #expect(try await node.get("/readyz").status == 200)
        // Completions are committed in batches; the counters follow the commit.
        var scrape = try await node.scrape()
        let imagesDeleted = try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'image_deleted'")
        #expect(imagesDeleted >= ids.count)
        try await eventually("the counters to follow the commit", poll: .milliseconds(200)) {
            scrape = try await node.scrape()
            return scrape.value("scrubber_images_total", ["outcome": "deleted"]) == Double(imagesDeleted)
        }

        // Every family is there, typed.
        for (family, type) in [
            ("scrubber_images_total", "counter"), ("scrubber_locations_total", "counter"), ("scrubber_deleted_bytes_total", "counter"),
            ("scrubber_claimed_images_total", "counter"), ("scrubber_deletes_in_flight", "gauge"), ("scrubber_is_leader", "gauge"),
            ("scrubber_leader_term", "gauge"), ("scrubber_lease_renew_failures_total", "counter"), ("scrubber_node_ready", "gauge"),
            ("scrubber_backlog_images", "gauge"), ("scrubber_delete_duration_seconds", "histogram"),
        ] {
            #expect(scrape.types[family] == type, "\(family)")
        }
        // What the node did, as the audit table has it.
        let gone = try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'deleted' AND store = 'file'")
        let notFound = try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'not_found' AND store = 'file'")
        let failed = try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'failed' AND store = 'file'")
        #expect(gone >= ids.count)
        #expect(scrape.value("scrubber_images_total", ["outcome": "deleted"]) == Double(imagesDeleted))
        #expect(scrape.value("scrubber_locations_total", ["store": "file", "outcome": "deleted"]) == Double(gone))
        #expect(scrape.value("scrubber_locations_total", ["store": "file", "outcome": "not_found"]) == Double(notFound))
        #expect(scrape.value("scrubber_locations_total", ["store": "file", "outcome": "failed"]) == Double(failed))
        // Only the seeded files exist on disk: 1,000 bytes each.
        #expect(scrape.value("scrubber_deleted_bytes_total", ["store": "file"]) == Double(ids.count * 1000))
        #expect(scrape.value("scrubber_delete_duration_seconds_count", ["store": "file"]) == Double(gone + notFound + failed))
        #expect(
            scrape.value("scrubber_delete_duration_seconds_bucket", ["store": "file", "le": "+Inf"]) == Double(gone + notFound + failed)
        )
        #expect((scrape.value("scrubber_claimed_images_total", [:]) ?? 0) >= Double(imagesDeleted))
        #expect(scrape.value("scrubber_deletes_in_flight", [:]) == 0)
        #expect(scrape.value("scrubber_is_leader", [:]) == 1)
        #expect((scrape.value("scrubber_leader_term", [:]) ?? 0) >= 1)
        #expect(scrape.value("scrubber_node_ready", [:]) == 1)
        #expect(scrape.value("scrubber_lease_renew_failures_total", ["lease": "membership"]) == 0)

        kill(node.process.processIdentifier, SIGTERM)
        let result = try await CLI.wait(node.process, stdout: node.out, stderr: node.err)
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Failing images are gauged by class and store, the backlog in bytes per store; a failure
    /// that needs an operator is logged once per run, however many images it fails.
    @Test func failingImagesAreGaugedByClassAndTheBacklogInBytesPerStore() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "m.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
        _ = try await ws.seed(["--store", root, "--images", "20", "--bytes", "1000"], config: config, idsFile: "ok")
        let outside = try await ws.seed(
            ["--store", ws.directory + "/elsewhere", "--images", "3", "--bytes", "700"],
            config: config,
            idsFile: "outside"
        )
        let node = try await MetricsNode.start(["run", "--daemon", "--config-file", config, "--metrics-listen", "127.0.0.1:0"], in: ws)
        defer { node.kill() }
        try await eventually("the images outside the store roots failed", poll: .milliseconds(100)) {
            try ws.count("SELECT count(*) FROM scrub_assignments WHERE attempts > 0") == outside.count
        }
        var scrape = try await node.scrape()
        try await eventually("the gauges to count the failures (sampled every 15 s)", poll: .milliseconds(250)) {
            scrape = try await node.scrape()
            return scrape.value("scrubber_images_failing", ["class": "misconfigured", "store": "file"]) == Double(outside.count)
        }
        #expect(scrape.types["scrubber_images_failing"] == "gauge")
        #expect(
            scrape.value("scrubber_backlog_bytes", ["store": "file"]) == Double(outside.count * 700),
            "only the failing images are left"
        )
        #expect(scrape.value("scrubber_backlog_store_images", ["store": "file"]) == Double(outside.count))
        #expect(scrape.value("scrubber_paused", [:]) == 0)
        #expect(
            try ws.count("SELECT count(*) FROM scrub_assignments WHERE failure_class = 'misconfigured' AND failure_store = 'file'") == 3
        )
        kill(node.process.processIdentifier, SIGTERM)
        let result = try await CLI.wait(node.process, stdout: node.out, stderr: node.err)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "this is logged once per run").count - 1 == 1, "\(result.stderr)")
    }

    /// Readiness is the membership: a node whose heartbeats cannot commit is not ready once its
    /// membership runs out, while the process stays live; it is ready again once it rejoins.
    @Test func readyzFollowsTheMembershipWhileHealthzStaysLive() async throws {
        let ws = try Workspace()
        let config = try ws.write(
            "r.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(ws.directory)/images
            [cluster]
            node_id = probed
            node_ttl = 1
            heartbeat_interval = 0.2
            busy_timeout = 0.1
            """
        )
        let node = try await MetricsNode.start(["run", "--daemon", "--config-file", config, "--metrics-listen", "127.0.0.1:0"], in: ws)
        defer { node.kill() }
        try await node.waitFor("/readyz", status: 200)

        // Another connection takes SQLite's write lock and keeps it past node_ttl (on a thread
        // of its own: the lock is held inside one blocking database access).
        let lock = try WriteLockHolder(path: ws.database)
        do {
            try await node.waitFor("/readyz", status: 503)
            #expect(try await node.get("/healthz").status == 200)
            #expect(try await node.scrape().value("scrubber_node_ready", [:]) == 0)
            // Past node_ttl in the store's clock too, so the next heartbeat finds it expired (a
            // lower bound: a slower machine only lengthens it; the lock keeps the store unread).
            try await Task.sleep(for: .seconds(1.5))
        } catch {
            try await lock.release()
            throw error
        }
        try await lock.release()

        try await node.waitFor("/readyz", status: 200)
        // It found its membership expired and rejoined: a failed renewal, counted.
        #expect((try await node.scrape().value("scrubber_lease_renew_failures_total", ["lease": "membership"]) ?? 0) >= 1)
    }

    @Test func aBadMetricsAddressIsAConfigurationError() async throws {
        let ws = try Workspace()
        let config = try ws.write(
            "b.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [cluster]
            metrics_listen = http://0.0.0.0:9180/metrics
            """
        )
        let fromFile = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)
        #expect(fromFile.status == 2)
        #expect(fromFile.stderr.contains("metrics_listen"), "\(fromFile.stderr)")
        #expect(fromFile.stderr.contains("expected HOST:PORT"), "\(fromFile.stderr)")
        let fromFlag = try await CLI.run(["run", "--once", "--db", ws.database, "--metrics-listen", "localhost:99999"], in: ws.directory)
        #expect(fromFlag.status == 2)
        #expect(fromFlag.stderr.contains("--metrics-listen must be HOST:PORT"), "\(fromFlag.stderr)")
    }
}

/// Holds SQLite's write lock from another connection, on a thread of its own, until released.
final class WriteLockHolder: Sendable {
    private let released = Mutex(false)
    private let done = Mutex<(any Error)??>(nil)

    init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        let taken = DispatchSemaphore(value: 0)
        let thread = Thread { self.hold(queue, taken) }
        thread.start()
        taken.wait()
        if case .some(.some(let error)) = done.withLock({ $0 }) { throw error }
    }

    private func hold(_ queue: DatabaseQueue, _ taken: DispatchSemaphore) {
        do {
            try queue.inDatabase { db in
                try db.execute(sql: "BEGIN EXCLUSIVE")
                taken.signal()
                while !released.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.02) }
                try db.execute(sql: "ROLLBACK")
            }
            done.withLock { $0 = .some(nil) }
        } catch {
            done.withLock { $0 = .some(error) }
            taken.signal()
        }
    }

    func release() async throws {
        released.withLock { $0 = true }
        while true {
            if case .some(let error) = done.withLock({ $0 }) {
                if let error { throw error }
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// A `scrubber run` process with its metrics port, found in its log.
struct MetricsNode {
    let process: Process
    let out: String
    let err: String
    let port: Int

    static func start(_ arguments: [String], in ws: Workspace) async throws -> MetricsNode {
        let (process, out, err) = try CLI.start(arguments, in: ws.directory)
        var port: Int?
        do {
            try await eventually("a 'metrics listening' line") {
                let log = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
                if let range = log.range(of: #"metrics listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    port = Int(log[range].split(separator: ":").last ?? "")
                }
                guard port != nil || process.isRunning else { throw CLIError("the node exited before it listened: \(log)") }
                return port != nil
            }
        } catch {
            Glibc.kill(process.processIdentifier, SIGKILL)
            throw error
        }
        return MetricsNode(process: process, out: out, err: err, port: try #require(port))
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    func get(_ path: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"),
            timeout: .seconds(Int64(patienceSeconds))
        )
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    func waitFor(_ path: String, status: Int) async throws {
        var last = -1
        try await eventually("\(path) to answer \(status) (last \(last))", poll: .milliseconds(100)) {
            last = try await get(path).status
            return last == status
        }
    }

    func scrape() async throws -> Exposition {
        let (status, body) = try await get("/metrics")
        guard status == 200 else { throw CLIError("/metrics answered \(status)") }
        return try Exposition(parsing: body)
    }
}

/// Prometheus's text exposition format, parsed strictly enough that a malformed line fails.
struct Exposition {
    var types: [String: String] = [:]
    var samples: [(name: String, labels: [String: String], value: Double)] = []

    init(parsing text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw CLIError("bad TYPE line: \(line)")
                }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let match = line.wholeMatch(of: #/([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/#),
                let value = Double(match.3) ?? (match.3 == "+Inf" ? .infinity : nil)
            else {
                throw CLIError("bad sample line: \(line)")
            }
            var labels: [String: String] = [:]
            if let braces = match.2 {
                for pair in braces.dropFirst().dropLast().matches(of: #/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/#) {
                    labels[String(pair.1)] = String(pair.2)
                }
            }
            samples.append((String(match.1), labels, value))
        }
        // Every sample belongs to a typed family.
        for sample in samples {
            let family = sample.name.replacing(#/_(bucket|sum|count)$/#, with: "")
            guard types[sample.name] != nil || types[family] != nil else { throw CLIError("sample \(sample.name) has no TYPE") }
        }
    }

    /// The value of the one sample named `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
