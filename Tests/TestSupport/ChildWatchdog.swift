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
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID (glibc; hidden without _GNU_SOURCE)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        try closeInheritedDescriptors(&actions)  // it outlives the runner: hold none of its sockets
        // Not marked itself: the environment without the mark.
        let env = ProcessInfo.processInfo.environment.filter { $0.key != variable }.map { "\($0)=\($1)" }
        let words: [String] = ["/bin/sh", "-c", script, "scrubber-test-watchdog", "\(pid)"]
        let argv = words.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/bin/sh", &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw TestServerError("cannot start the test watchdog: \(String(cString: strerror(spawned)))") }
        return child
    }
}
