/// A location's URL, split into its scheme and the rest, with the `file://` rules Glance's
/// filesystem store applies.
public struct LocationURL: Sendable, Hashable, CustomStringConvertible {
    /// Lower-cased scheme, e.g. `file`, `rbd`, `swift+https`.
    public var scheme: String
    /// Everything after `scheme://`.
    public var remainder: String

    public var description: String { "\(scheme)://\(remainder)" }

    /// Splits `text` at `://`.
    /// - Throws: ``LocationError/notAURL(_:)`` when there is no `scheme://`.
    public init(_ text: String) throws {
        guard let range = text.range(of: "://"), !text[..<range.lowerBound].isEmpty else {
            throw LocationError.notAURL(text)
        }
        let scheme = text[..<range.lowerBound]
        guard scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            throw LocationError.notAURL(text)
        }
        self.scheme = scheme.lowercased()
        self.remainder = String(text[range.upperBound...])
    }

    /// The absolute, lexically normalised path of a `file://` URL (`.` and `..` resolved,
    /// duplicate slashes removed; symlinks are the store's business).
    ///
    /// Glance writes `file://` followed by the absolute path; `file://localhost/…` is accepted too.
    /// - Throws: ``LocationError`` when this is not a `file` URL or its path is not absolute,
    ///   contains a NUL byte, or climbs above `/`.
    public func filePath() throws -> String {
        guard scheme == "file" else { throw LocationError.unsupportedScheme(scheme, url: description) }
        var path = remainder
        if path.hasPrefix("localhost/") { path.removeFirst("localhost".count) }
        guard path.hasPrefix("/") else { throw LocationError.relativeFilePath(description) }
        guard !path.contains("\0") else { throw LocationError.badFilePath(description, reason: "it contains a NUL byte") }
        return try Self.normalise(path, url: description)
    }

    /// Resolves `.` and `..` lexically in an absolute path.
    public static func normalise(_ path: String, url: String) throws -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                guard !parts.isEmpty else {
                    throw LocationError.badFilePath(url, reason: "its `..` climbs above /")
                }
                parts.removeLast()
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}

extension LocationURL {
    /// Whether the absolute, normalised `path` is `root` or lies under it (component-wise:
    /// `/srv/images2` is not under `/srv/images`).
    public static func path(_ path: String, isInside root: String) -> Bool {
        let root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        if root == "/" { return path.hasPrefix("/") }
        return path == root || path.hasPrefix(root + "/")
    }
}

/// Why a location could not be scrubbed. The message is what the operator reads in
/// `scrub_assignments.last_error` and the audit table, so it says what to do.
public enum LocationError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAURL(String)
    case unsupportedScheme(String, url: String)
    case relativeFilePath(String)
    case badFilePath(String, reason: String)
    case outsideStoreRoots(url: String, resolved: String, roots: [String])
    case undecryptable(String)
    case unknownStore(String, known: [String])
    case unsupportedBackend(store: String, type: String)

    public var description: String {
        switch self {
        case .notAURL(let text):
            "location value \(Self.quote(text)) is not a URL (no scheme://); not deleted"
        case .unsupportedScheme(let scheme, let url):
            "location \(url) has scheme \(scheme)://, which no configured store handles; not deleted"
        case .relativeFilePath(let url):
            "location \(url) does not name an absolute path; not deleted"
        case .badFilePath(let url, let reason):
            "location \(url) is not a usable path: \(reason); not deleted"
        case .outsideStoreRoots(let url, let resolved, let roots):
            "location \(url) resolves to \(resolved), outside the store roots \(roots.joined(separator: ", ")); not deleted"
        case .undecryptable(let reason):
            "location value cannot be decrypted with metadata_encryption_key: \(reason); not deleted"
        case .unknownStore(let name, let known):
            "location names store \(Self.quote(name)), which is not in enabled_backends (\(known.joined(separator: ", "))); not deleted"
        case .unsupportedBackend(let store, let type):
            "store \(store) has type \(type), which this scrubber cannot delete from; not deleted"
        }
    }

    private static func quote(_ text: String) -> String {
        let cut = text.count > 120 ? String(text.prefix(120)) + "…" : text
        return "'\(cut)'"
    }
}
