import Foundation
import GRDB
import ScrubberCore
import ScrubberSQLite
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

    var databasePath: String { directory + "/glance.sqlite" }
    var storePath: String { directory + "/images" }
    var configPath: String { directory + "/glance-scrubber.conf" }

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
            connection = sqlite:///\(databasePath)

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
        let catalog = try SQLiteCatalog(path: databasePath)
        try await catalog.upgrade()
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

    /// Starts `nodes` `scrubber run --once` processes and waits for them, reporting progress.
    func run(progress: (_ catalog: SQLiteCatalog, _ remaining: Int, _ elapsed: Double) async -> Void) async throws -> RunResult {
        let executable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                             ?? CommandLine.arguments[0])
        let started = ContinuousClock.now
        var processes: [Process] = []
        for n in 1...nodes {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["run", "--once", "--config-file", configPath, "--node-id", "node-\(n)", "--log-level", "warning"]
            _ = FileManager.default.createFile(atPath: directory + "/node-\(n).log", contents: nil)
            process.standardError = FileHandle(forWritingAtPath: directory + "/node-\(n).log")
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        let watcher = try SQLiteCatalog(path: databasePath)
        while processes.contains(where: \.isRunning) {
            try await Task.sleep(for: .milliseconds(250))
            if let backlog = try? await watcher.backlog(scrubTime: 600, failureLimit: 0) {
                await progress(watcher, backlog.eligible, (ContinuousClock.now - started).seconds)
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        return RunResult(seconds: seconds, exitCodes: processes.map(\.terminationStatus))
    }

    struct Verdict {
        var imagesDeleted = 0
        var problems: [String] = []
    }

    /// Checks the end state from the database and the filesystem.
    func verify(_ seeded: Seeded) throws -> Verdict {
        var verdict = Verdict()
        let db = try DatabaseQueue(path: databasePath)
        try db.read { db in
            for image in seeded.pending {
                let status = try String.fetchOne(db, sql: "SELECT status FROM images WHERE id = ?", arguments: [image.id])
                let open = try Int.fetchOne(db, sql: "SELECT count(*) FROM image_locations WHERE image_id = ? AND (status != 'deleted' OR deleted != 1)", arguments: [image.id]) ?? 0
                if status == "deleted" && open == 0 { verdict.imagesDeleted += 1 } else if verdict.problems.count < 10 {
                    verdict.problems.append("image \(image.id) is \(status ?? "missing") with \(open) location(s) not deleted")
                }
                if simulatedLatency == nil, let left = image.paths.first(where: { FileManager.default.fileExists(atPath: $0) }), verdict.problems.count < 10 {
                    verdict.problems.append("file \(left) of scrubbed image \(image.id) still exists")
                }
            }
            for image in seeded.survivors {
                if let gone = image.paths.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
                    verdict.problems.append("file \(gone) of image \(image.id), which must survive, was deleted")
                }
                let status = try String.fetchOne(db, sql: "SELECT status FROM images WHERE id = ?", arguments: [image.id])
                if status == "deleted" { verdict.problems.append("image \(image.id), which must survive, was marked deleted") }
            }
        }
        return verdict
    }
}
