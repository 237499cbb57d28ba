import Foundation
import Synchronization

/// A throwaway PostgreSQL server for tests: `initdb` into a temp directory, listening on
/// 127.0.0.1 only, on a free port, with a private socket directory, `fsync=off`, SCRAM
/// passwords. As root, the server's programs run as the `postgres` user (they refuse root).
/// Stopped when the test process exits; when it dies instead, ``ChildWatchdog`` stops the
/// server, and a directory left behind is removed by the next run.
public final class PostgresTestServer: Sendable {
    public static let user = "postgres"
    public static let password = "scrub-test-pw"

    public let directory: String
    public let port: Int
    private let binaries: String

    /// One server per test process, shared by the tests that need only a database of their own.
    public static func shared() async throws -> PostgresTestServer {
        try await SharedServer.instance.get()
    }

    /// A new server of the caller's own (for tests that stop or restart it).
    public static func start() async throws -> PostgresTestServer {
        try await offload {
            sweepAbandoned()
            let server = try PostgresTestServer()
            try server.startServer()
            Registry.all.withLock { $0.append(server) }
            return server
        }
    }

    /// Runs blocking work (initdb, pg_ctl, psql wait for their processes) on a thread of its
    /// own: blocking the test process's few cooperative threads would stall every other test
    /// running at once, long enough to lapse their nodes' memberships.
    public static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    private init() throws {
        guard let bin = Self.findBinaries() else {
            throw TestServerError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install postgresql)")
        }
        binaries = bin
        directory = "/tmp/scrubber-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        // Below the ephemeral range: a restart must find its port free, and a client's
        // outgoing connection may take any ephemeral one while the server is down.
        port = try Ports.stable()
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o777]
        )
        let pwfile = directory + "/pw"
        try Self.password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: pwfile)
        try run(
            binaries + "/initdb",
            [
                "-D", dataDirectory, "-U", Self.user, "--auth=scram-sha-256", "--pwfile=\(pwfile)",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ]
        )
    }

    public var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/server.log" }

    /// `postgresql://postgres:…@127.0.0.1:PORT/NAME`
    public func url(database: String, password: String = PostgresTestServer.password) -> String {
        "postgresql://\(Self.user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// Starts the server (again, after ``stop()``) and waits until it accepts connections.
    public func startServer() throws {
        let options =
            "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c synchronous_commit=off"
            + " -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"
        try run(binaries + "/pg_ctl", ["-D", dataDirectory, "-l", logFile, "-o", options, "-w", "-t", "60", "start"])
    }

    /// Stops the server: `fast` ends sessions and shuts down cleanly, `immediate` is a crash.
    public func stop(mode: String = "fast") throws {
        try run(binaries + "/pg_ctl", ["-D", dataDirectory, "-m", mode, "-w", "-t", "60", "stop"])
    }

    /// Stops the server and deletes its directory.
    public func destroy() {
        try? stop(mode: "immediate")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Creates a database holding Glance's schema exactly as `glance-manage db_sync` makes it
    /// on PostgreSQL (the fixture dump), and returns its name.
    public func createGlanceDatabase() async throws -> String {
        try await Templates.shared.ensure(self)
        let name = "glance_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        _ = try await Self.offload { try self.psql(database: "postgres", command: "CREATE DATABASE \(name) TEMPLATE glance_template") }
        return name
    }

    /// Makes `glance_template` (blocking): the fixture dump loaded into a database of its own.
    fileprivate func makeGlanceTemplate() throws {
        guard FileManager.default.isReadableFile(atPath: Self.glanceSchemaFile) else {
            throw TestServerError("Glance's PostgreSQL schema fixture is missing: \(Self.glanceSchemaFile)")
        }
        // A half-made template (a failed load) is dropped, so the next test reports the real
        // error again instead of "already exists".
        try psql(database: "postgres", command: "DROP DATABASE IF EXISTS glance_template")
        try psql(database: "postgres", command: "CREATE DATABASE glance_template")
        do {
            try psql(database: "glance_template", file: Self.glanceSchemaFile)
        } catch {
            _ = try? psql(database: "postgres", command: "DROP DATABASE IF EXISTS glance_template")
            throw error
        }
    }

    /// Creates an empty database and returns its name.
    public func createEmptyDatabase() async throws -> String {
        let name = "empty_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        _ = try await Self.offload { try self.psql(database: "postgres", command: "CREATE DATABASE \(name)") }
        return name
    }

    /// Runs SQL through `psql` and returns its unaligned, tuples-only output.
    @discardableResult
    public func psql(database: String, command: String? = nil, file: String? = nil) throws -> String {
        var arguments = [
            "-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database, "-v", "ON_ERROR_STOP=1",
            "-X", "-q", "-A", "-t",
        ]
        if let command { arguments += ["-c", command] }
        if let file { arguments += ["-f", file] }
        return try Self.exec(binaries + "/psql", arguments, environment: ["PGPASSWORD": Self.password])
    }

    static var glanceSchemaFile: String { GlanceFixtures.postgresqlSchema }

    // MARK: Processes

    private func run(_ program: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try Self.exec("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
        } else {
            try Self.exec(program, arguments)
        }
    }

    /// Runs `program` to its end (posix_spawn and a blocking waitpid: the server `pg_ctl`
    /// starts keeps the descriptors it inherited, so output goes to a file, never a pipe).
    @discardableResult
    static func exec(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let outputPath = NSTemporaryDirectory() + "scrubber-exec-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let env = ProcessInfo.processInfo.environment.merging(ChildWatchdog.environment) { $1 }.merging(environment) { $1 }
        let pid = try spawnProcess(program, arguments, environment: env, output: outputPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw TestServerError("waitpid failed for \(program)") }
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw TestServerError("\(program) \(arguments.joined(separator: " ")) failed (wait status \(status)): \(text)")
        }
        return text
    }

    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted(by: >).map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
    }

    /// A port no one listens on now, for tests of an absent server.
    public static func freePortForTests() throws -> Int { try Ports.ephemeral() }

    /// Stops servers whose test process is gone (a crashed or killed run).
    static func sweepAbandoned() {
        Registry.sweep.withLock { swept in
            guard !swept else { return }
            swept = true
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
            for name in names where name.hasPrefix("scrubber-pg-") {
                let parts = name.split(separator: "-")
                guard parts.count >= 4, let pid = Int32(parts[2]), pid != getpid(), kill(pid, 0) != 0 else { continue }
                let dir = "/tmp/" + name
                if let bin = findBinaries() {
                    let program = bin + "/pg_ctl"
                    let args = ["-D", dir + "/data", "-m", "immediate", "stop"]
                    _ = try? exec(
                        getuid() == 0 ? "/usr/sbin/runuser" : program,
                        getuid() == 0 ? ["-u", "postgres", "--", program] + args : args
                    )
                }
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
    }
}

/// Every server this process started, stopped at exit.
private enum Registry {
    static let all: Mutex<[PostgresTestServer]> = {
        atexit { Registry.all.withLock { servers in for server in servers { server.destroy() } } }
        return Mutex([])
    }()
    static let sweep = Mutex(false)
}

private actor SharedServer {
    static let instance = SharedServer()
    private var starting: Task<PostgresTestServer, any Error>?

    func get() async throws -> PostgresTestServer {
        if let starting { return try await starting.value }
        let task = Task { try await PostgresTestServer.start() }
        starting = task
        return try await task.value
    }
}

/// One Glance template per server, made once however many tests ask at the same time.
private actor Templates {
    static let shared = Templates()
    private var made: [Int: Task<Void, any Error>] = [:]

    func ensure(_ server: PostgresTestServer) async throws {
        if let task = made[server.port] {
            do { return try await task.value } catch {
                made[server.port] = nil
                throw error
            }
        }
        let task = Task { try await PostgresTestServer.offload { try server.makeGlanceTemplate() } }
        made[server.port] = task
        do { try await task.value } catch {
            made[server.port] = nil
            throw error
        }
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
