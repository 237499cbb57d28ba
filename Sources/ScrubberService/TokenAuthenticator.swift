import Crypto
import Foundation

/// Checks the service's shared token, in constant time: it keeps only the token's digest, and
/// digests have one length whatever the token's.
struct TokenAuthenticator: Sendable {
    private let digest: SHA256.Digest

    /// - Parameter token: the bearer token, already trimmed (see ``TokenFile/read(_:)``).
    init(token: String) {
        digest = SHA256.hash(data: Data(token.utf8))
    }

    /// Whether an `Authorization` header presents the token: `Bearer <token>`, or with `basic`
    /// also `Basic base64(<any user>:<token>)` (a browser's, for the status page).
    func authorises(_ header: String?, basic: Bool = false) -> Bool {
        guard let header else { return false }
        let presented: Substring
        if header.hasPrefix("Bearer ") {
            presented = header.dropFirst("Bearer ".count)
        } else if basic, header.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(header.dropFirst("Basic ".count))),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        {
            presented = text[text.index(after: colon)...]
        } else {
            return false
        }
        // Digest's == compares in constant time.
        return SHA256.hash(data: Data(presented.utf8)) == digest
    }
}
