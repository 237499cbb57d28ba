import Foundation
import GRDB
import ScrubberCore
import TestSupport
import Yams

/// The files under `deploy/`, and what the tests of them share: running a validator, reading
/// a unit file, starting a node the way a unit or a manifest would.
enum Deploy {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy").path

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    /// The scrubber configuration `text` gives, through the real loader.
    static func configuration(_ text: String, file: String) throws -> ScrubberConfiguration {
        try ScrubberConfiguration(ini: try INIDocument(parsing: text, file: file))
    }

    /// A `deploy/` file's YAML, decoded as `T`; one document per file.
    static func manifest<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        let text = try self.text("kubernetes/" + name)
        let documents = try Yams.load_all(yaml: text).map { $0 }
        guard documents.count == 1 else { throw DeployError("\(name) holds \(documents.count) YAML documents; one object per file") }
        return try YAMLDecoder().decode(T.self, from: text)
    }

    /// Starts a node as a deployment would (`arguments` after the binary, `environment` on
    /// top of the tests' own), waits until `node` has joined `ws`'s catalog, stops it with
    /// SIGTERM as systemd and the kubelet do, and checks the stop was graceful: exit 0 and the
    /// membership left. (How long a stop takes is `cluster/failover-bench`'s question.)
    static func joinAndStop(_ arguments: [String], environment: [String: String], node: String, in ws: Workspace) async throws {
        let (process, out, err) = try CLI.start(arguments, in: ws.directory, environment: environment)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let state = {
            try? ws.queue().read { try String.fetchOne($0, sql: "SELECT state FROM scrub_nodes WHERE node_id = ?", arguments: [node]) }
        }
        try await eventually("\(node) joins or exits") { !process.isRunning || state() == "active" }
        guard process.isRunning, state() == "active" else {
            let result = try await CLI.wait(process, stdout: out, stderr: err)
            throw DeployError("node \(node) did not join (exit \(result.status), state \(state() ?? "none")): \(result.stderr)")
        }
        kill(process.processIdentifier, SIGTERM)
        let result = try await CLI.wait(process, stdout: out, stderr: err)
        guard result.status == 0, state() == "left" else {
            throw DeployError("node \(node) did not stop gracefully (exit \(result.status), state \(state() ?? "none")): \(result.stderr)")
        }
    }

    /// A configuration file that moves the metrics server to a free loopback port, so that a
    /// node started from a deployment's files binds nothing but loopback (later files win).
    static func loopbackMetrics(in ws: Workspace) throws -> String {
        try ws.write(
            "metrics-\(UUID().uuidString.prefix(8)).conf",
            """
            [cluster]
            metrics_listen = 127.0.0.1:\(try PostgresTestServer.freePortForTests())
            """
        )
    }
}

struct DeployError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A program the tests run to validate a file: found, or the test fails saying how to get it.
enum Validator {
    struct Output {
        var status: Int32
        var text: String
    }

    /// The path of `name` on this machine, or an error saying how to install it (.ci/run does).
    static func locate(_ name: String, install: String) throws -> String {
        let path =
            (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map { "\($0)/\(name)" } + ["/usr/bin/\(name)", "/bin/\(name)"]
        guard let found = path.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DeployError("\(name) is missing: \(install) (.ci/run does); this check is not skipped")
        }
        return found
    }

    /// Runs `executable ARGS`; `text` is its stdout and stderr together.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("validator-\(UUID().uuidString).txt").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let result = try await CLI.wait(process, stdout: log, stderr: "/dev/null")
        return Output(status: result.status, text: result.stdout)
    }
}

/// A systemd unit file: its `KEY=VALUE` lines by section, continuation lines joined.
struct UnitFile {
    let name: String
    let entries: [(section: String, key: String, value: String)]

    init(_ name: String) throws {
        self.name = name
        var entries: [(section: String, key: String, value: String)] = []
        var section = ""
        var pending = ""
        for raw in try Deploy.text(name).split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + raw.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line + " "
                continue
            }
            if line.hasPrefix("[") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                entries.append((section, String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        }
        self.entries = entries
    }

    func values(_ section: String, _ key: String) -> [String] {
        entries.filter { $0.section == section && $0.key == key }.map(\.value)
    }

    /// ExecStart's words (the units quote nothing).
    var execStart: [String] {
        values("Service", "ExecStart").last.map { $0.split(separator: " ").map(String.init) } ?? []
    }
}
