import Foundation
import ScrubberCore
import ScrubberTelemetry
import TestSupport
import Testing

/// The status page (`StatusPage.html`) in a real browser, headless Chromium: what it shows with
/// scripts off, what its script re-renders from the JSON it fetches (a `file://` sibling, which
/// `--allow-file-access-from-files` lets `fetch` read), and how it looks on a wide screen and a phone.
/// `SCRUBBER_STATUS_PAGE_SCREENSHOTS=DIR` keeps the screenshots and the page in DIR.
@Suite(.serialized, .tags(.spawnsProcesses)) struct StatusPageBrowserTests {
    static let fileFetch = ["--allow-file-access-from-files"]

    @Test func withoutJavaScriptThePageShowsTheWholeStatus() async throws {
        let ws = try Workspace(copyFixture: false)
        // With scripts on, this page would show status.json's status after 1 s.
        let page = try ws.write("page.html", StatusPage.html(Self.status, refreshSeconds: 1))
        try ws.write("status.json", String(decoding: try Self.json(Self.changed), as: UTF8.self))
        let dom = try await Self.chromium().dumpDOM(
            url: "file://" + page,
            virtualTimeBudgetMilliseconds: 2_500,
            javaScript: false,
            extraArguments: Self.fileFetch
        )
        let shown = try StatusPageDOM(dom: dom)
        #expect(shown == (try StatusPageDOM(statusJSON: Self.json(Self.status))))
        #expect(shown.renderedBy == "server")
        #expect(shown.refreshes == 0 && shown.refreshError == nil)
        #expect(shown.leader?.node == "node-b" && shown.paused && shown.failureGroups.count == 2)
        #expect(dom.contains("Paused</strong> since 2026-12-05T09:00:00Z by alice@ops-1"))
        #expect(dom.contains("drained by alice@ops-1"))
        #expect(dom.contains("pool/child-1"))
        #expect(dom.components(separatedBy: "<rect class=\"bar\"").count - 1 == 120)
    }

    @Test func theScriptRefreshesFromTheJSON() async throws {
        let ws = try Workspace(copyFixture: false)
        let page = try ws.write("page.html", StatusPage.html(Self.status, refreshSeconds: 1))
        try ws.write("status.json", String(decoding: try Self.json(Self.changed), as: UTF8.self))
        // 3.5 s of virtual time: refreshes at 1, 2 and 3 s.
        let dom = try await Self.chromium().dumpDOM(
            url: "file://" + page,
            virtualTimeBudgetMilliseconds: 3_500,
            extraArguments: Self.fileFetch
        )
        let shown = try StatusPageDOM(dom: dom)
        #expect(shown.refreshError == nil)
        #expect(shown.renderedBy == "script")
        #expect((shown.refreshes ?? 0) >= 1)
        #expect(shown == (try StatusPageDOM(statusJSON: Self.json(Self.changed))))
        #expect(shown != (try StatusPageDOM(statusJSON: Self.json(Self.status))))
        #expect(!shown.paused && shown.backlogEligible == 1_200 && shown.failures.count == 2)
    }

    /// One renderer per language, the same markup: the script's `<main>` from the JSON of the
    /// status the server rendered is the server's, character for character (both as Chromium serializes them).
    @Test func theScriptRendersTheServersMarkup() async throws {
        let ws = try Workspace(copyFixture: false)
        let page = try ws.write("page.html", StatusPage.html(Self.status, refreshSeconds: 1))
        try ws.write("status.json", String(decoding: try Self.json(Self.status), as: UTF8.self))
        let chromium = try Self.chromium()
        let server = try await chromium.dumpDOM(url: "file://" + page, virtualTimeBudgetMilliseconds: 1_500, javaScript: false)
        let script = try await chromium.dumpDOM(url: "file://" + page, virtualTimeBudgetMilliseconds: 1_500, extraArguments: Self.fileFetch)
        #expect(try StatusPageDOM(dom: script).renderedBy == "script")
        let serverMain = StatusPageDOM.main(of: server)
        #expect(serverMain != nil)
        #expect(StatusPageDOM.main(of: script) == serverMain)
    }

    @Test func aFailedRefreshKeepsTheLastDataAndSaysSo() async throws {
        let ws = try Workspace(copyFixture: false)
        let page = try ws.write("page.html", StatusPage.html(Self.status, refreshSeconds: 1))
        // No status.json beside it.
        let dom = try await Self.chromium().dumpDOM(
            url: "file://" + page,
            virtualTimeBudgetMilliseconds: 1_500,
            extraArguments: Self.fileFetch
        )
        let shown = try StatusPageDOM(dom: dom)
        #expect(shown.refreshError?.isEmpty == false)
        #expect(shown.renderedBy == "server")
        #expect(shown == (try StatusPageDOM(statusJSON: Self.json(Self.status))))
        #expect(dom.contains("<p id=\"refresh-error\" role=\"status\">Refresh failed ("))
    }

    @Test func screenshotsOnAWideScreenAndAPhone() async throws {
        let ws = try Workspace(copyFixture: false)
        let page = try ws.write("page.html", StatusPage.html(Self.status))
        let chromium = try Self.chromium()
        for (name, width, height) in [("wide", 1280, 900), ("phone", 390, 844)] {
            let png = ws.directory + "/\(name).png"
            try await chromium.screenshot(
                url: "file://" + page,
                to: png,
                width: width,
                height: height,
                virtualTimeBudgetMilliseconds: 1_000
            )
            let data = try Data(contentsOf: URL(fileURLWithPath: png))
            #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(name): not a PNG")
            #expect(data.count > 10_000, "\(name): \(data.count) bytes")
        }
        if let keep = ProcessInfo.processInfo.environment["SCRUBBER_STATUS_PAGE_SCREENSHOTS"] {
            for file in ["wide.png", "phone.png", "page.html"] {
                try? FileManager.default.removeItem(atPath: keep + "/status-page-" + file)
                try FileManager.default.copyItem(atPath: ws.directory + "/" + file, toPath: keep + "/status-page-" + file)
            }
        }
    }

    /// A browser that never finishes (headless with a DevTools port and no --dump-dom stays up) is
    /// killed at the deadline with its whole process group, and its profile is removed.
    @Test func aBrowserPastItsDeadlineIsKilledWithItsChildren() async throws {
        var chromium = try Self.chromium()
        chromium.deadline = .seconds(3)
        let running = Task { [chromium] in try await chromium.run(["--remote-debugging-port=0", "about:blank"]) }
        try await eventually("chromium started", within: .seconds(20)) { Self.browsers().count > 1 }
        await #expect(throws: TestServerError.self) { try await running.value }
        try await eventually("no chromium of this test run left", within: .seconds(20)) { Self.browsers().isEmpty }
        let temporary = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
        #expect(!temporary.contains { $0.hasPrefix("scrubber-chromium-\(getpid())-") })
    }

    @Test func textFromTheCatalogIsEscaped() throws {
        var status = Self.status
        status.failures[0].lastError = "<script>alert(1)</script>"
        status.failures[0].dependents = ["\"><img src=x onerror=alert(2)>"]
        status.nodes[0].host = "<b>host</b>&"
        let html = StatusPage.html(status)
        #expect(!html.contains("<script>alert"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>host"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&lt;b&gt;host&lt;/b&gt;&amp;"))
        // One script element: the page's own.
        #expect(html.components(separatedBy: "<script").count == 2)
        // The server's HTML carries the same markers the browser's DOM does.
        #expect(try StatusPageDOM(dom: html) == (try StatusPageDOM(statusJSON: Self.json(status))))
    }

    // MARK: Fixtures

    static func chromium() throws -> HeadlessChromium {
        try #require(HeadlessChromium.find(), "no chromium (./test installs it: apt-get install chromium)")
    }

    /// The live (not zombie) Chromium processes of this runner: the browser and every child name
    /// its profile, `scrubber-chromium-<runner pid>-…`, on their command line. (Not the watchdog's
    /// mark: the children rewrite their environment's memory for their process titles.)
    static func browsers() -> [pid_t] {
        let profile = Data("/scrubber-chromium-\(getpid())-".utf8)
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        return pids.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains("(chromium)"),
                !stat.contains(") Z "), let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return command.range(of: profile) != nil
        }
    }

    static func json(_ status: ClusterStatus) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(status)
    }

    static let gib: Int64 = 1 << 30

    /// Three nodes (node-c drained), node-b leading, paused, two stores, three failing images in two classes.
    static let status = ClusterStatus(
        leader: .init(nodeID: "node-b", term: 7, leaseRemainingSeconds: 12.5),
        paused: PauseState(
            since: ISO8601DateFormatter().date(from: "2026-12-05T09:00:00Z")!.timeIntervalSince1970,
            by: Operator(host: "ops-1", user: "alice")
        ),
        nodes: [
            .init(
                nodeID: "node-a",
                host: "scrub-1.example.net",
                pid: 4120,
                state: "active",
                heartbeatAgeSeconds: 0.4,
                alive: true,
                capacity: 16,
                assigned: 12,
                scrubbing: 4,
                done: 15_204,
                failed: 3,
                leaderEligible: true,
                rate: 2.53
            ),
            .init(
                nodeID: "node-b",
                host: "scrub-2.example.net",
                pid: 977,
                state: "active",
                heartbeatAgeSeconds: 1.2,
                alive: true,
                capacity: 16,
                assigned: 9,
                scrubbing: 2,
                done: 14_880,
                failed: 0,
                leaderEligible: true,
                rate: 2.41
            ),
            .init(
                nodeID: "node-c",
                host: "scrub-3.example.net",
                pid: 31_002,
                state: "draining",
                heartbeatAgeSeconds: 2.9,
                alive: true,
                capacity: 8,
                assigned: 0,
                scrubbing: 1,
                done: 3_310,
                failed: 1,
                leaderEligible: false,
                rate: 0.87,
                drainedBy: "alice@ops-1"
            ),
        ],
        backlog: .init(
            eligible: 1_234,
            waiting: 56,
            oldestAgeSeconds: 5_400,
            failing: 3,
            bytes: 3 * gib / 2 + 123_456_789,
            stores: [
                StoreBacklog(store: "ceph", images: 800, bytes: 3 * gib / 2),
                StoreBacklog(store: "file", images: 434, bytes: 123_456_789),
            ]
        ),
        failingByClass: [
            FailingGroup(failureClass: .inUse, store: "ceph", images: 1),
            FailingGroup(failureClass: .transient, store: "file", images: 2),
        ],
        failures: [
            .init(
                imageID: "6f1c9a0e-0001",
                attempts: 9,
                lastError: "in_use: rbd image has 1 clone (pool/child-1)",
                failureClass: .inUse,
                store: "ceph",
                dependents: ["pool/child-1"]
            ),
            .init(imageID: "6f1c9a0e-0002", attempts: 2, lastError: "transient: I/O error", failureClass: .transient, store: "file"),
            .init(
                imageID: "6f1c9a0e-0003",
                attempts: 1,
                lastError: "transient: timed out after 30 s",
                failureClass: .transient,
                store: "file"
            ),
        ],
        history: .init(rows: busyHour, leaderChanges: 2)
    )

    /// Most minutes of the hour busy, a few idle.
    static var busyHour: [(ago: Int, images: Int, bytes: Int64)] {
        (0..<60).filter { $0 % 7 != 3 }.map { ago in
            let images = (ago * 37 + 11) % 23
            return (ago, images, Int64(images) * Int64((ago * 53 + 5) % 41 + 1) * (1 << 20))
        }
    }

    /// What the script fetches in place of ``status``: resumed, node-c gone, a failure fixed, fewer eligible.
    static let changed: ClusterStatus = {
        var status = Self.status
        status.paused = nil
        status.nodes[2].state = "left"
        status.nodes[2].alive = false
        status.nodes[0].assigned = 30
        status.backlog.eligible = 1_200
        status.failures.removeLast()
        status.failingByClass[1].images = 1
        status.history = .init(rows: [(0, 40, 4 * gib), (1, 12, gib)], leaderChanges: 3)
        return status
    }()
}
