import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

/// The status page of a running 3-node cluster with a failing image, served by a node's metrics
/// listener and loaded in headless Chromium: it shows what `status --json` says, and a page
/// served before an image was scrubbed updates itself, without a reload, once it is.
///
/// `SCRUBBER_STATUS_PAGE_PNG=PATH` keeps the screenshot there (`docs/status-page.png` is made so).
@Suite(.serialized, .tags(.spawnsProcesses)) struct StatusPageClusterTests {
    @Test func theLivePageShowsWhatStatusSaysAndUpdatesAfterAScrub() async throws {
        let chromium = try #require(HeadlessChromium.find(), "no chromium (./test installs it: apt-get install chromium)")
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "c.conf",
            """
            [DEFAULT]
            scrub_pool_size = 4
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            [cluster]
            heartbeat_interval = 0.25
            """
        )
        _ = try await ws.seed(["--store", root, "--images", "400", "--bytes", "3000"], config: config, idsFile: "ok")
        // A location outside the store roots: misconfigured, it stays pending with its class.
        let failing = try await ws.seed(
            ["--store", ws.directory + "/elsewhere", "--images", "1", "--bytes", "700"],
            config: config,
            idsFile: "failing"
        )
        let node = try await MetricsNode.start(
            [
                "run", "--daemon", "--config-file", config, "--node-id", "n1",
                "--metrics-listen", "127.0.0.1:0",
            ],
            in: ws
        )
        defer { node.kill() }
        var others: [(process: Process, stdout: String, stderr: String)] = []
        defer { for other in others where other.process.isRunning { kill(other.process.processIdentifier, SIGKILL) } }
        for id in ["n2", "n3"] {
            others.append(try CLI.start(["run", "--daemon", "--config-file", config, "--node-id", id], in: ws.directory))
        }
        func status() async throws -> Data {
            let result = try await CLI.run(["status", "--json", "--config-file", config], in: ws.directory)
            guard result.status == 0 else { throw CLIError("status: \(result.status) \(result.stderr)") }
            return Data(result.stdout.utf8)
        }
        try await eventually("the backlog scrubbed but the failing image", poll: .milliseconds(100)) {
            try ws.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 1
                && ws.count("SELECT count(*) FROM scrub_assignments WHERE attempts > 0 AND failure_class = 'misconfigured'") == 1
                && ws.count(
                    "SELECT count(*) FROM scrub_nodes WHERE state = 'active' AND expires_at > (julianday('now') - 2440587.5) * 86400"
                ) == 3
        }
        let url = "http://127.0.0.1:\(node.port)/"

        // With scripts off (the server's page) and on (re-rendered from /status.json), the page
        // shows what `status --json` says: the same leader, nodes, backlog and failing image.
        for javaScript in [false, true] {
            var page: StatusPageDOM?
            var document: StatusPageDOM?
            // The page is read between two identical status documents (nothing moved meanwhile);
            // it may lag them by the listener's one shared read per second.
            try await eventually(
                "the page (JavaScript \(javaScript)) to match status --json: \(String(describing: page)) vs \(String(describing: document))",
                poll: .milliseconds(200)
            ) {
                let before = try StatusPageDOM(statusJSON: try await status())
                // With scripts on, past the page's first refresh (5 s): what its script drew from /status.json.
                page = try StatusPageDOM(
                    dom: try await chromium.dumpDOM(
                        url: url,
                        virtualTimeBudgetMilliseconds: javaScript ? 6_500 : 1_500,
                        javaScript: javaScript
                    )
                )
                document = try StatusPageDOM(statusJSON: try await status())
                return before == document && page == document
            }
            let shown = try #require(page)
            #expect(shown.renderedBy == (javaScript ? "script" : "server"))
            #expect(shown.nodes.count == 3 && shown.leader != nil)
            #expect(shown.failures.map(\.imageID) == failing && shown.failures.first?.failureClass == "misconfigured")
            #expect(shown.failureGroups.first?.failureClass == "misconfigured")
        }

        // A page served before an image was scrubbed: pause the cluster, add an image, keep the
        // page as the server renders it then, resume, and once the image is scrubbed open the
        // kept page: its script alone must bring the scrub in.
        #expect(try await CLI.run(["pause", "--config-file", config], in: ws.directory).status == 0)
        let late = try await ws.seed(["--store", root, "--images", "1", "--bytes", "5000"], config: config, idsFile: "late")
        // The listener shares one read a second among its viewers: the page catches up with the pause.
        var served = ""
        try await eventually("the page to show the pause and the new image", poll: .milliseconds(100)) {
            served = try await Self.get(url)
            let page = try StatusPageDOM(dom: served)
            return page.paused && page.backlogEligible == 2
        }
        let stale = try StatusPageDOM(dom: served)
        let saved = served.replacingOccurrences(of: "<head>", with: "<head><base href=\"\(url)\">")
        #expect(try await CLI.run(["resume", "--config-file", config], in: ws.directory).status == 0)
        try await eventually("the late image scrubbed", poll: .milliseconds(100)) { try ws.status(late[0]) == "deleted" }
        let file = try ws.write("saved.html", saved)
        // A page from file:// reading the listener's JSON: another origin, which only a browser
        // told to ignore it lets through (test-only flags). Its refresh may meet the listener's
        // shared read of a second ago, from before the scrub: then it is opened again.
        var refreshed: StatusPageDOM?
        try await eventually("the kept page to show the scrub: \(String(describing: refreshed))", poll: .milliseconds(200)) {
            refreshed = try StatusPageDOM(
                dom: try await chromium.dumpDOM(
                    url: "file://" + file,
                    virtualTimeBudgetMilliseconds: 7_000,
                    extraArguments: ["--disable-web-security", "--allow-file-access-from-files"]
                )
            )
            return refreshed?.backlogEligible == 1
        }
        let updated = try #require(refreshed)
        #expect(updated.refreshError == nil)
        #expect(updated.renderedBy == "script" && (updated.refreshes ?? 0) >= 1, "the script brought it in, not the server")
        #expect(!updated.paused)
        #expect(updated.historyImages == stale.historyImages + 1, "the scrub shows in the last hour")
        #expect(updated == (try StatusPageDOM(statusJSON: try await status())))

        // The screenshot of a 3-node cluster with a failing image.
        let png = ProcessInfo.processInfo.environment["SCRUBBER_STATUS_PAGE_PNG"] ?? ws.directory + "/status-page.png"
        try await chromium.screenshot(url: url, to: png, width: 1280, height: 1400)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 10_000)

        kill(node.process.processIdentifier, SIGTERM)
        for other in others { kill(other.process.processIdentifier, SIGTERM) }
        #expect(try await CLI.wait(node.process, stdout: node.out, stderr: node.err).status == 0)
        for other in others { #expect(try await CLI.wait(other.process, stdout: other.stdout, stderr: other.stderr).status == 0) }
    }

    static func get(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
        guard response.status.code == 200 else { throw CLIError("\(url) answered \(response.status.code)") }
        return String(buffer: try await response.body.collect(upTo: 4 << 20))
    }
}
