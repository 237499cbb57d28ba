import Foundation
import ScrubberCore
import TestSupport
import Testing

/// deploy/*.service: systemd accepts them, they are hardened, and what they start is a node
/// that joins and leaves.
@Suite(.tags(.spawnsProcesses)) struct SystemdUnitTests {
    static let units = ["scrubber.service", "scrubber@.service", "scrubber-serve.service"]
    static let nodeUnits = ["scrubber.service", "scrubber@.service"]

    /// A copy of `unit` in a scratch directory whose ExecStart runs the scrubber built beside
    /// these tests (systemd-analyze checks that the binary exists and is executable).
    static func installedCopy(_ unit: String, in ws: Workspace) throws -> String {
        let text = try Deploy.text(unit)
        #expect(text.contains("ExecStart=/usr/local/bin/scrubber "), "\(unit) starts /usr/local/bin/scrubber")
        return try ws.write(unit, text.replacingOccurrences(of: "=/usr/local/bin/scrubber ", with: "=\(CLI.binary) "))
    }

    /// verify fails on a missing binary or a bad value; an unknown key or a misplaced option
    /// is only a warning, which fails this test too.
    @Test(arguments: units)
    func systemdAnalyzeVerifiesTheUnitWithoutAWord(unit: String) async throws {
        let analyze = try Validator.locate("systemd-analyze", install: "apt-get install systemd")
        let ws = try Workspace(copyFixture: false)
        let copy = try Self.installedCopy(unit, in: ws)
        let result = try await Validator.run(analyze, ["verify", "--man=no", copy])
        #expect(result.status == 0 && result.text.isEmpty, "systemd-analyze verify \(unit) (exit \(result.status)):\n\(result.text)")
    }

    /// systemd's own exposure score (0 safe … 10 unsafe) stays at "OK" or better: the
    /// hardening is there and was not lost in an edit.
    @Test(arguments: nodeUnits)
    func theNodeUnitsAreSandboxed(unit: String) async throws {
        let analyze = try Validator.locate("systemd-analyze", install: "apt-get install systemd")
        let ws = try Workspace(copyFixture: false)
        let copy = try Self.installedCopy(unit, in: ws)
        let result = try await Validator.run(analyze, ["security", "--offline=true", "--threshold=20", copy])
        #expect(result.status == 0, "systemd-analyze security \(unit): exposure over 2.0 (exit \(result.status)):\n\(result.text)")
    }

    /// ProtectSystem=strict makes everything read-only but ReadWritePaths: those must cover
    /// every store directory and the SQLite database's directory of the example configuration.
    @Test(arguments: nodeUnits)
    func theSandboxLetsTheNodeWriteWhatTheExampleConfigurationNames(unit: String) throws {
        let file = try UnitFile(unit)
        #expect(file.values("Service", "ProtectSystem") == ["strict"])
        let writable = file.values("Service", "ReadWritePaths").flatMap { $0.split(separator: " ") }
            .map { $0.hasPrefix("-") ? String($0.dropFirst()) : String($0) }
        let config = try Deploy.configuration(try Deploy.text("glance-scrubber.conf"), file: "glance-scrubber.conf")
        var needed = config.stores.backends.flatMap(\.fileRoots).map(\.path)
        if case .sqlite(let path) = config.database { needed.append(URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        #expect(!needed.isEmpty)
        for path in needed {
            #expect(writable.contains { path == $0 || path.hasPrefix($0 + "/") }, "\(unit): \(path) is not in ReadWritePaths \(writable)")
        }
    }

    /// Every option on every ExecStart is one the scrubber's subcommand has.
    @Test(arguments: units)
    func everyExecStartOptionExists(unit: String) async throws {
        let words = try UnitFile(unit).execStart
        #expect(words.count > 2 && words[0] == "/usr/local/bin/scrubber", "\(unit): \(words)")
        let ws = try Workspace(copyFixture: false)
        let help = try await CLI.run([words[1], "--help"], in: ws.directory)
        #expect(help.status == 0, "scrubber \(words[1]) --help: \(help.stderr)")
        for option in words.dropFirst(2) where option.hasPrefix("--") {
            #expect(
                help.stdout.contains(option + " ") || help.stdout.contains(option + "\n"),
                "\(unit): scrubber \(words[1]) has no option \(option)"
            )
        }
    }

    /// The node units' ExecStart, run for real (specifiers filled in as systemd would, /etc
    /// moved into a scratch directory, the database from SCRUBBER_DB): a node joins under the
    /// id the unit gives it, and SIGTERM stops it gracefully (exit 0, membership left).
    @Test(arguments: nodeUnits)
    func theUnitStartsANodeThatJoinsAndStopsOnSIGTERM(unit: String) async throws {
        let file = try UnitFile(unit)
        let ws = try Workspace()
        let etc = ws.directory + "/etc/glance"
        try FileManager.default.createDirectory(atPath: etc + "/scrubber.d", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Deploy.directory + "/glance-scrubber.conf", toPath: etc + "/glance-scrubber.conf")
        let metrics = try Deploy.loopbackMetrics(in: ws)
        // The template's per-instance file: an instance's own metrics port.
        try FileManager.default.copyItem(atPath: metrics, toPath: etc + "/scrubber.d/2.conf")
        var arguments = file.execStart.dropFirst().map {
            $0.replacingOccurrences(of: "%H", with: "host").replacingOccurrences(of: "%i", with: "2")
        }.map { $0.hasPrefix("/etc/") ? ws.directory + $0 : $0 }
        #expect(!arguments.contains { $0.contains("%") }, "\(unit): a specifier the test does not fill in: \(arguments)")
        if !arguments.contains(etc + "/scrubber.d/2.conf") { arguments += ["--config-file", metrics] }
        let node = unit.contains("@") ? "host-2" : "host"
        try await Deploy.joinAndStop(arguments, environment: ["SCRUBBER_DB": ws.database], node: node, in: ws)
    }

    /// A restart cannot mend a configuration error (exit 2): systemd must not loop on one.
    @Test(arguments: nodeUnits)
    func aConfigurationErrorIsNotRestarted(unit: String) throws {
        let file = try UnitFile(unit)
        #expect(file.values("Service", "Restart") == ["on-failure"])
        #expect(file.values("Service", "RestartPreventExitStatus").contains("2"), "\(unit)")
        #expect(file.values("Service", "KillSignal") == ["SIGTERM"])
    }
}
