import Foundation
import GRDB
import ScrubberCore
import TestSupport

/// Real `scrubber run --daemon` processes on one catalog: a SQLite file (a copy of Glance's),
/// or a PostgreSQL server of the test's own (Glance's schema from the fixture dump), which the
/// test may also stop and start. A test that fails half-way leaves no node running.
final class ProcessCluster {
    enum Catalog {
        case sqlite
        case postgresql
    }

    let ws: Workspace
    let config: String
    /// The PostgreSQL server and database, on that backend.
    let server: PostgresTestServer?
    let database: String?
    var nodes: [String: (process: Process, stdout: String, stderr: String)] = [:]

    /// - Parameter latency: seconds per delete of the simulated backend (keeps work in flight).
    init(_ catalog: Catalog = .sqlite, leaseTTL: Double = 2, nodeTTL: Double = 2, latency: Double = 0.02, pool: Int = 2) async throws {
        let connection: String
        switch catalog {
        case .sqlite:
            ws = try Workspace()
            server = nil
            database = nil
            connection = "sqlite:///glance.sqlite"
        case .postgresql:
            let server = try await PostgresTestServer.start()
            let database = try await server.createGlanceDatabase()
            ws = try Workspace(copyFixture: false)
            self.server = server
            self.database = database
            connection = server.url(database: database) + "\npool_timeout = 5"
        }
        config = try ws.write(
            "cluster.conf",
            """
            [DEFAULT]
            scrub_pool_size = \(pool)
            enabled_backends = sim:simulated
            [database]
            connection = \(connection)
            [glance_store]
            default_backend = sim
            [sim]
            simulated_latency = \(latency)
            [cluster]
            lease_ttl = \(leaseTTL)
            node_ttl = \(nodeTTL)
            heartbeat_interval = 0.25
            claim_batch = 16
            assign_window = 32
            """
        )
    }

    deinit {
        for (_, node) in nodes where node.process.isRunning {
            kill(node.process.processIdentifier, SIGCONT)
            kill(node.process.processIdentifier, SIGKILL)
        }
        server?.destroy()
    }

    /// Seeds through `scrubber seed` with a patient `pool_timeout`: one seed transaction of
    /// thousands of rows may outlast the nodes' 5 s on a busy machine (seen once).
    func seed(_ count: Int) async throws -> [String] {
        let patient = try ws.write("seed.conf", "[database]\npool_timeout = 60\n")
        return try await ws.seed(
            ["--config-file", patient, "--store", ws.directory + "/none", "--images", "\(count)", "--bytes", "0"],
            config: config,
            idsFile: "ids"
        )
    }

    /// Starts node `id` as a daemon, with `arguments` added.
    func start(_ id: String, _ arguments: [String] = []) throws {
        nodes[id] = try CLI.start(["run", "--daemon", "--config-file", config, "--node-id", id] + arguments, in: ws.directory)
    }

    func signal(_ id: String, _ sig: Int32) {
        if let node = nodes[id] { kill(node.process.processIdentifier, sig) }
    }

    func stderr(_ id: String) -> String {
        nodes[id].flatMap { try? String(contentsOfFile: $0.stderr, encoding: .utf8) } ?? ""
    }

    func stopAll() async throws -> [String: CLI.Result] {
        var results: [String: CLI.Result] = [:]
        for (_, node) in nodes where node.process.isRunning {
            kill(node.process.processIdentifier, SIGCONT)
            kill(node.process.processIdentifier, SIGTERM)
        }
        for (id, node) in nodes {
            results[id] = try await CLI.wait(node.process, stdout: node.stdout, stderr: node.stderr)
        }
        return results
    }

    // MARK: The catalog, as the test sees it

    /// The first column of the first row of `query` (written with ``SQLDialect`` tokens such
    /// as `{now}`, the store clock), as text; nil for no row or NULL.
    func scalar(_ query: String) throws -> String? {
        if let server, let database {
            let text = try server.psql(database: database, command: SQLDialect.postgresql.render(query))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? nil : text
        }
        return try ws.queue().read { db in
            guard let value = try Row.fetchOne(db, sql: SQLDialect.sqlite.render(query))?[0] as DatabaseValue? else { return nil }
            switch value.storage {
            case .null: return nil
            case .int64(let v): return String(v)
            case .double(let v): return String(v)
            case .string(let v): return v
            case .blob: return nil
            }
        }
    }

    func count(_ query: String) throws -> Int {
        guard let text = try scalar(query), let value = Int(text) else { throw CLIError("not a count: \(query)") }
        return value
    }

    /// The live leader and its term, by the store clock.
    func liveLeader() throws -> (holder: String, term: Int64)? {
        guard let row = try scalar("SELECT node_id || '|' || term FROM scrub_leader WHERE node_id IS NOT NULL AND expires_at > {now}")
        else {
            return nil
        }
        let parts = row.split(separator: "|")
        guard parts.count == 2, let term = Int64(parts[1]) else { return nil }
        return (String(parts[0]), term)
    }

    func pending() throws -> Int {
        try count("SELECT count(*) FROM images WHERE status = 'pending_delete'")
    }

    /// Whether `id`'s membership has run out by the store clock (or it has none).
    func membershipLapsed(_ id: String) throws -> Bool {
        try count("SELECT count(*) FROM scrub_nodes WHERE node_id = '\(id)' AND state = 'active' AND expires_at > {now}") == 0
    }

    /// Waits until `id` has renewed its membership `times` more times (a live node's loops
    /// ran for that many heartbeats): the event to wait for before saying nothing happened.
    func heartbeats(of id: String, _ times: Int, state: String = "active") async throws {
        var seen: Set<String> = []
        try await eventually("\(times) heartbeats of \(id)", poll: .milliseconds(20)) {
            if let at = try scalar("SELECT heartbeat_at FROM scrub_nodes WHERE node_id = '\(id)' AND state = '\(state)'") {
                seen.insert(at)
            }
            return seen.count > times
        }
    }

    /// Waits for `condition`, which may fail while the catalog is unreachable.
    func waitFor(_ what: String, _ condition: () throws -> Bool) async throws {
        try await eventually(what) { (try? condition()) == true }
    }
}
