import Foundation
import GRDB
import TestSupport

/// Runs the real `scrubber` binary, the one built beside this test bundle.
enum CLI {
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner may sit inside a .xctest bundle directory.
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("scrubber").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("scrubber").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `scrubber ARGS` in the background, inside network namespace `netns` when given
    /// (`ip netns exec` execs the binary: the process is the scrubber itself). The scrubber's
    /// own variables (`SCRUBBER_DB`, `SCRUBBER_NODE_ID`) are unset unless `environment` sets them.
    /// - Parameter launcher: a command the binary runs under (`prlimit --nofile=…`), if any.
    static func start(
        _ arguments: [String],
        in directory: String,
        netns: String? = nil,
        launcher: [String] = [],
        environment: [String: String] = [:]
    ) throws -> (Process, stdout: String, stderr: String) {
        let process = Process()
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [binary] + arguments
        } else if let netns {
            process.executableURL = URL(fileURLWithPath: NetworkNamespaces.ip)
            process.arguments = ["netns", "exec", netns, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let id = UUID().uuidString.prefix(8)
        let out = directory + "/out-\(id).txt"
        let err = directory + "/err-\(id).txt"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        var env = ProcessInfo.processInfo.environment
        env["SCRUBBER_DB"] = nil
        env["SCRUBBER_NODE_ID"] = nil
        env.merge(ChildWatchdog.environment) { $1 }
        env.merge(environment) { $1 }
        process.environment = env
        try process.run()
        return (process, out, err)
    }

    /// Runs `scrubber ARGS` to completion (killed after `timeout` seconds: a hang guard).
    static func run(_ arguments: [String], in directory: String, timeout: Double = patienceSeconds) async throws -> Result {
        let (process, out, err) = try start(arguments, in: directory)
        return try await wait(process, stdout: out, stderr: err, timeout: timeout)
    }

    /// Runs `scrubber ARGS` as a user without root's power over file permissions: `nobody`
    /// (through runuser) when the tests run as root, as CI does; as the current user otherwise.
    static func runUnprivileged(_ arguments: [String], in directory: String, timeout: Double = patienceSeconds) async throws -> Result {
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "nobody", "--", binary] : [binary]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(ChildWatchdog.environment) { $1 }
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-\(UUID().uuidString).err").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        chmod(errPath, 0o666)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
        return try await wait(process, stdout: "/dev/null", stderr: errPath, timeout: timeout)
    }

    /// Waits for `process` to end; after `timeout` seconds (a hang guard, not a bound: the
    /// default is the suite's patience) it is killed, and its status says so.
    static func wait(_ process: Process, stdout: String, stderr: String, timeout: Double = patienceSeconds) async throws -> Result {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var killedAt: ContinuousClock.Instant?
        var zombieSince: ContinuousClock.Instant?
        let pid = process.processIdentifier
        func output(_ status: Int32) -> Result {
            Result(
                status: status,
                stdout: (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
            )
        }
        // Polled, never `waitUntilExit()`: Foundation has missed a child's exit under the whole
        // suite (seen three times: the child a zombie it never reaped, `isRunning` true for good,
        // `waitUntilExit()` spinning on a cooperative thread). A zombie left unreaped for a second
        // (Foundation reaps within milliseconds) is reaped here, with its real exit status.
        while process.isRunning {
            if Self.state(pid) == "Z" {
                let since = zombieSince ?? .now
                zombieSince = since
                var status: Int32 = 0
                if ContinuousClock.now - since > .seconds(1), waitpid(pid, &status, WNOHANG) == pid {
                    // Exited: its code; killed: the signal, as Foundation reports an uncaught one.
                    return output((status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f)
                }
            }
            if let killedAt {
                if ContinuousClock.now - killedAt > .seconds(10) {
                    throw CLIError(
                        "\(process.executableURL?.lastPathComponent ?? "child") (pid \(pid)) still counts as running 10 s after SIGKILL (state \(Self.state(pid).map(String.init) ?? "gone"))"
                    )
                }
            } else if ContinuousClock.now > deadline {
                process.terminate()
                kill(process.processIdentifier, SIGKILL)
                killedAt = .now
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return output(process.terminationStatus)
    }

    /// A process's state letter from `/proc/PID/stat` (`R`, `S`, `D`, `Z`, …), or nil once it is gone.
    static func state(_ pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")"),
            let letter = stat[close...].dropFirst(2).first
        else { return nil }
        return letter
    }
}

/// A scratch directory with a writable copy of Glance's database.
final class Workspace {
    let directory: String
    var database: String { directory + "/glance.sqlite" }

    init(copyFixture: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if copyFixture {
            try FileManager.default.copyItem(atPath: GlanceFixtures.sqlite, toPath: database)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: database)
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func ids(_ file: String) throws -> [String] {
        let path = directory + "/" + file
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Seeds through `scrubber seed`; returns the new ids.
    func seed(_ arguments: [String], config: String, idsFile: String) async throws -> [String] {
        let before = try ids(idsFile).count
        let result = try await CLI.run(
            ["seed", "--config-file", config, "--ids-file", directory + "/" + idsFile] + arguments,
            in: directory
        )
        guard result.status == 0 else { throw SeedFailed(message: result.stderr) }
        return Array(try ids(idsFile).dropFirst(before))
    }

    func queue() throws -> DatabaseQueue { try DatabaseQueue(path: database) }

    func count(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try queue().read { try Int.fetchOne($0, sql: sql, arguments: arguments) ?? 0 }
    }

    func status(_ image: String) throws -> String? {
        try queue().read { try String.fetchOne($0, sql: "SELECT status FROM images WHERE id = ?", arguments: [image]) }
    }
}

struct SeedFailed: Error {
    var message: String
}

/// A failure of the test harness itself (not of the code under test).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
