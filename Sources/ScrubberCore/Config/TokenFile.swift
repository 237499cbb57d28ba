import Foundation

/// The lease service's bearer token, kept in a file (`--token-file`, `[cluster] token_file`) so
/// it never appears in a process listing.
public enum TokenFile {
    /// Reads a token: surrounding whitespace (a trailing newline) is not part of it.
    /// - Throws: ``ConfigError`` naming the file when it cannot be read or holds no token.
    public static func read(_ path: String) throws(ConfigError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, message: "cannot read the token file: \((error as NSError).localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ConfigError(file: path, message: "the token file holds no token (empty or only whitespace)") }
        return token
    }
}
