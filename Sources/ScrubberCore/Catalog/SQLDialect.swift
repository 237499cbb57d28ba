/// The few places where SQLite and PostgreSQL must differ, as tokens in ``CatalogQueries``:
/// the store clock, Glance's timestamp text, and boolean literals. Everything else is one
/// query shape shared by both backends.
public struct SQLDialect: Sendable, Hashable {
    /// `{now}`: the store clock in seconds since 1970 (our `scrub_*` times).
    public var now: String
    /// `{now_text}`: the store clock as Glance writes timestamps (naive UTC).
    public var nowText: String
    /// `{cutoff}`: Glance timestamp of `now − ?` seconds (one numeric parameter): the
    /// `scrub_time` eligibility bound.
    public var cutoff: String
    /// `{age}`: seconds from the Glance timestamp in the next expression to now, as `{age}(col)`.
    public var agePrefix: String
    public var trueLiteral: String
    public var falseLiteral: String
    /// `{is}`: null-safe equality (`IS` in SQLite, `IS NOT DISTINCT FROM` in PostgreSQL).
    public var nullSafeEqual: String = "IS"

    /// SQLite: one host's clock, read by SQLite itself.
    public static let sqlite = SQLDialect(
        now: "((julianday('now') - 2440587.5) * 86400.0)",
        nowText: "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')",
        cutoff: "strftime('%Y-%m-%d %H:%M:%f', ((julianday('now') - 2440587.5) * 86400.0) - ?, 'unixepoch')",
        agePrefix: "86400.0 * (julianday('now') - julianday",
        trueLiteral: "1",
        falseLiteral: "0")

    /// Renders the tokens of `sql` for this dialect.
    public func render(_ sql: String) -> String {
        sql.replacingOccurrences(of: "{now}", with: now)
            .replacingOccurrences(of: "{now_text}", with: nowText)
            .replacingOccurrences(of: "{cutoff}", with: cutoff)
            .replacingOccurrences(of: "{age}(", with: agePrefix + "(")
            .replacingOccurrences(of: "{true}", with: trueLiteral)
            .replacingOccurrences(of: "{false}", with: falseLiteral)
            .replacingOccurrences(of: "{is}", with: nullSafeEqual)
    }
}
