import ArgumentParser
import Foundation
import ScrubberCore
import ScrubberTestKit

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Seed a fresh catalog and store, scrub it with N node processes, verify the end state, and print images/s.",
        discussion: """
            Prints one line: images/s end to end (from starting the nodes to their exit), the \
            nodes' claim-to-completion latency (p50, p99), the peak RSS of the largest node process, \
            and the limit measured in the same run: with the file store, a reference loop that only \
            unlinks as many files and marks their rows deleted, 1,000 per transaction; with swift, \
            s3 or rbd, the store's own: deletes of as many objects through the same store, \
            --pool at a time, no catalog.
            """
    )

    @Option(help: "Pending images.") var images: Int = 20_000
    @Option(help: "Locations per image.") var locations: Int = 1
    @Option(help: "Bytes per file.") var bytes: Int = 1024
    @Option(help: "Node processes (default 1; with --idle 3).") var nodes: Int?
    @Option(help: "scrub_pool_size of each node.") var pool: Int = 16
    @Option(name: .customLong("claim-batch"), help: "Images per claim transaction.") var claimBatch: Int = 512
    @Option(name: .customLong("simulated-latency"), help: "Use the simulated backend with this many seconds per delete.")
    var simulatedLatency: Double?
    @Option(help: "file, swift, s3 or rbd: the store the images' data is in (the others need --store-options).") var store: String = "file"
    @Option(
        name: .customLong("store-options"),
        help: """
            A file of the object store's options, as in its glance-api.conf section (swift: swift_store_config_file or \
            swift_store_user/key/auth_address, swift_store_container; s3: s3_store_host, s3_store_access_key, \
            s3_store_secret_key, s3_store_bucket; rbd: rbd_store_pool, rbd_store_user, rbd_store_ceph_conf); the images' \
            objects (for rbd: empty images with a protected snapshot, as glance_store makes them) are made there first.
            """
    )
    var storeOptions: String?
    @Flag(
        name: .customLong("prepare-only"),
        help: "Seed the catalog and store, print the config's path, and stop (to run another scrubber on them)."
    )
    var prepareOnly = false
    @Option(help: "Work directory (default: a new temporary one, removed afterwards).") var dir: String?
    @Option(help: "Catalog database (default: a new SQLite file in the work directory); a PostgreSQL URL must name an empty database.")
    var db: String?
    @Flag(name: .customLong("via-service"), help: "Nodes coordinate through a scrubber serve process on loopback, not the database.")
    var viaService = false
    @Flag(inversion: .prefixedNo, help: "Measure the reference loop (file store only).")
    var reference = true
    @Flag(
        name: .customLong("sync-files"),
        help: "Write the seeded files to disk before timing (as files long at rest are); default: they may still be in the page cache."
    )
    var syncFiles = false
    @Flag(
        help: """
            Measure an idle cluster instead: --nodes daemons (default 3) for --seconds on an empty catalog, then on one \
            with --history scrubbed images; prints each node's CPU seconds, the bytes they read, on PostgreSQL the rows of \
            images the server read, and the ratios.
            """
    )
    var idle = false
    @Option(help: "With --idle: already-scrubbed images in the second catalog.") var history: Int = 1_000_000
    @Option(help: "With --idle: seconds measured in each phase, after the first full sweep.") var seconds: Double = 60
    @Option(name: .customLong("wakeup-time"), help: "With --idle: the nodes' wakeup_time (the period of the full sweep).")
    var wakeupTime: Double = 300
    @Option(name: .customLong("node-executable"), help: "With --idle: the scrubber the nodes run (another build, for an A/B).")
    var nodeExecutable: String?

    func run() async throws {
        if idle { return try await runIdle() }
        let nodes = nodes ?? 1
        let directory = dir ?? (NSTemporaryDirectory() + "scrubber-bench-\(UUID().uuidString.prefix(8))")
        var rehearsal = Rehearsal(directory: directory, images: images, nodes: nodes, pool: pool, activeImages: 100, open: openBenchCatalog)
        rehearsal.locationsPerImage = locations
        rehearsal.fileBytes = bytes
        rehearsal.simulatedLatency = simulatedLatency
        rehearsal.claimBatch = claimBatch
        rehearsal.viaService = viaService
        rehearsal.syncFiles = syncFiles
        switch store {
        case "file": break
        case "swift", "s3", "rbd":
            guard let storeOptions else { throw ValidationError("--store \(store) needs --store-options FILE") }
            let options: String
            do { options = try String(contentsOfFile: storeOptions, encoding: .utf8) } catch {
                throw ValidationError("--store-options: cannot read \(storeOptions): \(error.localizedDescription)")
            }
            rehearsal.objectStore = (store, options)
        default: throw ValidationError("--store: expected file, swift, s3 or rbd, got '\(store)'")
        }
        let measureReference = reference && simulatedLatency == nil
        if measureReference { rehearsal.referenceImages = images }
        if let db {
            do { rehearsal.database = try DatabaseURL(parsing: db) } catch { throw ValidationError("--db: \(error.message)") }
        }
        let seeded = try await rehearsal.prepare()
        if prepareOnly {
            print("bench: prepared \(images) pending images in \(directory); config \(rehearsal.configPath)")
            return
        }
        let referenceSeconds =
            measureReference
            ? try await (rehearsal.objectStore == nil ? rehearsal.referenceLoop(seeded.reference) : rehearsal.objectReferenceLoop(seeded))
            : nil
        let result = try await rehearsal.run()
        let verdict = try await rehearsal.verify(seeded)
        let ok = verdict.problems.isEmpty && verdict.imagesDeleted == images && result.exitCodes.allSatisfy { $0 == 0 }
        let rate = Double(images) / result.seconds
        func ms(_ seconds: Double?) -> String { seconds.map { String(format: "%.1f", $0 * 1000) } ?? "-" }
        var line =
            "bench: images=\(images) locations/image=\(locations) bytes=\(bytes) nodes=\(nodes) pool=\(pool) "
            + "db=\(rehearsal.database.map { "\($0)" } ?? "sqlite")\(viaService ? " via=service" : "") "
            + "store=\(simulatedLatency.map { "simulated(\($0)s)" } ?? store)\(syncFiles ? " synced" : "") "
            + "seconds=\(String(format: "%.2f", result.seconds)) images/s=\(String(format: "%.0f", rate)) "
            + "latency_p50_ms=\(ms(result.latency.quantile(0.5))) latency_p99_ms=\(ms(result.latency.quantile(0.99))) "
            + "peak_rss_mb=\(String(format: "%.0f", Double(result.peakRSS) / 1_048_576))"
        if let referenceSeconds {
            let limit = Double(images) / referenceSeconds
            line += " reference_images/s=\(String(format: "%.0f", limit)) of_reference=\(String(format: "%.2f", rate / limit))"
        }
        print(line + " verified=\(ok ? "PASS" : "FAIL")")
        for problem in verdict.problems { printError("  problem: \(problem)") }
        if !ok {
            printError("bench: node logs are in \(directory) (kept)")
            throw ExitStatus.fatal
        }
        if dir == nil { try? FileManager.default.removeItem(atPath: directory) }
    }

    func runIdle() async throws {
        let directory = dir ?? (NSTemporaryDirectory() + "scrubber-idle-\(UUID().uuidString.prefix(8))")
        let nodeCount = nodes ?? 3
        var bench = IdleBench(
            directory: directory,
            history: history,
            nodes: nodeCount,
            seconds: seconds,
            wakeupTime: wakeupTime,
            nodeExecutable: nodeExecutable,
            open: openBenchCatalog
        )
        if let db {
            do { bench.database = try DatabaseURL(parsing: db) } catch { throw ValidationError("--db: \(error.message)") }
        }
        let dbName = bench.database.map { "\($0)" } ?? "sqlite"
        print(
            "bench idle: db=\(dbName) nodes=\(nodeCount) history=\(history) seconds=\(seconds) wakeup_time=\(wakeupTime)"
                + (nodeExecutable.map { " nodes_run=\($0)" } ?? "")
        )
        let (empty, full) = try await bench.run { print($0) }
        func f(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
        func mb(_ bytes: Int) -> String { f(Double(bytes) / 1_048_576, 1) }
        func perMinute(_ usage: IdleBench.Usage) -> String {
            usage.imagesRows.map { f(Double($0) / usage.seconds * 60, 0) } ?? "-"
        }
        for phase in [empty, full] {
            let u = phase.idle
            print(
                "  catalog=\(phase.catalogImages) start: cpu_s=\(f(phase.start.cpuTotal)) read_MB=\(mb(phase.start.readTotal)) "
                    + "images_rows=\(phase.start.imagesRows.map(String.init) ?? "-") seconds=\(f(phase.start.seconds, 1))"
                    + (phase.sweepSeen ? "" : " (no full sweep recorded)")
            )
            print(
                "  catalog=\(phase.catalogImages) idle: cpu_s/node=[\(u.cpuSeconds.map { f($0) }.joined(separator: ","))] "
                    + "cores=\(f(u.cpuTotal / u.seconds, 3)) read_MB/node=[\(u.readBytes.map(mb).joined(separator: ","))] "
                    + "read_calls=\(u.readCalls.reduce(0, +)) images_rows/min=\(perMinute(u)) seconds=\(f(u.seconds, 1))"
            )
            print(
                "  catalog=\(phase.catalogImages) an image glance-api deleted, scrubbed \(phase.found.map { f($0) + " s" } ?? "not within 60 s") "
                    + "after it became eligible (scrub_time \(f(IdleBench.scrubTime, 0)) s)"
            )
        }
        func ratio(_ a: Double, _ b: Double) -> String { b > 0 ? f(a / b) : (a > 0 ? "inf" : "1.00") }
        let (e, h) = (empty.idle, full.idle)
        var line =
            "  ratio history/empty (idle window): cpu=\(ratio(h.cpuTotal / h.seconds, e.cpuTotal / e.seconds)) "
            + "read_bytes=\(ratio(Double(h.readTotal) / h.seconds, Double(e.readTotal) / e.seconds))"
        if let hr = h.imagesRows, let er = e.imagesRows {
            line += " images_rows=\(ratio(Double(hr) / h.seconds, Double(er) / e.seconds)) (\(hr) vs \(er) rows)"
        }
        print(line)
        // The full sweep's cost (the start phases' difference), spread over wakeup_time.
        let sweepCPU = full.start.cpuTotal - empty.start.cpuTotal
        let sweepBytes = full.start.readTotal - empty.start.readTotal
        var sweep = "  full sweep of \(history) (start, history − empty): cpu_s=\(f(sweepCPU)) read_MB=\(mb(sweepBytes))"
        if let hr = full.start.imagesRows, let er = empty.start.imagesRows { sweep += " images_rows=\(hr - er)" }
        let idleCPU = e.cpuTotal / e.seconds * wakeupTime
        let idleBytes = Double(e.readTotal) / e.seconds * wakeupTime
        sweep +=
            "; with one per wakeup_time: cpu=\(ratio(h.cpuTotal / h.seconds * wakeupTime + sweepCPU, idleCPU))"
            + " read_bytes=\(ratio(Double(h.readTotal) / h.seconds * wakeupTime + Double(sweepBytes), idleBytes))"
        if let hr = h.imagesRows, let sweepRows = full.start.imagesRows.flatMap({ x in empty.start.imagesRows.map { x - $0 } }) {
            sweep += " images_rows/min=\(f((Double(hr) / h.seconds * wakeupTime + Double(sweepRows)) / wakeupTime * 60, 0))"
        }
        print(sweep)
        if dir == nil { try? FileManager.default.removeItem(atPath: directory) }
    }
}
