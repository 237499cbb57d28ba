/// An oslo.config INI file, parsed as oslo.config's `iniparser` does, with the file and line
/// of every value so errors can name them.
///
/// - `[section]` headers; `key = value` or `key: value` (split at whichever comes first);
///   surrounding whitespace and one pair of matching quotes are stripped.
/// - Lines starting with `#` or `;` are comments; inline `#` is part of the value.
/// - An indented line continues the previous value (joined with a newline).
/// - A key may repeat: multi-valued options (e.g. `filesystem_store_datadirs`) keep every
///   occurrence, single-valued ones take the last.
public struct INIDocument: Sendable {
    /// One occurrence of `key = value`.
    public struct Value: Sendable, Hashable {
        public var text: String
        public var file: String
        public var line: Int
    }

    /// `sections[section][key]`: every occurrence, in file order.
    public private(set) var sections: [String: [String: [Value]]] = [:]

    public init() {}

    /// Parses `text`; `file` names it in errors.
    /// - Throws: ``ConfigError`` for a line that is neither a section, a comment nor an assignment.
    public init(parsing text: String, file: String) throws {
        var section: String?
        var lastKey: (section: String, key: String)?
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so splitting at "\n" alone would leave a CRLF file one long line.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let stripped = line.trimmingWhitespace()
            if stripped.isEmpty || stripped.hasPrefix("#") || stripped.hasPrefix(";") {
                if stripped.isEmpty { lastKey = nil }
                continue
            }
            if let first = line.first, first == " " || first == "\t", let last = lastKey {
                var values = sections[last.section]![last.key]!
                values[values.count - 1].text += "\n" + stripped
                sections[last.section]![last.key] = values
                continue
            }
            if stripped.hasPrefix("[") {
                guard stripped.hasSuffix("]"), stripped.count > 2 else {
                    throw ConfigError(file: file, line: lineNumber, message: "malformed section header \(stripped)")
                }
                section = String(stripped.dropFirst().dropLast()).trimmingWhitespace()
                lastKey = nil
                continue
            }
            guard let section else {
                throw ConfigError(file: file, line: lineNumber, message: "assignment before any [section]: \(stripped)")
            }
            let colon = stripped.firstIndex(of: ":")
            let equal = stripped.firstIndex(of: "=")
            let split: String.Index
            switch (colon, equal) {
            case (nil, nil):
                throw ConfigError(file: file, line: lineNumber, message: "expected `key = value`, got \(stripped)")
            case (let c?, nil): split = c
            case (nil, let e?): split = e
            case (let c?, let e?): split = min(c, e)
            }
            let key = String(stripped[..<split]).trimmingWhitespace()
            guard !key.isEmpty else {
                throw ConfigError(file: file, line: lineNumber, message: "missing option name in \(stripped)")
            }
            var value = String(stripped[stripped.index(after: split)...]).trimmingWhitespace()
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = String(value.dropFirst().dropLast())
            }
            sections[section, default: [:]][key, default: []].append(Value(text: value, file: file, line: lineNumber))
            lastKey = (section, key)
        }
    }

    /// Merges `later` over this document, as oslo.config merges `--config-file`s in order:
    /// occurrences are appended, so single-valued lookups see the last file's value.
    public mutating func merge(_ later: INIDocument) {
        for (section, keys) in later.sections {
            for (key, values) in keys {
                sections[section, default: [:]][key, default: []].append(contentsOf: values)
            }
        }
    }

    /// The last occurrence of `key` in `section`.
    public func value(_ section: String, _ key: String) -> Value? {
        sections[section]?[key]?.last
    }

    /// Every occurrence of `key` in `section`, for multi-valued options.
    public func values(_ section: String, _ key: String) -> [Value] {
        sections[section]?[key] ?? []
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
