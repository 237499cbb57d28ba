import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberPostgres
import ScrubberStores
import ScrubberTestKit
import TestSupport
import Testing

/// Nodes on PostgreSQL (Glance's own schema, from the fixture dump): the pipeline, a restore
/// racing a scrub, and what happens when the server goes away and comes back.
@Suite(.tags(.startsServers)) struct PostgresNodeTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func configuration(_ db: PostgresDatabase, scrubTime: Double = 0, pool: Int = 4) -> ScrubberConfiguration {
        var config = ScrubberConfiguration()
        config.scrubTime = scrubTime
        config.poolSize = pool
        config.stores.backends = [BackendConfiguration(name: "file", type: "file", fileRoots: [FileRoot(path: db.storeRoot, priority: 0)])]
        config.cluster.claimBatch = 32
        config.cluster.backoff = Backoff(base: 30, max: 600)
        config.cluster.heartbeatInterval = 0.25
        // Generous: in-process nodes share the test process with every other test at once.
        config.cluster.nodeTTL = 30
        return config
    }

    static func node(
        _ db: PostgresDatabase,
        _ config: ScrubberConfiguration,
        id: String,
        once: Bool = true,
        catalog: PostgresCatalog? = nil
    ) throws -> ScrubNode {
        var config = config
        config.cluster.nodeID = id
        let router = try StoreRouter(configuration: config.stores, encryptionKey: config.metadataEncryptionKey)
        return ScrubNode(
            catalog: catalog ?? db.catalog,
            router: router,
            options: NodeOptions(configuration: config, once: once, version: "test"),
            logger: quiet
        )
    }

    @Test func twoNodesScrubEveryEligibleShapeAndLeaveEverythingElse() async throws {
        let db = try await PostgresDatabase.make()
        let seed = { (n: Int, configure: (inout SeedSpec) -> Void) async throws -> [SeededImage] in
            var spec = SeedSpec(images: n, storeDirectory: db.storeRoot)
            configure(&spec)
            return try await db.catalog.seed(spec)
        }
        let pending =
            try await seed(60) { _ in }
            + seed(10) { $0.locationsPerImage = 3 }
            + seed(10) { $0.visibility = .community }
            + seed(10) { $0.nullMetaData = true }
            + seed(10) { $0.fileBytes = 0 }
        let active = try await seed(10) { $0.status = .active }
        let waiting = try await seed(10) { $0.deletedAgo = 60 }
        let deletedAtBefore = try db.scalar("SELECT md5(string_agg(id || ':' || deleted_at, ',' ORDER BY id)) FROM image_locations")

        let config = Self.configuration(db, scrubTime: 600)
        let a = try Self.node(db, config, id: "pg-a")
        let b = try Self.node(db, config, id: "pg-b")
        async let runA: Void = a.run()
        async let runB: Void = b.run()
        _ = try await (runA, runB)

        #expect(a.summary.imagesDeleted + b.summary.imagesDeleted == pending.count, "each image deleted once, by one of the nodes")
        #expect(a.summary.failedImages.isEmpty && b.summary.failedImages.isEmpty)
        for image in pending {
            #expect(try await db.catalog.restorePlan(imageID: image.id).status == .deleted)
            for path in image.paths { #expect(!FileManager.default.fileExists(atPath: path)) }
        }
        for image in active + waiting {
            #expect(try await db.catalog.restorePlan(imageID: image.id).status != .deleted)
            for path in image.paths { #expect(FileManager.default.fileExists(atPath: path)) }
        }
        #expect(try db.scalar("SELECT count(*) FROM image_locations WHERE status = 'deleted' AND deleted") == "\(60 + 30 + 10 + 10 + 10)")
        #expect(
            try db.scalar("SELECT md5(string_agg(id || ':' || deleted_at, ',' ORDER BY id)) FROM image_locations") == deletedAtBefore,
            "deleted_at is Glance's and stays as it was"
        )
        #expect(try db.scalar("SELECT count(*) FROM scrub_events WHERE action = 'image_deleted'") == "\(pending.count)")
        #expect(try db.scalar("SELECT count(*) FROM scrub_assignments") == "0")
    }

    @Test func aRestoreRacingARunningNodeNeverLosesARestoredImagesData() async throws {
        let db = try await PostgresDatabase.make()
        var spec = SeedSpec(images: 300, storeDirectory: db.storeRoot)
        spec.locationsPerImage = 2
        let images = try await db.catalog.seed(spec)
        var config = Self.configuration(db, pool: 8)
        config.cluster.claimBatch = 8
        config.cluster.assignWindow = 16
        let node = try Self.node(db, config, id: "racer")
        let restorer = Restorer(catalog: db.catalog, router: try StoreRouter(configuration: config.stores, encryptionKey: nil))
        async let run: Void = node.run()
        var restored: [SeededImage] = []
        for image in images.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
            if (try? await restorer.restore(imageID: image.id, force: false, actor: "race")) != nil { restored.append(image) }
        }
        try await run
        #expect(!restored.isEmpty, "some restores must win the race for the test to mean anything")
        let restoredIDs = Set(restored.map(\.id))
        for image in images {
            let plan = try await db.catalog.restorePlan(imageID: image.id)
            if restoredIDs.contains(image.id) {
                #expect(plan.status == .active)
                for path in image.paths { #expect(FileManager.default.fileExists(atPath: path), "restored image \(image.id) lost \(path)") }
            } else {
                #expect(plan.status == .deleted)
            }
        }
        #expect(
            try db.scalar(
                """
                SELECT count(*) FROM image_locations l JOIN images i ON i.id = l.image_id
                WHERE i.status = 'active' AND l.status != 'active'
                """
            ) == "0",
            "a restored image gets its locations back"
        )
    }

    /// The Glance tables a fresh database gets (demo, bench) are Glance 33's: the same indexes
    /// as `glance-manage db_sync` makes (the fixture), so what the leader's fast path reads and
    /// what every write of an image maintains is what production has.
    @Test func aFreshDatabaseGetsEveryIndexGlanceHasOnItsTables() async throws {
        let server = try await PostgresTestServer.shared()
        let name = try await server.createEmptyDatabase()
        guard case .postgresql(let endpoint) = try DatabaseURL(parsing: server.url(database: name)) else { return }
        let catalog = PostgresCatalog(endpoint: endpoint, operationTimeout: 30, logger: Self.quiet)
        defer { catalog.shutdown() }
        try await catalog.connect()
        try await catalog.upgrade()
        let ours = try server.psql(
            database: name,
            command: """
                SELECT tablename || ' ' || indexname FROM pg_indexes
                WHERE tablename IN ('images', 'image_locations') AND indexname NOT LIKE '%pkey' ORDER BY 1
                """
        ).split(separator: "\n").map(String.init)
        let schema = try String(contentsOfFile: GlanceFixtures.postgresqlSchema, encoding: .utf8)
        let glance = schema.split(separator: "\n").compactMap { line -> String? in
            // CREATE INDEX NAME ON public.TABLE USING …
            let words = line.split(separator: " ")
            guard words.count > 5, words[0] == "CREATE", words[1] == "INDEX", words[3] == "ON" else { return nil }
            let table = words[4].replacingOccurrences(of: "public.", with: "")
            return ["images", "image_locations"].contains(table) ? "\(table) \(words[2])" : nil
        }.sorted()
        #expect(glance.count >= 10, "the fixture's indexes were read")
        #expect(ours == glance)
    }

    /// A node's heartbeats and its completions both write its membership row: were both to
    /// share-lock it first and then update it, they would deadlock (PostgreSQL found one per
    /// heartbeat, each after its 1 s `deadlock_timeout`, and the failed heartbeats lapsed the
    /// membership under load). Run side by side, no transaction of theirs is ever retried.
    @Test func aNodesHeartbeatsAndCompletionsNeverDeadlock() async throws {
        let db = try await PostgresDatabase.make()
        let seeded = try await db.catalog.seed(SeedSpec(images: 30, storeDirectory: db.directory + "/images"))
        let joined = try await db.catalog.join(BackendFixture.node("n"), ttl: 300)
        let node = NodeIdentity(nodeID: "n", incarnation: joined.incarnation)
        let term = try await db.catalog.campaign(node, ttl: 300).term
        #expect(try await db.catalog.apply(LeaderPlan(leader: node, term: term, assignments: seeded.map { ($0.id, "n") }, moves: [])))
        let claimed = try await db.catalog.claim(ClaimRequest(node, limit: 30))
        #expect(claimed.count == 30)
        let retriesBefore = db.catalog.transientRetries
        for image in claimed {
            let outcome = ScrubOutcome(
                image,
                locations: image.locations.map { LocationResult(locationID: $0.id, store: "file", outcome: .deleted) }
            )
            async let beat = db.catalog.heartbeat(node, ttl: 300)
            async let done = db.catalog.complete([outcome], node: node, backoff: Backoff())
            #expect(try await beat)
            #expect(try await done.imagesDeleted == [image.imageID])
        }
        #expect(db.catalog.transientRetries == retriesBefore, "a heartbeat or a completion was retried (a deadlock)")
    }

    /// Not hangs: each connect returns within its timeout; one that hung would meet the time limit.
    @Test(.timeLimit(.minutes(3))) func aWrongPasswordAndAnAbsentServerAreClearErrorsNotHangs() async throws {
        let server = try await PostgresTestServer.shared()
        let name = try await server.createEmptyDatabase()
        guard case .postgresql(let wrong) = try DatabaseURL(parsing: server.url(database: name, password: "not-the-password")) else {
            return
        }
        await #expect(throws: CatalogError.self) { try await PostgresCatalog(endpoint: wrong, logger: Self.quiet).connect(timeout: 5) }
        do {
            try await PostgresCatalog(endpoint: wrong, logger: Self.quiet).connect(timeout: 5)
        } catch {
            #expect("\(error)".contains("refused the login"), "\(error)")
        }
        let port = try PostgresTestServer.freePortForTests()
        guard case .postgresql(let absent) = try DatabaseURL(parsing: "postgresql://u:p@127.0.0.1:\(port)/glance") else { return }
        do {
            try await PostgresCatalog(endpoint: absent, logger: Self.quiet).connect(timeout: 2)
            Issue.record("connected to nothing")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(port)"), "\(error)")
        }
    }

    @Test func aUnixSocketURLAsLibpqSpellsItConnects() async throws {
        let server = try await PostgresTestServer.shared()
        let name = try await server.createGlanceDatabase()
        let url =
            "postgresql+psycopg2://\(PostgresTestServer.user):\(PostgresTestServer.password)@:\(server.port)/\(name)?host=\(server.directory)"
        guard case .postgresql(let endpoint) = try DatabaseURL(parsing: url) else { throw TestFailure("not PostgreSQL: \(url)") }
        #expect(endpoint.unixSocketPath == "\(server.directory)/.s.PGSQL.\(server.port)")
        let catalog = PostgresCatalog(endpoint: endpoint, operationTimeout: 30, logger: Self.quiet)
        defer { catalog.shutdown() }
        try await catalog.connect(timeout: 5)
        try await catalog.upgrade()
        #expect(try await catalog.backlog(scrubTime: 0, failureLimit: 1).eligible == 0)
    }

    /// The server is stopped under a running daemon node and started again: operations fail
    /// within their deadline meanwhile (no hang), the node keeps running, rejoins, and finishes.
    @Test(.timeLimit(.minutes(5))) func aDaemonNodeRidesOutADatabaseRestartAndFinishesTheBacklog() async throws {
        let server = try await PostgresTestServer.start()
        defer { server.destroy() }
        // The test sets up and observes through a catalog with a patient deadline; the node's
        // catalog has a short one on purpose.
        let db = try await PostgresDatabase.make(server: server, operationTimeout: 20)
        let observer = db.catalog
        let nodeCatalog = PostgresCatalog(endpoint: db.catalog.endpoint, operationTimeout: 3, logger: Self.quiet)
        defer { nodeCatalog.shutdown() }
        try await nodeCatalog.connect(timeout: 20)
        let images = try await observer.seed(SeedSpec(images: 400, storeDirectory: db.storeRoot))
        var config = Self.configuration(db, pool: 2)
        config.cluster.claimBatch = 8
        config.cluster.assignWindow = 16
        config.cluster.nodeTTL = 2  // the outage below outlasts it: the membership lapses
        var simulated = BackendConfiguration(name: "sim", type: "simulated")
        simulated.simulatedLatency = 0.01
        config.stores.backends = [simulated]
        config.stores.defaultBackend = "sim"
        let node = try Self.node(db, config, id: "survivor", once: false, catalog: nodeCatalog)
        let daemon = Task { try await node.run() }
        defer { daemon.cancel() }

        func pending() async throws -> Int { try await observer.backlog(scrubTime: 0, failureLimit: 0).eligible }
        try await eventually("100 images scrubbed") { (try? await pending()).map { $0 <= 300 } ?? false }
        #expect(try await pending() > 0, "the restart must happen mid-run")

        let joinedBefore = try db.scalar("SELECT joined_at FROM scrub_nodes WHERE node_id = 'survivor'")
        try await PostgresTestServer.offload { try server.stop(mode: "fast") }
        // An operation on a stopped server fails (within its 3 s deadline: a hang meets the time limit).
        await #expect(throws: CatalogError.self) {
            try await nodeCatalog.heartbeat(NodeIdentity(nodeID: "survivor", incarnation: "any"), ttl: 2)
        }
        // The outage lasts at least node_ttl, so the membership lapses (a slower machine only
        // lengthens it): the scenario, not a bound.
        try await Task.sleep(for: .seconds(3))
        #expect(!daemon.isCancelled)
        try await PostgresTestServer.offload { try server.startServer() }

        // The pool reconnects with its own backoff: until it has, the test's reads may time out too.
        try await eventually("the node to finish the backlog after the restart", poll: .milliseconds(100)) { (try? await pending()) == 0 }
        let ids = images.map { "'\($0.id)'" }.joined(separator: ",")
        #expect(try db.scalar("SELECT count(*) FROM images WHERE status = 'deleted' AND id IN (\(ids))") == "\(images.count)")
        #expect(try db.scalar("SELECT count(*) FROM scrub_assignments") == "0")
        #expect(try db.scalar("SELECT state FROM scrub_nodes WHERE node_id = 'survivor'") == "active")
        let rejoined = try db.scalar("SELECT joined_at FROM scrub_nodes WHERE node_id = 'survivor'")
        #expect(Double(rejoined) ?? 0 > Double(joinedBefore) ?? .infinity, "its membership lapsed in the outage and it rejoined")
    }
}
