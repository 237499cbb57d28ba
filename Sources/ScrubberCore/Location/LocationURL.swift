/// A location's URL, split into its scheme and the rest, with the `file://` rules Glance's
/// filesystem store applies.
public struct LocationURL: Sendable, Hashable, CustomStringConvertible {
    /// Lower-cased scheme, e.g. `file`, `rbd`, `swift+https`.
    public var scheme: String
    /// Everything after `scheme://`.
    public var remainder: String

    public var description: String { "\(scheme)://\(remainder)" }

    /// The URL with any password in it replaced by `***`: legacy Swift and S3 locations carry
    /// credentials (`swift+http://PROJECT:USER:KEY@HOST/…`, `s3://ACCESS:SECRET@HOST/…`), which
    /// must not reach logs, the audit table or a terminal.
    /// The userinfo ends at the last `@` (an old S3 secret may hold a `/`); over-redacting a
    /// rare `@` in a container name costs nothing. A `file://` path has no userinfo.
    public var redacted: String {
        guard scheme != "file", let at = remainder.lastIndex(of: "@") else { return description }
        let userinfo = remainder[..<at]
        let kept = userinfo.lastIndex(of: ":").map { userinfo[...$0] } ?? ""
        return "\(scheme)://\(kept)***\(remainder[at...])"
    }

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
        guard scheme == "file" else { throw LocationError.unsupportedScheme(scheme, url: redacted) }
        var path = remainder
        if path.hasPrefix("localhost/") { path.removeFirst("localhost".count) }
        guard path.hasPrefix("/") else { throw LocationError.relativeFilePath(description) }
        // Bytes: as a Character, a NUL followed by a combining mark is not "\0".
        guard !path.utf8.contains(0) else { throw LocationError.badFilePath(description, reason: "it contains a NUL byte") }
        return try Self.normalise(path, url: description)
    }

    /// Resolves `.` and `..` lexically in an absolute path.
    ///
    /// Split and compared as UTF-8 bytes, as the kernel does: as Characters, a `/` followed by
    /// a combining mark is no separator, so `/a/./\u{301}b` kept its `.` and `/a/../\u{301}b` its `..`.
    public static func normalise(_ path: String, url: String) throws -> String {
        var parts: [Substring.UTF8View] = []
        for component in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual(".".utf8) { continue }
            if component.elementsEqual("..".utf8) {
                guard !parts.isEmpty else {
                    throw LocationError.badFilePath(url, reason: "its `..` climbs above /")
                }
                parts.removeLast()
                continue
            }
            parts.append(component)
        }
        return "/" + parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
    }
}

extension LocationURL {
    /// Whether the absolute, normalised `path` is `root` or lies under it (component-wise:
    /// `/srv/images2` is not under `/srv/images`).
    ///
    /// Compared as UTF-8 bytes, as the kernel does: String comparison treats canonically
    /// equivalent text as equal, so `/srv/cafe\u{301}/x` was inside `/srv/caf\u{e9}`, another directory.
    public static func path(_ path: String, isInside root: String) -> Bool {
        let slash = UInt8(ascii: "/")
        var root = Array(root.utf8)
        if root.count > 1, root.last == slash { root.removeLast() }
        if root == [slash] { return path.utf8.first == slash }
        return path.utf8.elementsEqual(root) || path.utf8.starts(with: root + [slash])
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

    /// What the operator must do about it: fix the configuration (a store root, the key, a
    /// store name), or nothing will ever delete it as it stands.
    public var failureClass: FailureClass {
        switch self {
        case .outsideStoreRoots, .undecryptable, .unknownStore: .misconfigured
        case .notAURL, .unsupportedScheme, .relativeFilePath, .badFilePath, .unsupportedBackend: .unsupported
        }
    }

    private static func quote(_ text: String) -> String {
        let cut = text.count > 120 ? String(text.prefix(120)) + "…" : text
        return "'\(cut)'"
    }
}
