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
    /// `{random_token}`: a fresh random text per row (a claim's token): 128 random bits.
    public var randomToken: String
    /// `{scan_key}`: the key the leader's sweep of `images i` pages by: SQLite's `rowid`
    /// (storage order, so a page's rows share table pages), PostgreSQL's primary key `id`.
    public var scanKey: String
    /// `{location_store}`: the store a location's `meta_data` names (`meta_data.store` of
    /// `image_locations l`), NULL when it names none or is not JSON.
    public var locationStore: String
    /// Whether `{lock …}` clauses are kept (PostgreSQL's row locks). SQLite drops them: its
    /// write transactions (`BEGIN IMMEDIATE`) already exclude every other writer.
    public var rowLocks: Bool
    /// Whether `{sqlite …}` clauses are kept: planner hints for SQLite (a unary `+` that keeps
    /// a column's index out of a plan), meaningless elsewhere.
    public var sqliteHints: Bool
    /// Whether a list of values is one JSON array parameter read with `json_each` (SQLite: one
    /// statement shape whatever the length, so it is prepared once and cached) rather than one
    /// parameter per value (PostgreSQL).
    public var jsonLists: Bool
    /// Whether parameters are numbered (`$1, $2, …`, PostgreSQL) rather than `?` (SQLite).
    public var numberedParameters: Bool
    /// Whether ``scanKey`` is an integer (SQLite's `rowid`) rather than text (PostgreSQL's `id`).
    public var integerScanKey: Bool
    /// Which database: what the schema's DDL is written for (``CatalogQueries`` shapes are one).
    public var engine: Engine

    public enum Engine: String, Sendable, Hashable {
        case sqlite, postgresql
    }

    /// SQLite: one host's clock, read by SQLite itself. `'now'` is one instant within a
    /// statement; as a scalar subquery it is also computed once per statement, not per row.
    public static let sqlite = SQLDialect(
        now: "(SELECT (julianday('now') - 2440587.5) * 86400.0)",
        nowText: "(SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')",
        cutoff: "strftime('%Y-%m-%d %H:%M:%f', ((julianday('now') - 2440587.5) * 86400.0) - ?, 'unixepoch')",
        agePrefix: "86400.0 * (julianday('now') - julianday",
        trueLiteral: "1",
        falseLiteral: "0",
        nullSafeEqual: "IS",
        visibilityType: "TEXT",
        timestampType: "TEXT",
        randomToken: "lower(hex(randomblob(16)))",
        scanKey: "i.rowid",
        locationStore: "(CASE WHEN json_valid(l.meta_data) THEN json_extract(l.meta_data, '$.store') END)",
        rowLocks: false,
        sqliteHints: true,
        jsonLists: true,
        numberedParameters: false,
        integerScanKey: true,
        engine: .sqlite
    )

    /// SQLite with the store clock read from the SQL function `function()` (seconds since
    /// 1970) instead of `'now'`: for deterministic simulations that drive the catalog with
    /// their own clock. Everything else is ``sqlite``'s; production never uses it.
    public static func sqlite(clockFunction function: String) -> SQLDialect {
        var dialect = SQLDialect.sqlite
        dialect.now = "(SELECT \(function)())"
        dialect.nowText = "(SELECT strftime('%Y-%m-%d %H:%M:%f', \(function)(), 'unixepoch') || '000')"
        dialect.cutoff = "strftime('%Y-%m-%d %H:%M:%f', \(function)() - ?, 'unixepoch')"
        // `{age}(col))`: julianday of the clock, minus julianday(col), in seconds.
        dialect.agePrefix = "86400.0 * ((\(function)() / 86400.0 + 2440587.5) - julianday"
        return dialect
    }

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
        randomToken: "CAST(gen_random_uuid() AS text)",
        scanKey: "i.id",
        locationStore: "substring(l.meta_data from '\"store\"\\s*:\\s*\"([^\"]*)\"')",
        rowLocks: true,
        sqliteHints: false,
        jsonLists: false,
        numberedParameters: true,
        integerScanKey: false,
        engine: .postgresql
    )

    /// PostgreSQL with the store clock read from the SQL function `function()` (seconds since
    /// 1970, `double precision`) instead of the server's: for deterministic simulations, which
    /// define the function in their test database. Everything else is ``postgresql``'s;
    /// production never uses it.
    public static func postgresql(clockFunction function: String) -> SQLDialect {
        var dialect = SQLDialect.postgresql
        let clock = "(to_timestamp(\(function)()) AT TIME ZONE 'UTC')"
        dialect.now = "\(function)()"
        dialect.nowText = clock
        dialect.cutoff = "(\(clock) - CAST(? AS double precision) * interval '1 second')"
        dialect.agePrefix = "date_part('epoch', \(clock) - "
        return dialect
    }

    /// Renders the tokens of `sql` for this dialect, in one pass over its bytes (list shapes
    /// are tens of kilobytes), numbering parameters when the dialect does. `?` inside quoted
    /// literals and identifiers is left alone.
    public func render(_ sql: String) -> String {
        let tokens: [(name: [UInt8], value: [UInt8])] = [
            ("{now}", now), ("{now_text}", nowText), ("{cutoff}", cutoff), ("{age}", agePrefix),
            ("{true}", trueLiteral), ("{false}", falseLiteral), ("{is}", nullSafeEqual),
            ("{visibility}", visibilityType), ("{timestamp}", timestampType),
            ("{scan_key}", scanKey), ("{random_token}", randomToken), ("{location_store}", locationStore),
        ].map { (Array($0.0.utf8), Array($0.1.utf8)) }
        // Clauses kept only by one dialect: `{lock …}` (row locks), `{sqlite …}` (planner hints).
        let clauses: [(open: [UInt8], kept: Bool)] = [(Array("{lock ".utf8), rowLocks), (Array("{sqlite ".utf8), sqliteHints)]
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 2)
        var n = 0
        var quote: UInt8?
        var i = 0
        func matches(_ token: [UInt8], at i: Int) -> Bool {
            i + token.count <= bytes.count && bytes[i..<(i + token.count)].elementsEqual(token)
        }
        scan: while i < bytes.count {
            let c = bytes[i]
            if let q = quote {
                if c == q { quote = nil }
                out.append(c)
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                quote = c
            case UInt8(ascii: "?") where numberedParameters:
                n += 1
                out.append(UInt8(ascii: "$"))
                out.append(contentsOf: String(n).utf8)
                i += 1
                continue scan
            case UInt8(ascii: "{"):
                for clause in clauses where matches(clause.open, at: i) {
                    guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "}")) else { break }
                    if clause.kept { out.append(contentsOf: bytes[(i + clause.open.count)..<close]) }
                    i = close + 1
                    continue scan
                }
                for token in tokens where matches(token.name, at: i) {
                    // A token's text may hold a parameter (`{cutoff}`): number it in turn.
                    for b in token.value {
                        if b == UInt8(ascii: "?"), numberedParameters {
                            n += 1
                            out.append(UInt8(ascii: "$"))
                            out.append(contentsOf: String(n).utf8)
                        } else {
                            out.append(b)
                        }
                    }
                    i += token.name.count
                    continue scan
                }
            default:
                break
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// What goes inside `IN (…)` for a list of `count` values (`count` ≥ 1): `?, ?, …`, or with
    /// ``jsonLists`` one parameter holding a JSON array of them.
    public func list(_ count: Int) -> String {
        precondition(count >= 1, "an SQL list needs at least one value")
        if jsonLists { return "SELECT value FROM json_each(?)" }
        return Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// What goes inside `(a, b) IN (…)` for a list of `count` pairs (`count` ≥ 1): `VALUES (?, ?), …`,
    /// or with ``jsonLists`` one parameter holding a JSON array of two-element arrays.
    public func pairs(_ count: Int) -> String {
        precondition(count >= 1, "an SQL list needs at least one value")
        if jsonLists { return "SELECT value ->> 0, value ->> 1 FROM json_each(?)" }
        return "VALUES " + Array(repeating: "(?, ?)", count: count).joined(separator: ", ")
    }
}
