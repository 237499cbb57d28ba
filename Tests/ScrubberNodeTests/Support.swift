import Foundation
import GRDB
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberSQLite
import ScrubberStores
import ScrubberTestKit
import Synchronization
import TestSupport

/// A scratch directory with a copy of Glance's own database and a file store root.
final class Sandbox: Sendable {
    let directory: String
    let databasePath: String
    let storeRoot: String
    let catalog: SQLiteCatalog
    let busyRetries = BusyCounter()
    /// The store clock the catalog reads, when the test moves it.
    let clock: StoreClock?

    /// - Parameters:
    ///   - fresh: start from an empty file instead of the Glance fixture.
    ///   - clock: the store clock the catalog reads, for tests that move it; nil: the machine's.
    init(fresh: Bool = false, busyTimeout: Double = 5, clock: StoreClock? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-test-\(UUID().uuidString)").path
        storeRoot = directory + "/images"
        databasePath = directory + "/glance.sqlite"
        try FileManager.default.createDirectory(atPath: storeRoot, withIntermediateDirectories: true)
        if !fresh {
            try FileManager.default.copyItem(atPath: GlanceFixtures.sqlite, toPath: databasePath)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: databasePath)
        }
        self.clock = clock
        let counter = busyRetries
        var storeClock: (@Sendable () -> Double)?
        if let clock { storeClock = { clock.now } }
        catalog = try SQLiteCatalog(
            path: databasePath,
            busyTimeout: busyTimeout,
            onBusy: { _, _ in counter.increment() },
            clock: storeClock
        )
        try await catalog.upgrade()
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// This database as a conformance fixture, seen through `catalog` (a client of a service
    /// fronting it, say) or directly; its store clock must be the test's (``init(fresh:busyTimeout:clock:)``).
    func fixture(through catalog: (any ScrubCatalog)? = nil, keepAlive: any Sendable = ()) throws -> BackendFixture {
        guard let clock else { throw TestFailure("a fixture's sandbox needs a store clock of the test's") }
        return BackendFixture(
            catalog: catalog ?? self.catalog,
            clock: clock,
            keepAlive: [self, keepAlive] as [any Sendable],
            execute: { sql in try self.queue().write { try $0.execute(sql: sql) } },
            count: { sql in try self.count(sql) },
            seeder: { spec in
                var spec = spec
                spec.storeDirectory = self.storeRoot
                return try await self.catalog.seed(spec)
            }
        )
    }

    func configuration(scrubTime: Double = 0, pool: Int = 4) -> ScrubberConfiguration {
        var config = ScrubberConfiguration()
        config.scrubTime = scrubTime
        config.poolSize = pool
        config.database = .sqlite(path: databasePath)
        config.stores.backends = [BackendConfiguration(name: "file", type: "file", fileRoots: [FileRoot(path: storeRoot, priority: 0)])]
        config.cluster.claimBatch = 64
        config.cluster.backoff = Backoff(base: 30, max: 600)
        // In-process nodes share the test process's two cooperative threads with every other
        // test running at once: a generous TTL keeps a starved heartbeat from lapsing the
        // membership (tests of expiry set their own).
        config.cluster.nodeTTL = 30
        return config
    }

    func seed(_ images: Int, configure: (inout SeedSpec) -> Void = { _ in }) async throws -> [SeededImage] {
        var spec = SeedSpec(images: images, storeDirectory: storeRoot)
        configure(&spec)
        return try await catalog.seed(spec)
    }

    /// Runs one `--once` node in process and returns its summary.
    @discardableResult
    func runOnce(
        _ config: ScrubberConfiguration? = nil,
        nodeID: String = "test-node",
        replacing: [String: any ImageStore] = [:],
        through: (any ScrubCatalog)? = nil
    ) async throws -> RunSummary {
        var config = config ?? configuration()
        config.cluster.nodeID = nodeID
        let router = try StoreRouter(configuration: config.stores, encryptionKey: config.metadataEncryptionKey, replacing: replacing)
        let node = ScrubNode(
            catalog: through ?? catalog,
            router: router,
            options: NodeOptions(configuration: config, once: true, version: "test"),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        try await node.run()
        return node.summary
    }

    /// A connection of the test's own, which waits out the nodes' write transactions.
    func queue() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: databasePath, configuration: configuration)
    }

    func status(of image: String) throws -> String? {
        try queue().read { try String.fetchOne($0, sql: "SELECT status FROM images WHERE id = ?", arguments: [image]) }
    }

    func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try queue().read { try Row.fetchOne($0, sql: sql, arguments: arguments) }
    }

    /// Every row of `sql`, each as text: for comparing a table before and after.
    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [String] {
        try queue().read { try Row.fetchAll($0, sql: sql, arguments: arguments).map(\.description) }
    }

    func count(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try queue().read { try Int.fetchOne($0, sql: sql, arguments: arguments) ?? 0 }
    }

    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

final class BusyCounter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
