/// A JSON array built for one `json_each(?)` parameter: how a SQLite catalog passes a list of
/// any length to a statement of one shape (``ScrubberCore/SQLDialect/jsonLists``), which is
/// prepared once and cached instead of compiled anew for every length.
public struct JSONList: Sendable {
    fileprivate var bytes: [UInt8] = [UInt8(ascii: "[")]
    private var first = true

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// A flat array of strings.
    public init(_ strings: some Collection<String>) {
        self.init(capacity: strings.count * 40 + 2)
        for string in strings { append(string) }
    }

    /// A flat array of integers.
    public init(_ integers: some Collection<Int64>) {
        self.init(capacity: integers.count * 12 + 2)
        for integer in integers { append(integer) }
    }

    /// The JSON text.
    public var text: String {
        var closed = bytes
        closed.append(UInt8(ascii: "]"))
        return String(decoding: closed, as: UTF8.self)
    }

    fileprivate mutating func separate() {
        if first { first = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func append(_ string: String?) {
        separate()
        guard let string else { return bytes.append(contentsOf: "null".utf8) }
        bytes.append(UInt8(ascii: "\""))
        for b in string.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(b)
            case 0..<0x20:
                // Control characters as \u00XX; everything else (UTF-8 included) as is.
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xf)])
            default:
                bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func append(_ integer: Int64?) {
        separate()
        guard let integer else { return bytes.append(contentsOf: "null".utf8) }
        bytes.append(contentsOf: String(integer).utf8)
    }

    /// A nested array (a row), built by `body`.
    public mutating func appendRow(_ body: (inout JSONList) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        first = true
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        first = false
    }
}

extension JSONList {
    /// Appends one SQL value: a number, a string, `true`/`false` (read back by SQLite's `->>`
    /// as 1/0) or `null`.
    public mutating func append(_ value: SQLValue) {
        switch value {
        case .null: append(nil as String?)
        case .integer(let integer): append(integer)
        case .text(let text): append(text)
        case .bool(let bool): append(bool ? 1 : 0 as Int64)
        case .real(let real):
            separate()
            bytes.append(contentsOf: (real.isFinite ? "\(real)" : "null").utf8)
        }
    }
}
