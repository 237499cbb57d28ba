import ScrubberCore

/// The parameters of ``CatalogQueries``' list statements, in the dialect's form
/// (``SQLDialect/jsonLists``): one JSON array for SQLite, one parameter per value for PostgreSQL.
extension CatalogQueries {
    /// The values of `IN (\(dialect.list(count)))`.
    public func list(_ values: some Collection<String>) -> [any SQLBindable] {
        dialect.jsonLists ? [JSONList(values).text] : Array(values)
    }

    /// The rows of a multi-row statement (`(a, b) IN (\(dialect.pairs(count)))`, `VALUES …`), each
    /// row's values in the statement's column order.
    public func rows(_ rows: [[SQLValue]]) -> [any SQLBindable] {
        guard dialect.jsonLists else { return rows.flatMap { $0 } }
        var list = JSONList(capacity: rows.count * 64)
        for row in rows {
            list.appendRow { json in
                for value in row { json.append(value) }
            }
        }
        return [list.text]
    }

    /// The parameters of ``insertAssignments(_:)``: `(image_id, node_id, term)` per row, or
    /// the term and a JSON array of `[image_id, node_id]` rows.
    public func insertAssignmentsArguments(_ assignments: some Collection<(String, String)>, term: Int64) -> [any SQLBindable] {
        if dialect.jsonLists {
            return [term] + rows(assignments.map { [.text($0.0), .text($0.1)] })
        }
        return rows(assignments.map { [.text($0.0), .text($0.1), .integer(term)] })
    }

    /// The parameter a keyset page starts after (``SQLDialect/scanKey``): SQLite's `rowid`
    /// (an integer; the smallest when the scan starts), PostgreSQL's text `id` (`''`).
    /// - Throws: ``CatalogError/rejected(_:)`` for a position this catalog did not make.
    public func scanStart(_ key: String?) throws -> any SQLBindable {
        guard dialect.integerScanKey else { return key ?? "" }
        guard let key else { return Int64.min }
        guard let rowid = Int64(key) else { throw CatalogError.rejected("scan position \(key) is not a rowid of this SQLite catalog") }
        return rowid
    }
}
