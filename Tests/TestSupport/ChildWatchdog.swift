import Foundation
import Synchronization

/// Stops what the tests spawned when the test runner dies, however it dies (a crash, SIGKILL,
/// a CI timeout): a spawned daemon or database server must not outlive its test.
///
/// Every process a test starts carries ``environment`` (`SCRUBBER_TEST_RUNNER=<runner pid>`),
/// which its own children inherit. The first use starts one watchdog, a shell in a session of
/// its own that polls the runner's pid once a second. Once the runner is gone it sends every
/// process still carrying the runner's mark SIGQUIT (PostgreSQL's immediate shutdown, which
/// frees its shared memory; the end of anything else), SIGKILL two seconds later to any left,
/// and exits. The mark is read from each process's environment, so a reused pid is never hit.
public enum ChildWatchdog {
    public static let variable = "SCRUBBER_TEST_RUNNER"

    /// The mark to add to a spawned process's environment; starts the watchdog on first use.
    public static var environment: [String: String] {
        _ = started
        return [variable: "\(getpid())"]
    }

    /// The watchdog's script: `$1` is the pid to watch. Exposed so a test can watch a pid of its own.
    public static let script = """
        runner=$1
        while kill -0 "$runner" 2>/dev/null; do sleep 1; done
        signal_marked() {
            for f in /proc/[0-9]*/environ; do
                if tr '\\000' '\\n' < "$f" 2>/dev/null | grep -qx "\(variable)=$runner"; then
                    pid=${f#/proc/}; kill "-$1" "${pid%/environ}" 2>/dev/null
                fi
            done
        }
        signal_marked QUIT
        sleep 2
        signal_marked KILL
        """

    private static let started: Bool = {
        do {
            _ = try watch(pid: getpid())
            return true
        } catch {
            FileHandle.standardError.write(Data("warning: no test watchdog: \(error)\n".utf8))
            return false
        }
    }()

    /// Starts a watchdog of `pid` (in a session of its own, so the runner's death and its
    /// terminal's signals do not reach it). Returns the watchdog's pid.
    public static func watch(pid: pid_t) throws -> pid_t {
        // It outlives the runner: none of its sockets; and not marked itself.
        let env = ProcessInfo.processInfo.environment.filter { $0.key != variable }
        let child = try spawnProcess(
            "/bin/sh",
            ["-c", script, "scrubber-test-watchdog", "\(pid)"],
            environment: env,
            output: nil,
            newSession: true
        )
        return child
    }
}
