import Foundation
import TestSupport
import Testing

/// A test runner that dies leaves no daemon behind: what it spawned carries its mark, and a
/// watchdog stops every marked process once the runner is gone.
@Suite(.tags(.spawnsProcesses)) struct WatchdogTests {
    @Test func aDaemonWhoseTestRunnerDiesIsStopped() async throws {
        let ws = try Workspace()
        // A stand-in for the runner: a process this test can kill without killing itself.
        let runner = Process()
        runner.executableURL = URL(fileURLWithPath: "/bin/sleep")
        runner.arguments = ["600"]
        try runner.run()
        defer { if runner.isRunning { kill(runner.processIdentifier, SIGKILL) } }
        let watchdog = try ChildWatchdog.watch(pid: runner.processIdentifier)
        defer { kill(watchdog, SIGKILL) }

        let mark = [ChildWatchdog.variable: "\(runner.processIdentifier)"]
        let (daemon, out, err) = try CLI.start(
            ["run", "--daemon", "--db", ws.database, "--node-id", "orphan"],
            in: ws.directory,
            environment: mark
        )
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        // Another daemon of this runner's: the watchdog of the stand-in must leave it alone.
        let (bystander, _, _) = try CLI.start(["run", "--daemon", "--db", ws.database, "--node-id", "bystander"], in: ws.directory)
        defer { if bystander.isRunning { kill(bystander.processIdentifier, SIGKILL) } }
        try await eventually("both daemons joined") {
            (try? ws.count("SELECT count(*) FROM scrub_nodes WHERE state = 'active'")) == 2  // the table appears with the first join
        }

        kill(runner.processIdentifier, SIGKILL)
        // Waited on as an event: CLI.wait would SIGKILL it itself at the end of its patience.
        let pid = daemon.processIdentifier
        try await eventually("the watchdog stopped the daemon") { !daemon.isRunning || CLI.state(pid) == "Z" }
        let result = try await CLI.wait(daemon, stdout: out, stderr: err, timeout: patience.seconds)
        #expect([SIGQUIT, SIGKILL].contains(result.status), "ended by the watchdog's signal, not \(result.status): \(result.stderr)")
        #expect(bystander.isRunning, "a process without the stand-in's mark is not touched")
    }
}
