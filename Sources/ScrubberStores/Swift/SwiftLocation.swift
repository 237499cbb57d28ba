import Foundation
import ScrubberCore

/// A Swift location as glance_store 5.7.0's single-tenant `StoreLocation.parse_uri` reads it:
/// whom to log in as, where, and the container and object.
///
/// - `swift+config://REF/CONTAINER/OBJECT`: `REF` is a section of `swift_store_config_file`
///   (the one named, not `default_swift_reference`).
/// - `swift+http://PROJECT:USER:KEY@HOST[:PORT]/PATH/CONTAINER/OBJECT` (and `swift+https://`,
///   `swift://`, both https): the credentials are percent-encoded; the auth URL is
///   `HOST[:PORT]/PATH`.
///
/// The object is the last path part and the container the one before it; a container may be
/// `NAME_PREFIX` (`swift_store_multiple_containers_seed`), which changes nothing here.
struct SwiftLocation: Equatable {
    var credentials: SwiftReference
    var container: String
    var object: String

    /// - Throws: ``LocationError`` for another scheme; a ``StoreError`` saying what is wrong
    ///   with the URL (never its key) or the reference.
    init(_ url: LocationURL, options: SwiftOptions, store: String) throws {
        guard ["swift", "swift+http", "swift+https", "swift+config"].contains(url.scheme) else {
            throw LocationError.unsupportedScheme(url.scheme, url: url.redacted)
        }
        guard !url.remainder.contains("://") else {
            throw StoreError(.unsupported, "a \(url.scheme):// location with two schemes (glance_store refuses it too); not deleted")
        }
        // Query and fragment are not part of a Swift location (urlparse drops them from the path).
        let rest = url.remainder.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let slash = rest.firstIndex(of: "/") else {
            throw StoreError(.unsupported, "\(url.scheme)://… names no container and object; not deleted")
        }
        let netloc = String(rest[..<slash])
        let path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard path.count >= 2 else {
            throw StoreError(.unsupported, "\(url.scheme)://… names no container and object (expected …/CONTAINER/OBJECT); not deleted")
        }
        // As written: glance_store puts the names in unquoted and hands them to swiftclient so.
        container = path[path.count - 2]
        object = path[path.count - 1]
        if url.scheme == "swift+config" {
            guard let reference = options.references[netloc] else {
                let known = options.references.keys.sorted().joined(separator: ", ")
                let source =
                    options.configFile.map { "in swift_store_config_file \($0)" }
                    ?? "(no swift_store_config_file; swift_store_user/key/auth_address form default_swift_reference)"
                throw StoreError(
                    .misconfigured,
                    "store \(store) has no account reference '\(netloc)' \(source)\(known.isEmpty ? "" : "; known: \(known)"); not deleted"
                )
            }
            credentials = reference
            return
        }
        guard let at = netloc.lastIndex(of: "@") else {
            throw StoreError(
                .misconfigured,
                "\(url.scheme)://…/\(container)/\(object) carries no credentials (USER:KEY@) and no account reference; not deleted"
            )
        }
        // glance_store writes `quote(user):quote(key)`, so the one literal colon parts them (it
        // reads them back by unquoting first and splitting at the last colon, which loses a key
        // holding one); a hand-written `PROJECT:USER:KEY` splits at the last colon too.
        let creds = netloc[..<at]
        guard let colon = creds.lastIndex(of: ":") else {
            throw StoreError(
                .misconfigured,
                "\(url.scheme)://…/\(container)/\(object) has badly formed credentials (expected PROJECT:USER:KEY@); not deleted"
            )
        }
        let user = Self.decode(String(creds[..<colon]))
        let key = Self.decode(String(creds[creds.index(after: colon)...]))
        guard user.contains(":") else {
            throw StoreError(.misconfigured, "\(url.scheme)://…/\(container)/\(object) names user '\(user)', not PROJECT:USER; not deleted")
        }
        let host = String(netloc[netloc.index(after: at)...])
        let authPath = path.dropLast(2).joined(separator: "/")
        let scheme = url.scheme == "swift+http" ? "http" : "https"
        credentials = SwiftReference(
            authAddress: "\(scheme)://\(host)\(authPath.isEmpty ? "" : "/" + authPath)",
            user: user,
            key: key
        )
    }

    /// Percent-decoding as `urllib.parse.unquote` does (a malformed escape stays as it is).
    static func decode(_ text: String) -> String {
        text.removingPercentEncoding ?? text
    }
}
