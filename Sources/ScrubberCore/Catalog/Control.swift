import Foundation

/// Who ran an operator command (`pause`, `drain`, …): the host and user it ran as.
public struct Operator: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    public var user: String

    public init(host: String, user: String) {
        self.host = host
        self.user = user
    }

    /// This process's host and user (`$USER`, else the effective uid's name, else the uid).
    public static var current: Operator {
        let env = ProcessInfo.processInfo.environment
        var user = env["USER"] ?? env["LOGNAME"] ?? ""
        if user.isEmpty, let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { user = String(cString: name) }
        if user.isEmpty { user = "uid \(geteuid())" }
        return Operator(host: ProcessInfo.processInfo.hostName, user: user)
    }

    public var description: String { "\(user)@\(host)" }
}

/// The cluster's paused state (`scrubber pause`): the leader assigns nothing and nodes claim
/// nothing until `scrubber resume`.
public struct PauseState: Sendable, Hashable, Codable {
    /// When, by the store clock (seconds since 1970).
    public var since: Double
    public var by: Operator

    public init(since: Double, by: Operator) {
        self.since = since
        self.by = by
    }

    enum CodingKeys: String, CodingKey { case since, by }

    /// `since` as ISO 8601 UTC text.
    public var sinceText: String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: since)) }

    /// `since` as ISO 8601 UTC text (`2026-12-05T09:00:00Z`); a number is read too.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let seconds = try? c.decode(Double.self, forKey: .since) {
            since = seconds
        } else {
            let text = try c.decode(String.self, forKey: .since)
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw DecodingError.dataCorruptedError(forKey: .since, in: c, debugDescription: "not an ISO 8601 time: \(text)")
            }
            since = date.timeIntervalSince1970
        }
        by = try c.decode(Operator.self, forKey: .by)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sinceText, forKey: .since)
        try c.encode(by, forKey: .by)
    }
}

/// An operator's command to the whole cluster, stored in the catalog
/// (``ScrubCatalog/control(_:)``), each recorded as an audit row.
public struct ControlRequest: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        /// No new assignments, no new claims; deletes in flight finish.
        case pause
        case resume
        /// The node (``ControlRequest/nodeID``) takes no new work and its queue goes to the
        /// others, until it restarts or is undrained.
        case drain
        case undrain
        /// The leader resigns now; another eligible node leads.
        case stepDown = "step-down"
    }

    public var action: Action
    /// The node `drain` and `undrain` name.
    public var nodeID: String?
    public var by: Operator

    public init(_ action: Action, nodeID: String? = nil, by: Operator) {
        self.action = action
        self.nodeID = nodeID
        self.by = by
    }
}

/// What a ``ControlRequest`` did.
public struct ControlAnswer: Sendable, Hashable, Codable {
    /// False when there was nothing to do (already paused, not paused, no such node, no leader).
    public var changed: Bool
    /// What happened, for the operator.
    public var message: String
    /// The paused state after the command.
    public var paused: PauseState?

    public init(changed: Bool, message: String, paused: PauseState?) {
        self.changed = changed
        self.message = message
        self.paused = paused
    }
}

/// What ``ScrubCatalog/control(_:)`` does, apart from the SQL that runs it, so every SQL
/// backend carries a command out the same way: in one transaction, it runs ``next()``'s
/// statements in turn, telling ``ran(changes:)`` how many rows each changed, then writes
/// ``events`` and answers ``answer(paused:)``.
public struct ControlStep: Sendable {
    /// A statement of ``CatalogQueries`` and its text parameters.
    public struct Statement: Sendable, Hashable {
        public var sql: String
        public var arguments: [String?]
    }

    public let request: ControlRequest
    /// The lease and the pause as the transaction first read them.
    public let lease: LeaderLease
    public let pausedBefore: PauseState?
    private let queries: CatalogQueries
    private var step = 0
    private var changed = false
    private var handedBack = 0
    public private(set) var events: [AuditEvent] = []

    public init(_ request: ControlRequest, lease: LeaderLease, paused: PauseState?, queries: CatalogQueries) {
        self.request = request
        self.lease = lease
        self.pausedBefore = paused
        self.queries = queries
    }

    /// The next statement to run, or nil when the command is done.
    public mutating func next() -> Statement? {
        defer { step += 1 }
        let q = queries
        let by = request.by
        switch (request.action, step) {
        case (.pause, 0): return Statement(sql: q.pause, arguments: [by.host, by.user])
        case (.resume, 0): return Statement(sql: q.resume, arguments: [])
        case (.drain, 0): return Statement(sql: q.drainNode, arguments: [by.description, request.nodeID])
        case (.drain, 1) where changed: return Statement(sql: q.handBackAssigned, arguments: [request.nodeID])
        case (.undrain, 0): return Statement(sql: q.undrainNode, arguments: [request.nodeID])
        case (.stepDown, 0) where lease.liveHolder != nil: return Statement(sql: q.stepDown, arguments: [])
        default: return nil
        }
    }

    /// Records what the statement ``next()`` returned last changed.
    public mutating func ran(changes: Int) {
        if step == 1 {
            changed = changes > 0
            guard changed else { return }
            let node: String? =
                switch request.action {
                case .drain, .undrain: request.nodeID
                case .stepDown: lease.holder
                case .pause, .resume: nil
                }
            events.append(AuditEvent(nodeID: node, term: lease.term, imageID: nil, action: action, detail: "by \(request.by)"))
        } else {
            handedBack = changes
            if !events.isEmpty { events[0].detail = "by \(request.by); \(changes) unclaimed images handed back" }
        }
    }

    private var action: ScrubAction {
        switch request.action {
        case .pause: .paused
        case .resume: .resumed
        case .drain: .drained
        case .undrain: .undrained
        case .stepDown: .steppedDown
        }
    }

    /// The answer, given the pause as the transaction left it.
    public func answer(paused: PauseState?) -> ControlAnswer {
        let node = request.nodeID ?? "?"
        let message: String
        switch (request.action, changed) {
        case (.pause, true):
            message = "paused by \(request.by): the leader assigns nothing and nodes claim nothing; deletes in flight finish"
        case (.pause, false):
            message = "already paused" + (pausedBefore.map { " since \($0.sinceText) by \($0.by)" } ?? "")
        case (.resume, true): message = "resumed by \(request.by)"
        case (.resume, false): message = "not paused; nothing to resume"
        case (.drain, true):
            message =
                "node \(node) drained by \(request.by): it finishes its deletes in flight and takes no new work; "
                + "\(handedBack) unclaimed images handed back to the leader"
        case (.drain, false):
            message = "node \(node) is not a live, active member (unknown, dead, left or already draining); nothing changed"
        case (.undrain, true): message = "node \(node) undrained by \(request.by): it takes work again"
        case (.undrain, false): message = "node \(node) is not drained by an operator; nothing changed"
        case (.stepDown, true):
            message =
                "leader \(lease.holder ?? "?") (term \(lease.term)) resigned at the request of \(request.by); "
                + "another eligible node takes over (the same one again only if it is the only one)"
        case (.stepDown, false): message = "no live leader to step down"
        }
        return ControlAnswer(changed: changed, message: message, paused: paused)
    }
}
