import Foundation

/// Debian's Chromium, headless, for the status page's tests: the DOM after the page's scripts
/// ran (or with scripts off), and screenshots.
///
/// Each run gets a fresh profile (`--user-data-dir`) in a temporary directory, removed after,
/// and carries ``ChildWatchdog/environment``. It runs in a process group of its own (its zygote,
/// renderers and GPU process join it); the group is killed when the browser exits (nothing
/// lingers) or when it runs past ``deadline``. Its output goes to files, not pipes, so a chatty
/// stderr cannot block it.
///
/// The watchdog finds the browser by its mark, not its children (they overwrite their
/// environment's memory with their process titles), but they exit when the browser dies, as does
/// its crash handler (`chrome_crashpad_handler`, which starts a session of its own, outside the
/// group): seen with Chromium 156.
public struct HeadlessChromium: Sendable {
    /// The launcher (Debian's `/usr/bin/chromium` is a shell script that execs the browser).
    public var executable: String
    /// How long one run may take before it is killed and the call throws.
    public var deadline: Duration = .seconds(60)

    public init(executable: String) {
        self.executable = executable
    }

    /// `/usr/bin/chromium`, else `chromium` on `PATH`; nil when neither is there.
    public static func find() -> HeadlessChromium? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/chromium" }
        return (["/usr/bin/chromium"] + path).first { FileManager.default.isExecutableFile(atPath: $0) }.map(HeadlessChromium.init)
    }

    /// The flags every run starts with: no sandbox (as root it cannot start with one), no GPU,
    /// shared memory in /tmp (a container's /dev/shm is small), and the fresh profile.
    public static func commonArguments(profile: String) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)"]
    }

    /// The serialized DOM of `url` once the page has run for `virtualTimeBudgetMilliseconds` of
    /// virtual time (timers fire at once, so a 10 s budget takes well under a second if the page is idle).
    /// - Parameters:
    ///   - javaScript: false runs the page with scripts blocked. Not with
    ///     `--blink-settings=scriptEnabled=false`: with it Chromium 156 dumps nothing and exits 0
    ///     (seen). The fresh profile's preferences block JavaScript instead
    ///     (`profile.default_content_setting_values.javascript = 2`, the content setting behind
    ///     chrome://settings/content/javascript); `--dump-dom` still works then.
    ///   - extraArguments: more flags, such as `--allow-file-access-from-files` (a `file://` page's
    ///     `fetch` of a sibling file).
    public func dumpDOM(
        url: String,
        virtualTimeBudgetMilliseconds: Int = 10_000,
        javaScript: Bool = true,
        extraArguments: [String] = []
    ) async throws -> String {
        let dom = try await run(
            extraArguments + ["--virtual-time-budget=\(virtualTimeBudgetMilliseconds)", "--dump-dom", url],
            javaScript: javaScript
        )
        guard dom.contains("<html") else { throw TestServerError("chromium dumped no DOM for \(url): \(dom.prefix(200))") }
        return dom
    }

    /// A PNG of `url`'s first `width`×`height` pixels at `path`.
    public func screenshot(
        url: String,
        to path: String,
        width: Int = 1280,
        height: Int = 900,
        virtualTimeBudgetMilliseconds: Int = 5_000
    ) async throws {
        _ = try await run([
            "--screenshot=\(path)", "--window-size=\(width),\(height)", "--hide-scrollbars",
            "--virtual-time-budget=\(virtualTimeBudgetMilliseconds)", url,
        ])
        guard FileManager.default.fileExists(atPath: path) else { throw TestServerError("chromium wrote no screenshot at \(path)") }
    }

    /// Runs the browser with ``commonArguments(profile:)`` and `arguments`; returns its stdout.
    /// Throws with stderr's tail when it exits non-zero, and when it runs past ``deadline``.
    /// - Parameter javaScript: false blocks scripts in the fresh profile's preferences (see
    ///   ``dumpDOM(url:virtualTimeBudgetMilliseconds:javaScript:extraArguments:)``).
    public func run(_ arguments: [String], javaScript: Bool = true) async throws -> String {
        let directory = NSTemporaryDirectory() + "scrubber-chromium-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/profile/Default", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        if !javaScript {
            try Data(#"{"profile": {"default_content_setting_values": {"javascript": 2}}}"#.utf8)
                .write(to: URL(fileURLWithPath: directory + "/profile/Default/Preferences"))
        }
        let (stdout, stderr) = (directory + "/stdout", directory + "/stderr")
        let environment = ProcessInfo.processInfo.environment.merging(ChildWatchdog.environment) { $1 }
        let pid = try spawnProcess(
            executable,
            Self.commonArguments(profile: directory + "/profile") + arguments,
            environment: environment,
            output: stdout,
            errors: stderr,
            newProcessGroup: true
        )
        let status = try await Self.wait(pid, deadline: deadline)
        let errorText = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
        guard let status else {
            throw TestServerError("chromium ran over \(deadline), killed: \(arguments.joined(separator: " "))\n\(Self.tail(errorText))")
        }
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw TestServerError("chromium \(arguments.joined(separator: " ")) failed (wait status \(status)):\n\(Self.tail(errorText))")
        }
        return (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
    }

    /// Waits for `pid` (a process group's leader) to exit, then kills what is left of its group
    /// and reaps it: its wait status, or nil when it ran past `deadline` (then the whole group is
    /// killed). The leader is left unreaped until its group is killed, so the group's id cannot
    /// be reused meanwhile. A cancelled task kills the group too.
    static func wait(_ pid: pid_t, deadline: Duration) async throws -> Int32? {
        let clock = ContinuousClock()
        let end = clock.now + deadline
        var exited = false
        do {
            while clock.now < end {
                var info = siginfo_t()
                if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info.si_signo == SIGCHLD {
                    exited = true
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        } catch {
            kill(-pid, SIGKILL)
            _ = reap(pid)
            throw error
        }
        kill(-pid, SIGKILL)
        let status = reap(pid)
        return exited ? status : nil
    }

    private static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return status
    }

    private static func tail(_ text: String) -> String {
        text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }
}
