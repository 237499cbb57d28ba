import Foundation
import Testing

/// `--log-format json` and the default level's volume, on the real binary.
@Suite struct LogAndProgressTests {
    /// A workspace whose backlog of `images` goes to a simulated store paced at `perSecond`.
    private func backlog(_ images: Int, perSecond: Int? = nil) async throws -> (Workspace, config: String) {
        let ws = try Workspace()
        let config = try ws.write("s.conf", """
            [DEFAULT]
            scrub_pool_size = 4
            enabled_backends = sim:simulated
            [database]
            connection = sqlite:///glance.sqlite
            [sim]
            simulated_latency = 0.001
            \(perSecond.map { "max_deletes_per_second = \($0)" } ?? "")
            """)
        _ = try await ws.seed(["--store", ws.directory + "/images", "--images", "\(images)", "--bytes", "0", "--store-id", "sim"],
                              config: config, idsFile: "p")
        return (ws, config)
    }

    /// Every line of `stderr` as a JSON object; records an issue if some line is not one.
    private func jsonLines(_ stderr: String) -> [[String: Any]] {
        var objects: [[String: Any]] = [], others: [Substring] = []
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

        let result = try await CLI.run(["run", "--once", "--log-format", "json", "--config-file", config, "--node-id", "json\nnode"],
                                       in: ws.directory)

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

        let result = try await CLI.run(["run", "--once", "--log-format", "json", "--log-level", "debug", "--config-file", config],
                                       in: ws.directory)

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
}
