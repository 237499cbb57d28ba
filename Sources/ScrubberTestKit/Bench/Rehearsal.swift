import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberStores
import Synchronization

/// A throwaway catalog and store with a backlog, scrubbed by real node processes and then
/// checked: what `scrubber demo` shows and `scrubber bench` measures.
public struct Rehearsal {
    /// Opens (and upgrades) a catalog as a node opens it: the program's own opener.
    public typealias Opener = @Sendable (DatabaseURL) async throws -> any SeedableCatalog

    public var open: Opener
    public var directory: String
    public var images: Int
    public var locationsPerImage = 1
    public var fileBytes = 1024
    public var nodes: Int
    public var pool: Int
    /// Images that must survive: `active`, and `pending_delete` still inside scrub_time.
    public var activeImages = 0
    public var waitingImages = 0
    /// When set, a simulated backend with this latency per delete replaces the file store.
    public var simulatedLatency: Double?
    /// When set, an object store (`swift` or `s3`) replaces the file store: its options are the
    /// text of the `[bench]` backend section, and each image's object is uploaded there.
    public var objectStore: (type: String, options: String)?
    public var claimBatch = 512
    /// The catalog: a new SQLite file in `directory` when nil; else an existing (empty) database.
    public var database: DatabaseURL?
    /// Nodes coordinate through a `scrubber serve` process on loopback instead of the database.
    public var viaService = false

    public init(
        directory: String,
        images: Int,
        nodes: Int,
        pool: Int,
        activeImages: Int = 0,
        waitingImages: Int = 0,
        open: @escaping Opener
    ) {
        self.directory = directory
        self.images = images
        self.nodes = nodes
        self.pool = pool
        self.activeImages = activeImages
        self.waitingImages = waitingImages
        self.open = open
    }

    public var databaseURL: DatabaseURL { database ?? .sqlite(path: directory + "/glance.sqlite") }
    public var storePath: String { directory + "/images" }
    public var configPath: String { directory + "/glance-scrubber.conf" }
    public var tokenPath: String { directory + "/service.token" }

    /// Images for the reference loop (``referenceLoop(_:batch:)``), seeded like the backlog
    /// but inside scrub_time, so the scrubber leaves them alone.
    public var referenceImages = 0
    /// Write the seeded files to disk (`sync`) before anything is timed: deleting a file whose
    /// blocks are allocated costs the filesystem more than deleting one still in the page cache.
    public var syncFiles = false

    public struct Seeded {
        public var pending: [SeededImage]
        public var survivors: [SeededImage]
        public var reference: [SeededImage] = []
        /// The object store's access, made once (one connection or login per bench run).
        public var objects: ObjectStoreAccess?
    }

    /// Writes the config and seeds the catalog and files.
    public func prepare() async throws -> Seeded {
        try FileManager.default.createDirectory(atPath: storePath, withIntermediateDirectories: true)
        var conf = """
            [DEFAULT]
            scrub_time = 600
            scrub_pool_size = \(pool)

            [database]
            connection = \(databaseURL.connectionString)

            [cluster]
            claim_batch = \(claimBatch)

            """
        if let objectStore {
            conf += """
                [DEFAULT]
                enabled_backends = bench:\(objectStore.type)

                [glance_store]
                default_backend = bench

                [bench]
                \(objectStore.options)

                """
        } else if let simulatedLatency {
            conf += """
                [DEFAULT]
                enabled_backends = sim:simulated

                [glance_store]
                default_backend = sim

                [sim]
                simulated_latency = \(simulatedLatency)
                simulated_remember_deletes = false

                """
        } else {
            conf += """
                [glance_store]
                filesystem_store_datadir = \(storePath)

                """
        }
        try conf.write(toFile: configPath, atomically: true, encoding: .utf8)
        let catalog = try await openCatalog()
        let objects = try await objectStoreAccess()
        func spec(_ count: Int) -> SeedSpec {
            var spec = SeedSpec(images: count, storeDirectory: storePath)
            spec.fileBytes = simulatedLatency == nil ? fileBytes : 0
            spec.objectURLPrefix = objects?.prefix
            spec.objectURLSuffix = objects?.suffix ?? ""
            spec.storeID = objects == nil ? nil : "bench"
            return spec
        }
        var pendingSpec = spec(images)
        pendingSpec.locationsPerImage = locationsPerImage
        pendingSpec.deletedAgo = 3600
        // A backlog built up before the run: Glance wrote each row when it deleted the image.
        pendingSpec.updatedAgo = 3600
        let pending = try await catalog.seed(pendingSpec)
        var survivors: [SeededImage] = []
        if activeImages > 0 {
            var active = spec(activeImages)
            active.status = .active
            active.namePrefix = "active"
            survivors += try await catalog.seed(active)
        }
        if waitingImages > 0 {
            var waiting = spec(waitingImages)
            waiting.deletedAgo = 5
            waiting.updatedAgo = 5
            waiting.namePrefix = "waiting"
            survivors += try await catalog.seed(waiting)
        }
        var reference: [SeededImage] = []
        if referenceImages > 0 {
            var referenceSpec = spec(referenceImages)
            referenceSpec.locationsPerImage = locationsPerImage
            referenceSpec.deletedAgo = 5
            referenceSpec.updatedAgo = 5
            referenceSpec.namePrefix = "reference"
            reference = try await catalog.seed(referenceSpec)
        }
        if let objects {
            let payload = [UInt8](repeating: 0x5a, count: fileBytes)
            try await Self.forEach((pending + survivors + reference).flatMap(\.paths), at: pool) { url in
                try await objects.upload(LocationURL(url), payload)
            }
        }
        if syncFiles { sync() }
        return Seeded(pending: pending, survivors: survivors, reference: reference, objects: objects)
    }

    /// The object store's location prefix, its upload, and the store, from the written config.
    public struct ObjectStoreAccess: Sendable {
        public var prefix: String
        public var suffix = ""
        public var upload: @Sendable (LocationURL, [UInt8]) async throws -> Void
        public var store: any ImageStore
    }

    private func objectStoreAccess() async throws -> ObjectStoreAccess? {
        guard let objectStore else { return nil }
        let ini = try INIDocument(parsing: try String(contentsOfFile: configPath, encoding: .utf8), file: configPath)
        let config = try ScrubberConfiguration(ini: ini)
        guard let backend = config.stores.backend(named: "bench") else { return nil }
        func option(_ name: String) -> String? { ini.value("bench", name).map(\.text).flatMap { $0.isEmpty ? nil : $0 } }
        switch objectStore.type {
        case "swift":
            let store = SwiftStore(name: "bench", options: backend.swift, connections: pool)
            let prefix = "swift+config://\(option("default_swift_reference") ?? "ref1")/\(option("swift_store_container") ?? "glance")/"
            return ObjectStoreAccess(prefix: prefix, upload: { try await store.upload($0, bytes: $1) }, store: store)
        case "s3":
            let store = S3Store(name: "bench", options: backend.s3, connections: pool)
            var host = backend.s3.host ?? "s3"
            for scheme in ["http://", "https://"] where host.hasPrefix(scheme) { host.removeFirst(scheme.count) }
            let prefix = "s3://\(host)/\(option("s3_store_bucket") ?? "glance")/"
            return ObjectStoreAccess(prefix: prefix, upload: { try await store.upload($0, bytes: $1) }, store: store)
        case "rbd":
            let store = RBDStore(name: "bench", options: backend.rbd, threads: pool)
            let prefix = "rbd://\(try await store.clusterFSID())/\(backend.rbd.pool)/"
            return ObjectStoreAccess(prefix: prefix, suffix: "/snap", upload: { try await store.create($0, bytes: $1.count) }, store: store)
        default:
            throw RehearsalError("--store \(objectStore.type): expected file, swift, s3 or rbd")
        }
    }

    /// Runs `body` on every item, `width` at a time.
    public static func forEach(_ items: [String], at width: Int, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = items.makeIterator()
            for _ in 0..<max(1, width) {
                guard let item = next.next() else { break }
                group.addTask { try await body(item) }
            }
            while try await group.next() != nil {
                if let item = next.next() { group.addTask { try await body(item) } }
            }
        }
    }

    /// The object store's own limit for this backlog: HEAD and DELETE of every reference
    /// object through the store, `pool` at a time, no catalog. Returns seconds.
    public func objectReferenceLoop(_ seeded: Seeded) async throws -> Double {
        guard let store = seeded.objects?.store else { return 0 }
        let started = ContinuousClock.now
        try await Self.forEach(seeded.reference.flatMap(\.paths), at: pool) { url in
            guard try await store.delete(LocationURL(url)) == .deleted else {
                throw RehearsalError("reference object \(url) was not there")
            }
        }
        return (ContinuousClock.now - started).seconds
    }

    /// The machine's own limit for this backlog: a loop that only unlinks the files and marks
    /// the rows deleted, `batch` images per transaction, in seeding (storage) order, with the
    /// unlinks of a batch spread over the cores. No claims, no checks, no audit. Returns seconds.
    public func referenceLoop(_ images: [SeededImage], batch: Int = 1000) async throws -> Double {
        let catalog = try await openCatalog()
        let started = ContinuousClock.now
        for chunk in images.chunks(of: batch) {
            let paths = chunk.flatMap(\.paths)
            DispatchQueue.concurrentPerform(iterations: paths.count) { i in _ = unlink(paths[i]) }
            try await catalog.markDeletedUnchecked(imageIDs: chunk.map(\.id))
        }
        return (ContinuousClock.now - started).seconds
    }

    public struct RunResult {
        public var seconds: Double
        public var exitCodes: [Int32]
        /// The nodes' reports (`run --report-file`), one per node that wrote one.
        public var reports: [RunReport] = []
        /// The largest peak resident set of a node process, as each node measured it, bytes.
        public var peakRSS: Int { reports.compactMap(\.peakRSS).max() ?? 0 }

        /// Every node's claim-to-completion latencies together.
        public var latency: LatencyHistogram {
            reports.reduce(into: LatencyHistogram()) { $0.merge($1.latency) }
        }
    }

    /// The rehearsal's catalog, opened (and upgraded) as a node opens it.
    public func openCatalog() async throws -> any SeedableCatalog {
        try await open(databaseURL)
    }

    /// Starts `nodes` `scrubber run --once` processes and waits for them, reporting progress
    /// when asked (the count scans the backlog: a benchmark must not pay for it).
    public func run(
        progress: ((_ catalog: any ScrubCatalog, _ remaining: Int, _ elapsed: Double) async -> Void)? = nil
    ) async throws -> RunResult {
        let executable = URL(fileURLWithPath: Self.thisExecutable)
        let service = viaService ? try await startService(executable) : nil
        defer {
            if let service, service.process.isRunning {
                service.process.terminate()
                service.process.waitUntilExit()
            }
        }
        let coordination = service.map { ["--coordinator", $0.url, "--token-file", tokenPath] } ?? []
        let started = ContinuousClock.now
        var processes: [Process] = []
        for n in 1...nodes {
            let process = Process()
            process.executableURL = executable
            process.arguments =
                [
                    "run", "--once", "--config-file", configPath, "--node-id", "node-\(n)", "--log-level", "warning",
                    "--report-file", reportPath(n),
                ] + coordination
            _ = FileManager.default.createFile(atPath: directory + "/node-\(n).log", contents: nil)
            process.standardError = FileHandle(forWritingAtPath: directory + "/node-\(n).log")
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        let watcher = progress == nil ? nil : try await openCatalog()
        // Checked every 10 ms: a coarser poll would add up to its period to every measured run.
        var lastProgress = started
        while processes.contains(where: \.isRunning) {
            try await Task.sleep(for: .milliseconds(10))
            if let watcher, let progress, ContinuousClock.now - lastProgress >= .milliseconds(250),
                let backlog = try? await watcher.backlog(scrubTime: 600, failureLimit: 0)
            {
                lastProgress = .now
                await progress(watcher, backlog.eligible, (ContinuousClock.now - started).seconds)
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        let reports = (1...nodes).compactMap { n in
            (try? Data(contentsOf: URL(fileURLWithPath: reportPath(n)))).flatMap { try? JSONDecoder().decode(RunReport.self, from: $0) }
        }
        return RunResult(seconds: seconds, exitCodes: processes.map(\.terminationStatus), reports: reports)
    }

    /// This program's path, for the node processes a rehearsal starts.
    public static var thisExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private func reportPath(_ node: Int) -> String { directory + "/node-\(node).report.json" }

    /// Starts `scrubber serve` on a free loopback port and waits until it listens.
    private func startService(_ executable: URL) async throws -> (process: Process, url: String) {
        try "rehearsal-\(UUID().uuidString)\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        let out = directory + "/service.out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/service.log", contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "serve", "--config-file", configPath, "--token-file", tokenPath, "--listen", "127.0.0.1:0", "--log-level", "warning",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: directory + "/service.log")
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }) {
                return (process, String(line.dropFirst("listening ".count)))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw CatalogError.unavailable("the rehearsal's lease service did not start; see \(directory)/service.log")
    }

    public struct Verdict {
        public var imagesDeleted = 0
        public var problems: [String] = []
    }

    /// Checks the end state through the catalog (in pages) and the filesystem (or the object
    /// store: a HEAD per location).
    public func verify(_ seeded: Seeded) async throws -> Verdict {
        var verdict = Verdict()
        let catalog = try await openCatalog()
        var present = Set<String>()
        if let store = seeded.objects?.store {
            let found = Mutex(Set<String>())
            try await Self.forEach((seeded.pending + seeded.survivors).flatMap(\.paths), at: pool) { url in
                if try await store.exists(LocationURL(url)) { found.withLock { _ = $0.insert(url) } }
            }
            present = found.withLock { $0 }
        }
        let objects = objectStore != nil
        func exists(_ path: String) -> Bool { objects ? present.contains(path) : access(path, F_OK) == 0 }
        let states = try await catalog.imageStates(seeded.pending.map(\.id) + seeded.survivors.map(\.id))
        for image in seeded.pending {
            let state = states[image.id]
            if state?.status == ImageStatus.deleted.rawValue && state?.pendingLocations == 0 {
                verdict.imagesDeleted += 1
            } else if verdict.problems.count < 10 {
                verdict.problems.append(
                    "image \(image.id) is \(state?.status ?? "missing") with \(state?.pendingLocations ?? 0) location(s) still pending_delete"
                )
            }
            if simulatedLatency == nil, let left = image.paths.first(where: exists), verdict.problems.count < 10 {
                verdict.problems.append("file \(left) of scrubbed image \(image.id) still exists")
            }
        }
        for image in seeded.survivors {
            if let gone = image.paths.first(where: { !exists($0) }) {
                verdict.problems.append("file \(gone) of image \(image.id), which must survive, was deleted")
            }
            if states[image.id]?.status == ImageStatus.deleted.rawValue {
                verdict.problems.append("image \(image.id), which must survive, was marked deleted")
            }
        }
        return verdict
    }
}

/// A rehearsal that cannot go on: a bad option, an object store that lost a reference object.
public struct RehearsalError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
