import Foundation
import Logging
import ScrubberCore
import ScrubberStores

/// A throwaway catalog and store with a backlog, scrubbed by real node processes and then
/// checked: what `scrubber demo` shows and `scrubber bench` measures.
struct Rehearsal {
    var directory: String
    var images: Int
    var locationsPerImage = 1
    var fileBytes = 1024
    var nodes: Int
    var pool: Int
    /// Images that must survive: `active`, and `pending_delete` still inside scrub_time.
    var activeImages = 0
    var waitingImages = 0
    /// When set, a simulated backend with this latency per delete replaces the file store.
    var simulatedLatency: Double?
    var claimBatch = 512
    /// The catalog: a new SQLite file in `directory` when nil; else an existing (empty) database.
    var database: DatabaseURL?
    /// Nodes coordinate through a `scrubber serve` process on loopback instead of the database.
    var viaService = false

    var databaseURL: DatabaseURL { database ?? .sqlite(path: directory + "/glance.sqlite") }
    var storePath: String { directory + "/images" }
    var configPath: String { directory + "/glance-scrubber.conf" }
    var tokenPath: String { directory + "/service.token" }

    struct Seeded {
        var pending: [SeededImage]
        var survivors: [SeededImage]
    }

    /// Writes the config and seeds the catalog and files.
    func prepare() async throws -> Seeded {
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
        if let simulatedLatency {
            conf += """
                [DEFAULT]
                enabled_backends = sim:simulated

                [glance_store]
                default_backend = sim

                [sim]
                simulated_latency = \(simulatedLatency)

                """
        } else {
            conf += """
                [glance_store]
                filesystem_store_datadir = \(storePath)

                """
        }
        try conf.write(toFile: configPath, atomically: true, encoding: .utf8)
        let catalog = try await openCatalog()
        var spec = SeedSpec(images: images, storeDirectory: storePath)
        spec.locationsPerImage = locationsPerImage
        spec.fileBytes = simulatedLatency == nil ? fileBytes : 0
        spec.deletedAgo = 3600
        let pending = try await catalog.seed(spec)
        var survivors: [SeededImage] = []
        if activeImages > 0 {
            var active = SeedSpec(images: activeImages, storeDirectory: storePath)
            active.status = .active
            active.namePrefix = "active"
            survivors += try await catalog.seed(active)
        }
        if waitingImages > 0 {
            var waiting = SeedSpec(images: waitingImages, storeDirectory: storePath)
            waiting.deletedAgo = 5
            waiting.namePrefix = "waiting"
            survivors += try await catalog.seed(waiting)
        }
        return Seeded(pending: pending, survivors: survivors)
    }

    struct RunResult {
        var seconds: Double
        var exitCodes: [Int32]
    }

    /// The rehearsal's catalog, opened (and upgraded) as a node opens it.
    func openCatalog() async throws -> any SeedableCatalog {
        var config = ScrubberConfiguration()
        config.database = databaseURL
        return try await scrubber.openCatalog(config, logger: Logger(label: "rehearsal") { _ in SwiftLogNoOpLogHandler() })
    }

    /// Starts `nodes` `scrubber run --once` processes and waits for them, reporting progress
    /// when asked (the count scans the backlog: a benchmark must not pay for it).
    func run(progress: ((_ catalog: any ScrubCatalog, _ remaining: Int, _ elapsed: Double) async -> Void)? = nil) async throws -> RunResult {
        let executable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                             ?? CommandLine.arguments[0])
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
            process.arguments = ["run", "--once", "--config-file", configPath, "--node-id", "node-\(n)", "--log-level", "warning"] + coordination
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
               let backlog = try? await watcher.backlog(scrubTime: 600, failureLimit: 0) {
                lastProgress = .now
                await progress(watcher, backlog.eligible, (ContinuousClock.now - started).seconds)
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        return RunResult(seconds: seconds, exitCodes: processes.map(\.terminationStatus))
    }

    /// Starts `scrubber serve` on a free loopback port and waits until it listens.
    private func startService(_ executable: URL) async throws -> (process: Process, url: String) {
        try "rehearsal-\(UUID().uuidString)\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        let out = directory + "/service.out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/service.log", contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--config-file", configPath, "--token-file", tokenPath, "--listen", "127.0.0.1:0", "--log-level", "warning"]
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

    struct Verdict {
        var imagesDeleted = 0
        var problems: [String] = []
    }

    /// Checks the end state through the catalog and the filesystem.
    func verify(_ seeded: Seeded) async throws -> Verdict {
        var verdict = Verdict()
        let catalog = try await openCatalog()
        for image in seeded.pending {
            let plan = try await catalog.restorePlan(imageID: image.id)
            if plan.status == .deleted && plan.locations.isEmpty { verdict.imagesDeleted += 1 } else if verdict.problems.count < 10 {
                verdict.problems.append("image \(image.id) is \(plan.status?.rawValue ?? "missing") with \(plan.locations.count) location(s) still pending_delete")
            }
            if simulatedLatency == nil, let left = image.paths.first(where: { FileManager.default.fileExists(atPath: $0) }), verdict.problems.count < 10 {
                verdict.problems.append("file \(left) of scrubbed image \(image.id) still exists")
            }
        }
        for image in seeded.survivors {
            if let gone = image.paths.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
                verdict.problems.append("file \(gone) of image \(image.id), which must survive, was deleted")
            }
            if try await catalog.restorePlan(imageID: image.id).status == .deleted {
                verdict.problems.append("image \(image.id), which must survive, was marked deleted")
            }
        }
        return verdict
    }
}
