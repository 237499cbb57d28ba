import Foundation
import TestSupport
import Testing

/// A short pass of `cluster/chaos` (kills, pauses past the lease, restarts and restores against
/// a live 3-node cluster), so every change meets faults in CI. Long runs: RELIABILITY.md.
@Suite(.tags(.spawnsProcesses)) struct ChaosTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cluster/chaos").path

    @Test func aShortChaosRunLosesNothingAndDeletesNothingItMustNot() async throws {
        let ws = try Workspace(copyFixture: false)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Self.script, "--nodes", "3", "--images", "2000", "--active", "50",
            "--duration", "15", "--settle", "120", "--bin", CLI.binary, "--dir", ws.directory + "/chaos",
        ]
        let out = ws.directory + "/chaos.out"
        let err = ws.directory + "/chaos.err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        let result = try await CLI.wait(process, stdout: out, stderr: err, timeout: 300)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let summary = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("chaos: ") })
        #expect(summary.contains("violations=0"), "\(result.stdout)")
        #expect(!summary.contains("kills=0 pauses=0"), "faults must have happened: \(summary)")
    }
}
