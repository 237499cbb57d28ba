import Foundation

/// Which eligible, unassigned images one ``ScrubCatalog/leaderView(scrubTime:limit:scan:)`` lists.
///
/// Glance's `images` table keeps every soft-deleted image for years, and it has no index on
/// `status`: the only way to find every `pending_delete` row is to read every `deleted` one.
/// So the leader reads the table two ways (DESIGN §4, "Finding work"):
/// - ``recent(since:after:)``, the fast path, through `updated_at_image_idx`: Glance sets
///   `updated_at` when it marks an image `pending_delete`, so new work is found by reading only
///   what changed since the last look;
/// - ``full(after:)``, the safety sweep, once per `wakeup_time`: every soft-deleted image, in
///   key pages, for what the fast path cannot see (a row written with an old `updated_at`).
public enum CandidateScan: Sendable, Hashable, Codable {
    /// Every soft-deleted image in scan-key order, after the scan position `after` (nil: from the start).
    case full(after: String?)
    /// The fast path: eligible images updated after `since` (a Glance timestamp, exclusive) up
    /// to now, and, with a `scrub_time`, those updated in the same span `scrub_time` earlier
    /// (which become eligible now), in (`updated_at`, key) order after the scan position `after`.
    case recent(since: String, after: String?)

    /// The position the page starts after.
    public var after: String? {
        switch self {
        case .full(let after), .recent(_, let after): after
        }
    }

    /// The same scan, going on after `position`.
    public func continued(after position: String) -> CandidateScan {
        switch self {
        case .full: .full(after: position)
        case .recent(let since, _): .recent(since: since, after: position)
        }
    }
}

/// The leader's sweep as the catalog keeps it (in `scrub_leader`), written by the leader in its
/// fenced round: a new leader goes on from where the last one stopped instead of reading the
/// whole history again.
public struct SweepState: Sendable, Hashable, Codable {
    /// The high-water mark (a Glance timestamp): every image whose `updated_at` is at most this,
    /// and that was eligible when it was read, has been listed. Nil until the first full sweep.
    public var mark: String?
    /// Store time the last full sweep started.
    public var fullStartedAt: Double?
    /// Where an unfinished full sweep goes on (nil: none is under way).
    public var fullPosition: String?
    /// Store time the last full sweep reached the end of the table.
    public var fullCompletedAt: Double?

    public init(mark: String? = nil, fullStartedAt: Double? = nil, fullPosition: String? = nil, fullCompletedAt: Double? = nil) {
        self.mark = mark
        self.fullStartedAt = fullStartedAt
        self.fullPosition = fullPosition
        self.fullCompletedAt = fullCompletedAt
    }
}

extension CandidateScan {
    public var isRecent: Bool {
        if case .recent = self { true } else { false }
    }
}

/// A scan position as the catalogs write it into ``LeaderView/next``: the scan key of the last
/// row listed (SQLite's rowid, PostgreSQL's id) and, for a recent scan, its `updated_at`.
public struct ScanPosition: Sendable, Hashable {
    /// The row's `updated_at` as the database prints it (recent scans only).
    public var time: String?
    public var key: String

    public init(time: String?, key: String) {
        self.time = time
        self.key = key
    }

    /// Reads a position this catalog wrote; a recent scan's is `TIME|KEY`.
    /// - Throws: ``CatalogError/rejected(_:)`` for anything else.
    public init(parsing text: String, recent: Bool) throws {
        guard recent else {
            self.init(time: nil, key: text)
            return
        }
        guard let bar = text.firstIndex(of: "|"), GlanceTimestamp.date(from: String(text[..<bar])) != nil else {
            throw CatalogError.rejected("scan position \(text) is not a position of a recent scan (TIMESTAMP|KEY)")
        }
        self.init(time: String(text[..<bar]), key: String(text[text.index(after: bar)...]))
    }

    public var text: String { time.map { "\($0)|\(key)" } ?? key }

    /// `seconds` (store clock) as a Glance timestamp.
    public static func stamp(_ seconds: Double) -> String {
        GlanceTimestamp.string(from: Date(timeIntervalSince1970: seconds))
    }

    /// The `updated_at` ranges (exclusive, inclusive], in order, that a recent scan from
    /// `since` reads at store time `now`: (since, now], where an image Glance deleted long ago
    /// and touched since is found, and (since − scrub_time, now − scrub_time], where the images
    /// Glance deleted `scrub_time` ago (`deleted_at` and `updated_at` are one write) become
    /// eligible. One range when `scrub_time` is 0 or the two meet.
    /// - Throws: ``CatalogError/rejected(_:)`` when `since` is not a timestamp.
    public static func recentRanges(since: String, now: Double, scrubTime: Double) throws -> [(after: String, upTo: String)] {
        guard let start = GlanceTimestamp.date(from: since)?.timeIntervalSince1970 else {
            throw CatalogError.rejected("a recent scan's lower bound \(since) is not a timestamp (YYYY-MM-DD HH:MM:SS.ffffff)")
        }
        if scrubTime <= 0 { return [(since, stamp(now))] }
        if now - scrubTime >= start { return [(stamp(start - scrubTime), stamp(now))] }
        return [(stamp(start - scrubTime), stamp(now - scrubTime)), (since, stamp(now))]
    }
}

extension ScanPosition {
    /// Joins the pages a recent scan read from its ranges (``recentRanges(since:now:scrubTime:)``,
    /// in their order, each of at most `limit` rows in (`updated_at`, key) order): the scan's
    /// first `limit` rows and where its next page starts (nil: it reached the end).
    public static func joinRecent(_ pages: [[(position: ScanPosition, id: String)]], limit: Int) -> (ids: [String], next: String?) {
        let rows = pages.joined().prefix(limit)
        return (rows.map(\.id), rows.count == limit ? rows.last?.position.text : nil)
    }
}
