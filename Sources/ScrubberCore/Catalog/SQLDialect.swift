/// The few places where SQLite and PostgreSQL must differ, as tokens in ``CatalogQueries``:
/// the store clock, Glance's timestamp type, boolean literals, row locks and parameter
/// markers. Everything else is one query shape shared by both backends.
public struct SQLDialect: Sendable, Hashable {
    /// `{now}`: the store clock in seconds since 1970 (our `scrub_*` times).
    public var now: String
    /// `{now_text}`: the store clock as Glance writes timestamps (naive UTC).
    public var nowText: String
    /// `{cutoff}`: Glance timestamp of `now − ?` seconds (one numeric parameter): the
    /// `scrub_time` eligibility bound.
    public var cutoff: String
    /// `{age}`: seconds from the Glance timestamp in the next expression to now, as `{age}(col))`.
    public var agePrefix: String
    public var trueLiteral: String
    public var falseLiteral: String
    /// `{is}`: null-safe equality (`IS` in SQLite, `IS NOT DISTINCT FROM` in PostgreSQL).
    public var nullSafeEqual: String
    /// `{visibility}`: the type Glance's `images.visibility` is cast to when we write it.
    public var visibilityType: String
    /// `{timestamp}`: the type Glance's timestamps are cast to when we bind them as text.
    public var timestampType: String
    /// Whether `{lock …}` clauses are kept (PostgreSQL's row locks). SQLite drops them: its
    /// write transactions (`BEGIN IMMEDIATE`) already exclude every other writer.
    public var rowLocks: Bool
    /// Whether parameters are numbered (`$1, $2, …`, PostgreSQL) rather than `?` (SQLite).
    public var numberedParameters: Bool

    /// SQLite: one host's clock, read by SQLite itself.
    public static let sqlite = SQLDialect(
        now: "((julianday('now') - 2440587.5) * 86400.0)",
        nowText: "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')",
        cutoff: "strftime('%Y-%m-%d %H:%M:%f', ((julianday('now') - 2440587.5) * 86400.0) - ?, 'unixepoch')",
        agePrefix: "86400.0 * (julianday('now') - julianday",
        trueLiteral: "1",
        falseLiteral: "0",
        nullSafeEqual: "IS",
        visibilityType: "TEXT",
        timestampType: "TEXT",
        rowLocks: false,
        numberedParameters: false)

    /// PostgreSQL: the database server's clock. `clock_timestamp()`, not `now()`: `now()` is
    /// frozen at the transaction's start, so a statement that waited on a lock would judge a
    /// lease's expiry by a time already past.
    public static let postgresql = SQLDialect(
        now: "date_part('epoch', clock_timestamp())",
        nowText: "(clock_timestamp() AT TIME ZONE 'UTC')",
        cutoff: "((clock_timestamp() AT TIME ZONE 'UTC') - CAST(? AS double precision) * interval '1 second')",
        agePrefix: "date_part('epoch', (clock_timestamp() AT TIME ZONE 'UTC') - ",
        trueLiteral: "true",
        falseLiteral: "false",
        nullSafeEqual: "IS NOT DISTINCT FROM",
        visibilityType: "image_visibility",
        timestampType: "timestamp",
        rowLocks: true,
        numberedParameters: true)

    /// Renders the tokens of `sql` for this dialect.
    public func render(_ sql: String) -> String {
        var text = sql.replacingOccurrences(of: "{now}", with: now)
            .replacingOccurrences(of: "{now_text}", with: nowText)
            .replacingOccurrences(of: "{cutoff}", with: cutoff)
            .replacingOccurrences(of: "{age}(", with: agePrefix + "(")
            .replacingOccurrences(of: "{true}", with: trueLiteral)
            .replacingOccurrences(of: "{false}", with: falseLiteral)
            .replacingOccurrences(of: "{is}", with: nullSafeEqual)
            .replacingOccurrences(of: "{visibility}", with: visibilityType)
            .replacingOccurrences(of: "{timestamp}", with: timestampType)
        while let open = text.range(of: "{lock "), let close = text[open.upperBound...].firstIndex(of: "}") {
            text.replaceSubrange(open.lowerBound...close, with: rowLocks ? String(text[open.upperBound..<close]) : "")
        }
        return numberedParameters ? Self.numbering(text) : text
    }

    /// `?` → `$1, $2, …` in order, outside quoted literals and identifiers.
    static func numbering(_ sql: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(sql.utf8.count + sql.utf8.count / 4)
        var n = 0
        var quote: UInt8?
        for c in sql.utf8 {
            if let q = quote {
                if c == q { quote = nil }
                out.append(c)
            } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                quote = c
                out.append(c)
            } else if c == UInt8(ascii: "?") {
                n += 1
                out.append(UInt8(ascii: "$"))
                out.append(contentsOf: String(n).utf8)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `?, ?, …`: the parameters of a list of `count` values (`count` ≥ 1).
    public static func list(_ count: Int) -> String {
        precondition(count >= 1, "an SQL list needs at least one value")
        return Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
