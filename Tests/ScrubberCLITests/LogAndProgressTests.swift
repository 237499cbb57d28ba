import Foundation
import TestSupport
import Testing

/// `--log-format json`, the default level's volume, and `run --once`'s progress line, on the
/// real binary (its stderr is a file here: not a terminal).
@Suite(.tags(.spawnsProcesses)) struct LogAndProgressTests {
    /// A workspace whose backlog of `images` goes to a simulated store paced at `perSecond`.
    private func backlog(_ images: Int, perSecond: Int? = nil) async throws -> (Workspace, config: String) {
        let ws = try Workspace()
        let config = try ws.write(
            "s.conf",
            """
            [DEFAULT]
            scrub_pool_size = 4
            enabled_backends = sim:simulated
            [database]
            connection = sqlite:///glance.sqlite
            [sim]
            simulated_latency = 0.001
            \(perSecond.map { "max_deletes_per_second = \($0)" } ?? "")
            """
        )
        _ = try await ws.seed(
            ["--store", ws.directory + "/images", "--images", "\(images)", "--bytes", "0", "--store-id", "sim"],
            config: config,
            idsFile: "p"
        )
        return (ws, config)
    }

    /// Every line of `stderr` as a JSON object; records an issue if some line is not one.
    private func jsonLines(_ stderr: String) -> [[String: Any]] {
        var objects: [[String: Any]] = []
        var others: [Substring] = []
        for line in stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] {
                objects.append(object)
            } else {
                others.append(line)
            }
        }
        #expect(others.isEmpty, "\(others.count) lines are not JSON objects, first: \(others.prefix(3))")
        return objects
    }

    @Test func withJSONLogsEveryStderrLineIsOneObjectAndTheDefaultLevelDoesNotLogEachImage() async throws {
        let (ws, config) = try await backlog(400)

        let result = try await CLI.run(
            ["run", "--once", "--log-format", "json", "--config-file", config, "--node-id", "json\nnode"],
            in: ws.directory
        )

        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ws.count("SELECT count(*) FROM images WHERE status = 'deleted'") >= 400)
        #expect(result.stderr.hasSuffix("\n"))
        let lines = jsonLines(result.stderr)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(Set(line.keys).isSuperset(of: ["timestamp", "level", "label", "message", "source"]), "\(line)")
            let timestamp = try #require(line["timestamp"] as? String)
            #expect(timestamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(timestamp)")
        }
        // 400 images, a handful of lines: joined, summary, left, run finished.
        #expect(lines.count <= 12, "\(lines.count) lines at info for 400 images:\n\(result.stderr)")
        let finished = try #require(lines.first { $0["message"] as? String == "run finished" })
        let metadata = try #require(finished["metadata"] as? [String: Any])
        #expect(metadata["images_deleted"] as? String == "400")
        // A newline inside a value (here the node id) stays inside its JSON string.
        #expect(lines.contains { ($0["message"] as? String)?.contains("json\nnode") == true })
    }

    @Test func atDebugEachImageHasItsOwnJSONLine() async throws {
        let (ws, config) = try await backlog(120)

        let result = try await CLI.run(
            ["run", "--once", "--log-format", "json", "--log-level", "debug", "--config-file", config],
            in: ws.directory
        )

        #expect(result.status == 0, "\(result.stderr)")
        let scrubbed = jsonLines(result.stderr).filter { $0["message"] as? String == "image scrubbed" }
        #expect(scrubbed.count == 120)
        #expect(scrubbed.allSatisfy { ($0["level"] as? String) == "debug" && ($0["metadata"] as? [String: Any])?["image"] is String })
    }

    @Test func anErrorAtExitIsJSONToo() async throws {
        let ws = try Workspace(copyFixture: false)
        let config = try ws.write("bad.conf", "[DEFAULT]\nscrub_pool_size = many\n")

        let result = try await CLI.run(["run", "--once", "--log-format", "json", "--config-file", config], in: ws.directory)

        #expect(result.status == 2)
        let lines = jsonLines(result.stderr)
        #expect(lines.count == 1)
        #expect((lines.first?["message"] as? String)?.contains("scrub_pool_size") == true)
        #expect(lines.first?["level"] as? String == "error")
    }

    @Test func forcedProgressRedrawsOneLineAtMostFourTimesASecondAndEndsAtTheTotal() async throws {
        // 150 images at 60/s: about 2.5 s of updates.
        let (ws, config) = try await backlog(150, perSecond: 60)

        let started = ContinuousClock.now
        let result = try await CLI.run(["run", "--once", "--progress", "--config-file", config], in: ws.directory)
        let seconds = (ContinuousClock.now - started) / .seconds(1)

        #expect(result.status == 0, "\(result.stderr)")
        let updates = result.stderr.components(separatedBy: "\r\u{1B}[K").compactMap { segment in
            segment.firstMatch(of: /^scrubbed (\d+)\/(\d+) images, [\d.]+\/s, (ETA [\d:-]+|done)/).map { (Int($0.1)!, Int($0.2)!) }
        }
        #expect(updates.count >= 2, "\(result.stderr)")
        #expect(Double(updates.count) <= seconds * 4 + 2, "\(updates.count) redraws in \(seconds) s")
        #expect(updates.last.map { $0 == (150, 150) } == true, "\(updates)")
        #expect(updates.allSatisfy { $0.0 <= $0.1 })
        #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.0 <= $1.0 }, "done never goes back")
        // The line ends with a newline; log lines never land in the middle of it.
        let lastProgress = try #require(result.stderr.range(of: "scrubbed 150/150 images", options: .backwards))
        #expect(result.stderr[lastProgress.upperBound...].contains("\n"))
        for line in result.stderr.split(separator: "\n") {
            #expect(line.components(separatedBy: "info scrubber").count <= 2, "two log lines on one: \(line)")
        }
    }

    @Test func withoutATerminalThereIsNoProgressLine() async throws {
        let (ws, config) = try await backlog(100, perSecond: 200)

        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)
        let suppressed = try await CLI.run(["run", "--once", "--no-progress", "--config-file", config], in: ws.directory)

        for run in [result, suppressed] {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(!run.stderr.contains("\r"))
            #expect(!run.stderr.contains("\u{1B}"))
            #expect(!run.stderr.contains("ETA"))
        }
        #expect(result.stderr.contains("run finished"))
    }

    /// `script` (util-linux) gives the run a pseudo-terminal: the line is on without a flag,
    /// and off with JSON logs.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func onATerminalTheLineIsOnByDefaultExceptWithJSONLogs() async throws {
        let (ws, config) = try await backlog(100, perSecond: 100)
        var outputs: [String] = []
        for format in ["text", "json"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", "\(CLI.binary) run --once --log-format \(format) --config-file \(config)", "/dev/null"]
            process.currentDirectoryURL = URL(fileURLWithPath: ws.directory)
            let out = ws.directory + "/tty-\(format).out"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: out)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let result = try await CLI.wait(process, stdout: out, stderr: "/dev/null")
            #expect(result.status == 0, "\(format): \(result.stdout)")
            outputs.append(result.stdout)
            _ = try await ws.seed(
                ["--store", ws.directory + "/images", "--images", "100", "--bytes", "0", "--store-id", "sim"],
                config: config,
                idsFile: "p"
            )
        }
        #expect(outputs[0].contains("\r\u{1B}[Kscrubbed 100/100 images"), "\(outputs[0])")
        #expect(!outputs[1].contains("\u{1B}[K") && !outputs[1].contains("ETA"), "\(outputs[1])")
        #expect(outputs[1].contains("run finished"))
    }

    @Test func progressRefusesJSONLogsAndDaemons() async throws {
        let ws = try Workspace()
        for arguments in [["--once", "--progress", "--log-format", "json"], ["--daemon", "--progress"]] {
            let result = try await CLI.run(["run"] + arguments + ["--db", ws.database], in: ws.directory)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("--progress"))
        }
    }
}
