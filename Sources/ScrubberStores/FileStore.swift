import Foundation
import ScrubberCore

/// Glance's filesystem store: `file://` locations under configured store directories.
///
/// Keeps **only what is pending, only under the roots** (DESIGN §3.7): a path is deleted only
/// if its directory resolves (after `..` and symlinks) inside a root and, when the file itself
/// is a symlink, its target does too. Only the directory entry named by the location is
/// unlinked (a symlink, never its target), so a location can never delete another image's file.
public struct FileStore: ImageStore {
    /// The roots as configured (normalised).
    public let roots: [String]
    private let resolvedRoots: [String]

    public init(roots: [String]) {
        self.roots = roots.map { (try? LocationURL.normalise($0, url: $0)) ?? $0 }
        resolvedRoots = self.roots.map { Self.realPath($0) ?? $0 }
    }

    public func delete(_ url: LocationURL, permit: @Sendable () -> Bool) async throws -> LocationOutcome {
        guard let path = try resolve(url) else { return .notFound }
        // Checked right before the unlink, with no suspension point between them.
        guard permit() else { throw StoreError.permitWithdrawn }
        if unlink(path) == 0 { return .deleted }
        let code = errno
        switch code {
        case ENOENT: return .notFound
        case EACCES, EPERM:
            throw StoreError("permission denied deleting \(path) (\(String(cString: strerror(code)))); check the scrubber's access to the store directory")
        case EISDIR:
            throw StoreError("\(path) is a directory, not an image file; not deleted")
        default:
            throw StoreError("cannot delete \(path): \(String(cString: strerror(code)))")
        }
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        try resolve(url) != nil
    }

    /// The path to unlink, or nil when nothing is there.
    /// - Throws: ``LocationError`` when the location is not a `file://` path inside the roots.
    func resolve(_ url: LocationURL) throws -> String? {
        let path = try url.filePath()
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        guard let realParent = Self.realPath(parent) else {
            // No such directory, so no such file, but a path outside the roots is refused all the same.
            guard (roots + resolvedRoots).contains(where: { LocationURL.path(path, isInside: $0) && path != $0 }) else {
                throw LocationError.outsideStoreRoots(url: url.description, resolved: path, roots: roots)
            }
            return nil
        }
        let candidate = realParent == "/" ? "/" + name : realParent + "/" + name
        guard resolvedRoots.contains(where: { LocationURL.path(candidate, isInside: $0) && candidate != $0 }) else {
            throw LocationError.outsideStoreRoots(url: url.description, resolved: candidate, roots: roots)
        }
        var info = stat()
        guard lstat(candidate, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw StoreError("cannot inspect \(candidate): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFLNK, let target = Self.realPath(candidate),
           !resolvedRoots.contains(where: { LocationURL.path(target, isInside: $0) }) {
            throw LocationError.outsideStoreRoots(url: url.description, resolved: target, roots: roots)
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            throw StoreError("\(candidate) is a directory, not an image file; not deleted")
        }
        return candidate
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
