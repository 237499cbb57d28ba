import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberStores

/// `scrubber bench --idle`: what an idle cluster costs, on an empty catalog and on one that
/// keeps a long history of scrubbed images, in one run on one database.
///
/// Each phase starts `nodes` daemon processes, waits until they settle (a leader has finished
/// its first full sweep), then measures a window of `seconds`: each node's CPU time
/// (`/proc/PID/stat`), the bytes its read system calls returned (`/proc/PID/io` `rchar`: SQLite
/// reads its file with `pread`), and on PostgreSQL the rows of `images` the server read
/// (`pg_stat_user_tables`). Between the phases the history is seeded and the leader's sweep
/// forgotten, so the second phase starts as a fresh cluster would on that catalog.
public struct IdleBench {
    public var open: Rehearsal.Opener
    public var directory: String
    public var database: DatabaseURL?
    public var history: Int
    public var nodes: Int
    public var seconds: Double
    public var wakeupTime: Double
    /// The program the nodes run (another build's, for an A/B); default: this one.
    public var nodeExecutable: String?
    /// How long to wait for the first full sweep before measuring anyway (nodes of a version
    /// that keeps no sweep state never report one).
    public var settleLimit: Double = 60

    /// The nodes' scrub_time: the probe's image becomes eligible this long after Glance deleted it.
    public static let scrubTime = 3.0

    public init(
        directory: String,
        history: Int,
        nodes: Int,
        seconds: Double,
        wakeupTime: Double,
        nodeExecutable: String? = nil,
        open: @escaping Rehearsal.Opener
    ) {
        self.directory = directory
        self.history = history
        self.nodes = nodes
        self.seconds = seconds
        self.wakeupTime = wakeupTime
        self.nodeExecutable = nodeExecutable
        self.open = open
    }

    public var databaseURL: DatabaseURL { database ?? .sqlite(path: directory + "/glance.sqlite") }
    public var configPath: String { directory + "/glance-scrubber.conf" }

    public struct Usage {
        public var cpuSeconds: [Double]
        public var readBytes: [Int]
        public var readCalls: [Int]
        /// Rows of `images` the database read (PostgreSQL only).
        public var imagesRows: Int?
        public var seconds: Double

        public static func - (a: Usage, b: Usage) -> Usage {
            Usage(
                cpuSeconds: zip(a.cpuSeconds, b.cpuSeconds).map { $0 - $1 },
                readBytes: zip(a.readBytes, b.readBytes).map { $0 - $1 },
                readCalls: zip(a.readCalls, b.readCalls).map { $0 - $1 },
                imagesRows: a.imagesRows.flatMap { x in b.imagesRows.map { x - $0 } },
                seconds: a.seconds - b.seconds
            )
        }
        public var cpuTotal: Double { cpuSeconds.reduce(0, +) }
        public var readTotal: Int { readBytes.reduce(0, +) }
    }

    public struct Phase {
        public var catalogImages: Int
        /// From start to settled (the first full sweep included) and 11 s more.
        public var start: Usage
        public var sweepSeen: Bool
        /// The idle window.
        public var idle: Usage
        /// After the window, an image deleted as glance-api deletes one: seconds from its
        /// becoming eligible (deleted_at + scrub_time) to its being recorded `deleted`.
        public var found: Double?
    }

    public func run(report: (String) -> Void) async throws -> (empty: Phase, history: Phase) {
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        try """
        [DEFAULT]
        scrub_time = \(Self.scrubTime)
        wakeup_time = \(wakeupTime)

        [database]
        connection = \(databaseURL.connectionString)

        [glance_store]
        filesystem_store_datadir = \(directory)/images

        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let catalog = try await open(databaseURL)
        let empty = try await phase(catalog, images: 0)
        report("  empty catalog measured")
        if history > 0 {
            var spec = SeedSpec(images: history, storeDirectory: directory + "/images")
            spec.status = .deleted
            spec.deletedAgo = 30 * 86_400
            spec.namePrefix = "history"
            let started = ContinuousClock.now
            _ = try await catalog.seed(spec)
            report("  seeded \(history) scrubbed images in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
        }
        try await catalog.forgetSweep()
        let full = try await phase(catalog, images: history)
        return (empty, full)
    }

    private func phase(_ catalog: any SeedableCatalog, images: Int) async throws -> Phase {
        let executable = nodeExecutable ?? Rehearsal.thisExecutable
        var processes: [Process] = []
        defer {
            for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        let started = try await sample(processes: [], catalog: catalog)
        for n in 1...nodes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["run", "--daemon", "--config-file", configPath, "--node-id", "idle-\(n)", "--log-level", "warning"]
            let log = directory + "/idle-\(images)-node-\(n).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        var begin = started
        begin.cpuSeconds = Array(repeating: 0, count: nodes)
        begin.readBytes = Array(repeating: 0, count: nodes)
        begin.readCalls = Array(repeating: 0, count: nodes)
        // Settled: a leader has finished its first full sweep.
        let deadline = ContinuousClock.now + .seconds(settleLimit)
        var sweepSeen = false
        while ContinuousClock.now < deadline {
            guard processes.allSatisfy(\.isRunning) else {
                throw CatalogError.unavailable("an idle node exited early; see \(directory)/idle-\(images)-node-*.log")
            }
            if let view = try? await catalog.leaderView(scrubTime: 0, limit: 0, scan: .full(after: nil)),
                view.sweep.fullCompletedAt != nil
            {
                sweepSeen = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // PostgreSQL's backends report their table statistics up to 10 s late (when idle): the
        // first sweep's reads must land in the start phase, not in the window.
        try await Task.sleep(for: .seconds(11))
        let settled = try await sample(processes: processes, catalog: catalog)
        try await Task.sleep(for: .seconds(seconds))
        let ended = try await sample(processes: processes, catalog: catalog)
        let found = try await probe(catalog)
        for p in processes { p.terminate() }
        for p in processes { p.waitUntilExit() }
        return Phase(catalogImages: images, start: settled - begin, sweepSeen: sweepSeen, idle: ended - settled, found: found)
    }

    /// Deletes an image as glance-api does (`pending_delete`, `deleted_at` and `updated_at` now)
    /// and times how long after it became eligible the idle cluster scrubbed it (nil: not within a minute).
    private func probe(_ catalog: any SeedableCatalog) async throws -> Double? {
        var spec = SeedSpec(images: 1, storeDirectory: directory + "/images")
        spec.deletedAgo = 0
        spec.namePrefix = "probe"
        let deleted = Date().timeIntervalSince1970
        let image = try await catalog.seed(spec)[0].id
        let eligible = deleted + Self.scrubTime
        while Date().timeIntervalSince1970 < eligible + 60 {
            if try await catalog.imageStates([image])[image]?.status == ImageStatus.deleted.rawValue {
                return Date().timeIntervalSince1970 - eligible
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Each process's CPU seconds and read counters, the database's rows read, and the time.
    private func sample(processes: [Process], catalog: any SeedableCatalog) async throws -> Usage {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var usage = Usage(
            cpuSeconds: [],
            readBytes: [],
            readCalls: [],
            imagesRows: try await catalog.imagesRowsRead(),
            seconds: ProcessInfo.processInfo.systemUptime
        )
        for p in processes {
            let pid = p.processIdentifier
            // /proc/PID/stat: fields after the parenthesised name; utime and stime are the 14th and 15th.
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last.map { $0.split(separator: " ") } ?? []
            let cpu = fields.count > 12 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
            usage.cpuSeconds.append(cpu / ticks)
            let io = (try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)) ?? ""
            func field(_ name: String) -> Int {
                io.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            usage.readBytes.append(field("rchar"))
            usage.readCalls.append(field("syscr"))
        }
        return usage
    }
}
