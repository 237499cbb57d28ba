import Foundation
import Logging
import ScrubberCore
import ScrubberPostgres
import ScrubberSQLite
import ScrubberStores
import ScrubberTestKit
import TestSupport
import Testing

/// The coordination backends the conformance suite runs against. Every backend added later
/// (PostgreSQL, the lease service) joins this list and must pass the same tests.
enum CatalogBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql
    /// The lease service: client → HTTP → server → SQLite.
    case service

    var testDescription: String { rawValue }

    /// A fresh, upgraded catalog with Glance's tables, plus a way to seed it. Its store clock is
    /// the fixture's, moved by ``BackendFixture/advance(by:)``.
    func make() async throws -> BackendFixture {
        let clock = StoreClock()
        switch self {
        case .sqlite:
            return try await Sandbox(clock: clock).fixture()
        case .service:
            let box = try await Sandbox(clock: clock)
            let served = try await ServedCatalog.start(fronting: box.catalog)
            return try box.fixture(through: served.client, keepAlive: served)
        case .postgresql:
            let db = try await PostgresDatabase.make(clock: clock)
            return BackendFixture(
                catalog: db.catalog,
                clock: clock,
                keepAlive: db,
                execute: { sql in _ = try db.scalar(sql) },
                count: { sql in try Int(db.scalar(sql)).unwrap(sql) },
                clockMoved: { _ = try db.scalar(clock.postgresqlUpdate) },
                seeder: { spec in
                    var spec = spec
                    spec.storeDirectory = db.storeRoot
                    return try await db.catalog.seed(spec)
                }
            )
        }
    }
}

/// A fresh database with Glance's PostgreSQL schema (the fixture dump) on the shared test
/// server, with an upgraded catalog on it and a file store root.
final class PostgresDatabase: Sendable {
    let server: PostgresTestServer
    let name: String
    let url: String
    let catalog: PostgresCatalog
    let directory: String
    var storeRoot: String { directory + "/images" }

    /// - Parameters:
    ///   - operationTimeout: generous by default: the whole suite shares one server and two
    ///     cores, and a setup that waits is not a failure of what a test checks.
    ///   - clock: the store clock the catalog reads (through `scrub_clock()` over a table that
    ///     follows it, see ``StoreClock/postgresqlSchema``); nil: the server's own.
    static func make(
        server: PostgresTestServer? = nil,
        operationTimeout: Double = 30,
        clock: StoreClock? = nil
    ) async throws -> PostgresDatabase {
        let shared = server == nil ? try await PostgresTestServer.shared() : nil
        let server = server ?? shared!
        let name = try await server.createGlanceDatabase()
        if let clock {
            try server.psql(database: name, command: StoreClock.postgresqlSchema + ";" + clock.postgresqlUpdate)
        }
        return try await PostgresDatabase(
            server: server,
            name: name,
            operationTimeout: operationTimeout,
            clockFunction: clock == nil ? nil : StoreClock.postgresqlFunction
        )
    }

    private init(server: PostgresTestServer, name: String, operationTimeout: Double, clockFunction: String?) async throws {
        self.server = server
        self.name = name
        url = server.url(database: name)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-pgtest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        guard case .postgresql(let endpoint) = try DatabaseURL(parsing: url) else { throw TestFailure("not a PostgreSQL URL: \(url)") }
        catalog = PostgresCatalog(
            endpoint: endpoint,
            operationTimeout: operationTimeout,
            logger: Logger(label: "pg-test") { _ in SwiftLogNoOpLogHandler() },
            clockFunction: clockFunction
        )
        try await catalog.connect()
        try await catalog.upgrade()
    }

    deinit {
        catalog.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One value from SQL run by psql.
    func scalar(_ sql: String) throws -> String {
        try server.psql(database: name, command: sql).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A backend under test, seen only through ``ScrubCatalog`` (and a seeder).
struct BackendFixture: Sendable {
    let catalog: TestCatalog
    /// The store clock: TTLs, expiries and backoff windows pass when a test moves it.
    let clock: StoreClock
    /// Tells the database behind the catalog that ``clock`` moved (PostgreSQL keeps a copy).
    private let clockMoved: @Sendable () throws -> Void
    let keepAlive: any Sendable
    /// Runs SQL on the database behind the catalog (states no protocol call produces).
    var execute: @Sendable (String) throws -> Void
    /// Runs a `SELECT count(*)` on the database behind the catalog.
    var count: @Sendable (String) throws -> Int
    let seeder: @Sendable (SeedSpec) async throws -> [SeededImage]

    init(
        catalog: any ScrubCatalog,
        clock: StoreClock,
        keepAlive: any Sendable,
        execute: @escaping @Sendable (String) throws -> Void = { _ in throw TestFailure("this fixture has no SQL access") },
        count: @escaping @Sendable (String) throws -> Int = { _ in throw TestFailure("this fixture has no SQL access") },
        clockMoved: @escaping @Sendable () throws -> Void = {},
        seeder: @escaping @Sendable (SeedSpec) async throws -> [SeededImage]
    ) {
        self.catalog = TestCatalog(catalog)
        self.clock = clock
        self.clockMoved = clockMoved
        self.keepAlive = keepAlive
        self.execute = execute
        self.count = count
        self.seeder = seeder
    }

    /// Moves the store clock forward: memberships, leases and backoffs run out without waiting.
    func advance(by seconds: Double) throws {
        clock.advance(by: seconds)
        try clockMoved()
    }

    func seed(_ count: Int, configure: (inout SeedSpec) -> Void = { _ in }) async throws -> [SeededImage] {
        var spec = SeedSpec(images: count, storeDirectory: "")
        configure(&spec)
        return try await seeder(spec)
    }

    static func node(_ id: String, eligible: Bool = true, capacity: Int = 4) -> NodeRegistration {
        NodeRegistration(nodeID: id, host: "test", pid: 1, version: "test", capacity: capacity, leaderEligible: eligible)
    }

    func join(_ id: String, ttl: Double = 30, eligible: Bool = true) async throws {
        _ = try await catalog.join(Self.node(id, eligible: eligible), ttl: ttl)
    }

    /// Makes `leader` lead (joining it if needed) and runs leader rounds until every eligible
    /// image sits with a live node (of `only`, when given). Returns the term.
    @discardableResult
    func leadAndAssign(
        _ leader: String = "leader",
        to only: Set<String>? = nil,
        scrubTime: Double = 0,
        window: Int = 10_000
    ) async throws -> Int64 {
        let lease = try await catalog.campaign(nodeID: leader, ttl: 30)
        let term: Int64
        if lease.holder == leader {
            term = lease.term
        } else {
            try await join(leader)
            let retry = try await catalog.campaign(nodeID: leader, ttl: 30)
            guard retry.holder == leader else { throw TestFailure("\(leader) could not lead: \(retry)") }
            term = retry.term
        }
        for _ in 0..<100 {
            let view = try await catalog.leaderView(scrubTime: scrubTime, limit: window, scan: .full(after: nil))
            let targets = view.nodes.filter { $0.alive && !$0.draining && (only?.contains($0.id) ?? true) }
                .map { Partitioner.Node(id: $0.id, capacity: $0.capacity, queued: 0) }
            let owners = Dictionary(view.orphans.map { ($0.imageID, $0.node) }, uniquingKeysWith: { a, _ in a })
            var plan = LeaderPlan(leader: leader, term: term, assignments: [], moves: [])
            for (image, node) in Partitioner(window: window).assign(view.orphans.map(\.imageID) + view.unassigned, to: targets) {
                if let from = owners[image] {
                    plan.moves.append(.init(imageID: image, from: from, to: node))
                } else {
                    plan.assignments.append((image, node))
                }
            }
            if plan.isEmpty { return term }
            guard try await catalog.apply(plan) else { throw TestFailure("term \(term) was rejected") }
        }
        return term
    }

    /// Claims until nothing more is claimable for `node`.
    func claimAll(_ node: String, batch: Int = 50) async throws -> [ClaimedImage] {
        var all: [ClaimedImage] = []
        while true {
            let claimed = try await catalog.claim(ClaimRequest(nodeID: node, limit: batch))
            if claimed.isEmpty { return all }
            all += claimed
        }
    }

    func completeAll(_ claimed: [ClaimedImage], node: String) async throws -> CompletionReport {
        let outcomes = claimed.map { image in
            ScrubOutcome(
                imageID: image.imageID,
                previousAttempts: image.attempts,
                locations: image.locations.map { LocationResult(locationID: $0.id, store: "file", outcome: .deleted) }
            )
        }
        return try await catalog.complete(outcomes, nodeID: node, backoff: Backoff())
    }

    func status(of image: String) async throws -> ImageStatus? {
        try await catalog.restorePlan(imageID: image).status
    }
}

extension Optional {
    /// The value, or a test failure naming what was expected.
    func unwrap(_ what: String) throws -> Wrapped {
        guard let self else { throw TestFailure("no value from \(what)") }
        return self
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
