/// One row a query returned, its columns in the statement's order. Read a column as the type
/// the statement gives it: `let id: String = try row[0]`, `let size: Int64? = try row[1]`.
public struct SQLRow: Sendable, Hashable {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) {
        self.values = values
    }

    public subscript<T: SQLColumn>(_ index: Int) -> T {
        get throws {
            guard values.indices.contains(index) else { throw SQLColumnError(index: index, value: nil, type: T.self) }
            return try T(column: values[index], index: index)
        }
    }
}

/// A column whose value is not of the type the catalog reads it as: a schema the catalog did
/// not make, or a bug.
public struct SQLColumnError: Error, CustomStringConvertible {
    public var index: Int
    public var value: SQLValue?
    public var type: Any.Type

    public init(index: Int, value: SQLValue?, type: Any.Type) {
        self.index = index
        self.value = value
        self.type = type
    }

    public var description: String {
        "column \(index) of a catalog query holds \(value.map { "\($0)" } ?? "nothing"), not \(type)"
    }
}

/// A type a column is read as. Both databases' integers and reals read as either (SQLite keeps
/// a whole `REAL` as an integer when it can), and an integer reads as text (SQLite's scan key,
/// the `rowid`, is PostgreSQL's text `id`).
public protocol SQLColumn {
    init(column: SQLValue, index: Int) throws
}

extension String: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        switch column {
        case .text(let text): self = text
        case .integer(let integer): self = String(integer)
        default: throw SQLColumnError(index: index, value: column, type: String.self)
        }
    }
}

extension Int64: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        switch column {
        case .integer(let integer): self = integer
        case .real(let real) where Int64(exactly: real) != nil: self = Int64(real)
        case .bool(let bool): self = bool ? 1 : 0
        default: throw SQLColumnError(index: index, value: column, type: Int64.self)
        }
    }
}

extension Int: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        self = Int(try Int64(column: column, index: index))
    }
}

extension Double: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        switch column {
        case .real(let real): self = real
        case .integer(let integer): self = Double(integer)
        default: throw SQLColumnError(index: index, value: column, type: Double.self)
        }
    }
}

extension Bool: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        switch column {
        case .bool(let bool): self = bool
        case .integer(let integer): self = integer != 0
        default: throw SQLColumnError(index: index, value: column, type: Bool.self)
        }
    }
}

extension Optional: SQLColumn where Wrapped: SQLColumn {
    public init(column: SQLValue, index: Int) throws {
        if case .null = column { self = nil } else { self = try Wrapped(column: column, index: index) }
    }
}
