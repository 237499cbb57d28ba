import Foundation

/// Why a location's data could not be deleted, as an operator acts on it (DESIGN §7).
///
/// The class picks the backoff (``Backoff/delay(afterAttempts:class:)``) and groups failures in
/// `scrubber status`, its JSON, the metrics and the status page. It is stored beside the
/// message in `scrub_assignments.failure_class` and `scrub_events.failure_class`.
public enum FailureClass: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Dependents pin the data: RBD clones of its snapshot, another client's open image.
    case inUse = "in_use"
    /// The store asked us to slow down: 429, 503, S3's SlowDown.
    case throttled
    /// Worth retrying soon: other 5xx, timeouts, refused connections, I/O errors.
    case transient
    /// A person must fix the configuration: 401/403, a missing credential, an unknown store name.
    case misconfigured
    /// No retry can succeed as configured: an unknown scheme, a read-only store, a malformed location.
    case unsupported

    /// Misconfigured and unsupported failures need a person, not time: they are retried once
    /// per `wakeup_time` and logged once per run, not once per image.
    public var needsOperator: Bool { self == .misconfigured || self == .unsupported }

    /// The class a message names as its first word (`"in_use: …"`), as every store writes it
    /// and as a node of an earlier version sent it; a message without one is `transient`.
    public init(classifying message: String) {
        let head = message.prefix { $0 != ":" }
        self = head.count < message.count ? FailureClass(rawValue: String(head)) ?? .transient : .transient
    }

    public static func < (a: FailureClass, b: FailureClass) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// `scrub_assignments.dependents`: what pins a failed image's data, as a JSON array of text
/// (NULL when the store named none).
public enum DependentsColumn {
    public static func text(_ dependents: [String]) -> String? {
        guard !dependents.isEmpty, let data = try? JSONEncoder().encode(dependents) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The list a column holds; nothing for NULL or text that is not a JSON array of strings.
    public static func list(_ text: String?) -> [String] {
        guard let text else { return [] }
        return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}
