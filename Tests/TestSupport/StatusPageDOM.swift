import Foundation

/// What the status page (`ScrubberTelemetry.StatusPage`) says, read from its markers (the data
/// attributes its doc comment lists) in a DOM dumped by ``HeadlessChromium`` or in the server's
/// HTML; or what it should say, from the `status --json` document it was rendered from.
///
/// `==` compares what the page says, not how it was rendered: ``renderedBy``, ``refreshes`` and
/// ``refreshError`` are left out, and so are the figures that change from one second to the
/// next (heartbeat ages, rates, the lease's time left), which are not read at all. Failures and
/// their class groups are sorted (by class, then image); nodes and stores keep the page's order.
public struct StatusPageDOM: Equatable, Sendable {
    public struct Leader: Equatable, Sendable {
        public var node: String
        public var term: Int64
    }

    public struct Node: Equatable, Sendable {
        public var id: String
        public var state: String
        public var assigned: Int
        public var alive: Bool
    }

    public struct Store: Equatable, Sendable {
        /// "" for the default store (JSON `null`).
        public var store: String
        public var images: Int
        public var bytes: Int64
    }

    public struct Failure: Equatable, Sendable {
        public var imageID: String
        /// The class's raw value; `unclassified` for none.
        public var failureClass: String
        public var store: String
    }

    public struct FailureGroup: Equatable, Sendable {
        public var failureClass: String
        public var images: Int
    }

    public var leader: Leader?
    public var leaderChanges: Int
    public var paused: Bool
    public var nodes: [Node]
    public var backlogEligible: Int
    public var backlogBytes: Int64
    public var stores: [Store]
    public var failures: [Failure]
    public var failureGroups: [FailureGroup]
    /// The hour's images and bytes reclaimed (the sums of `history.minutes`).
    public var historyImages: Int
    public var historyBytes: Int64
    /// `server` or `script` (`<body data-rendered-by>`); nil from JSON.
    public var renderedBy: String?
    /// The script's successful refreshes (`<body data-refreshes>`); nil from JSON.
    public var refreshes: Int?
    /// The last refresh's error (`<body data-refresh-error>`), if it failed.
    public var refreshError: String?

    public static func == (a: StatusPageDOM, b: StatusPageDOM) -> Bool {
        (a.leader, a.leaderChanges, a.paused, a.nodes, a.backlogEligible, a.backlogBytes)
            == (b.leader, b.leaderChanges, b.paused, b.nodes, b.backlogEligible, b.backlogBytes)
            && (a.stores, a.failures, a.failureGroups, a.historyImages, a.historyBytes)
                == (b.stores, b.failures, b.failureGroups, b.historyImages, b.historyBytes)
    }

    /// Reads the markers of a page's HTML; throws naming the first one missing or malformed.
    public init(dom: String) throws {
        let tags = Self.startTags(dom)
        func byID(_ id: String) -> [String: String]? { tags.first { $0.attributes["id"] == id }?.attributes }
        func rows(_ name: String, _ kind: String) -> [[String: String]] {
            tags.filter { $0.name == name && $0.attributes["class"] == kind }.map(\.attributes)
        }
        func value<T: LosslessStringConvertible>(_ attributes: [String: String]?, _ key: String, _ what: String) throws -> T {
            guard let text = attributes?[key], let value = T(text) else { throw TestServerError("status page: no \(key) on \(what)") }
            return value
        }
        let body = tags.first { $0.name == "body" }?.attributes
        renderedBy = body?["data-rendered-by"]
        refreshes = body?["data-refreshes"].flatMap { Int($0) }
        refreshError = body?["data-refresh-error"]
        if let node = byID("leader-node") {
            leader = Leader(
                node: try value(node, "data-value", "#leader-node"),
                term: try value(byID("leader-term"), "data-value", "#leader-term")
            )
        } else if byID("leader-none") == nil {
            throw TestServerError("status page: neither #leader-node nor #leader-none")
        }
        leaderChanges = try value(byID("leader-changes"), "data-value", "#leader-changes")
        paused = try value(byID("paused"), "data-paused", "#paused")
        nodes = try rows("tr", "node").map { row in
            Node(
                id: try value(row, "data-node-id", "tr.node"),
                state: try value(row, "data-state", "tr.node"),
                assigned: try value(row, "data-assigned", "tr.node"),
                alive: try value(row, "data-alive", "tr.node")
            )
        }
        backlogEligible = try value(byID("backlog-eligible"), "data-value", "#backlog-eligible")
        backlogBytes = try value(byID("backlog-bytes"), "data-value", "#backlog-bytes")
        stores = try rows("tr", "store").map { row in
            Store(
                store: row["data-store"] ?? "",
                images: try value(row, "data-images", "tr.store"),
                bytes: try value(row, "data-bytes", "tr.store")
            )
        }
        failures = try rows("tr", "failure").map { row in
            Failure(
                imageID: try value(row, "data-image-id", "tr.failure"),
                failureClass: try value(row, "data-class", "tr.failure"),
                store: row["data-store"] ?? ""
            )
        }.sorted(by: Self.order)
        failureGroups = try rows("section", "failure-class").map { row in
            FailureGroup(
                failureClass: try value(row, "data-class", "section.failure-class"),
                images: try value(row, "data-images", "section.failure-class")
            )
        }.sorted { $0.failureClass < $1.failureClass }
        historyImages = try value(byID("history-images"), "data-value", "#history-images")
        historyBytes = try value(byID("history-bytes"), "data-value", "#history-bytes")
    }

    /// What the page should say about the `status --json` document `statusJSON`.
    public init(statusJSON: Data) throws {
        typealias Object = [String: Any]
        guard let root = try JSONSerialization.jsonObject(with: statusJSON) as? Object else {
            throw TestServerError("status JSON: not an object")
        }
        func object(_ parent: Object?, _ key: String) -> Object? { parent?[key] as? Object }
        func list(_ parent: Object?, _ key: String) -> [Object] { parent?[key] as? [Object] ?? [] }
        func int(_ parent: Object?, _ key: String) -> Int64 { (parent?[key] as? NSNumber)?.int64Value ?? 0 }
        func string(_ parent: Object?, _ key: String) -> String { parent?[key] as? String ?? "" }
        leader = object(root, "leader").map { Leader(node: string($0, "node_id"), term: int($0, "term")) }
        let history = object(root, "history")
        leaderChanges = Int(int(history, "leader_changes"))
        paused = object(root, "paused") != nil
        nodes = list(root, "nodes").map {
            Node(
                id: string($0, "node_id"),
                state: string($0, "state"),
                assigned: Int(int($0, "assigned")),
                alive: $0["alive"] as? Bool ?? false
            )
        }
        let backlog = object(root, "backlog")
        backlogEligible = Int(int(backlog, "eligible"))
        backlogBytes = int(backlog, "bytes")
        stores = list(backlog, "stores").map { Store(store: string($0, "store"), images: Int(int($0, "images")), bytes: int($0, "bytes")) }
        let failing = list(root, "failures").map {
            Failure(imageID: string($0, "image_id"), failureClass: ($0["class"] as? String) ?? "unclassified", store: string($0, "store"))
        }
        failures = failing.sorted(by: Self.order)
        // The page's groups: failing_by_class summed over stores; a class with listed failures but
        // no count counts those.
        var groups: [String: Int] = [:]
        for group in list(root, "failing_by_class") { groups[string(group, "class"), default: 0] += Int(int(group, "images")) }
        for failure in failing where groups[failure.failureClass] == nil {
            groups[failure.failureClass] = failing.filter { $0.failureClass == failure.failureClass }.count
        }
        failureGroups = groups.filter { $0.value > 0 }.map { FailureGroup(failureClass: $0.key, images: $0.value) }
            .sorted { $0.failureClass < $1.failureClass }
        let minutes = list(history, "minutes")
        historyImages = minutes.reduce(0) { $0 + Int(int($1, "images")) }
        historyBytes = minutes.reduce(0) { $0 + int($1, "bytes") }
    }

    /// The `<main id="status">…</main>` element of a page: what the script re-renders.
    public static func main(of dom: String) -> String? {
        guard let start = dom.range(of: "<main id=\"status\""),
            let end = dom.range(of: "</main>", range: start.upperBound..<dom.endIndex)
        else { return nil }
        return String(dom[start.lowerBound..<end.upperBound])
    }

    private static func order(_ a: Failure, _ b: Failure) -> Bool { (a.failureClass, a.imageID) < (b.failureClass, b.imageID) }

    /// Every start tag's name and attributes (values unescaped), in document order.
    static func startTags(_ html: String) -> [(name: String, attributes: [String: String])] {
        html.matches(of: #/<([a-zA-Z][a-zA-Z0-9]*)(\s[^>]*)?>/#).map { tag in
            let attributes = String(tag.output.2 ?? "").matches(of: #/([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)"/#).map {
                (String($0.output.1), unescape(String($0.output.2)))
            }
            return (String(tag.output.1).lowercased(), Dictionary(attributes) { first, _ in first })
        }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&nbsp;", with: "\u{a0}").replacingOccurrences(of: "&amp;", with: "&")
    }
}
