import Foundation
import ScrubberCore

/// Glance's filesystem store: `file://` locations under configured store directories.
///
/// Keeps **only what is pending, only under the roots** (DESIGN §3.7): a path is deleted only
/// if its directory resolves (after `..` and symlinks) inside a root and, when the file itself
/// is a symlink, its target does too. Only the directory entry named by the location is
/// unlinked (a symlink, never its target), so a location can never delete another image's file.
///
/// The filesystem calls of a delete run on threads of the store's own: an unlink can wait on
/// the disk (measured: a fifth of a busy node's samples in `unlinkat`, part of it in
/// `io_schedule`), and on the cooperative pool (two threads on a two-core machine) that wait
/// would stall every other task of the node. The permit is checked on that thread, right
/// before the unlink.
public struct FileStore: ImageStore {
    /// The roots as configured (normalised).
    public let roots: [String]
    private let resolvedRoots: [String]
    /// The roots that existed when the store was made, opened, by configured path.
    private let openRoots: [String: OpenDirectory]
    private let threads: BlockingThreads

    /// - Parameter threads: deletes in flight at once (each holds a thread while the kernel
    ///   works; unlinks in one directory take its lock in turn, so a few suffice).
    public init(roots: [String], threads: Int = 4) {
        self.threads = BlockingThreads(count: threads)
        self.roots = roots.map { (try? LocationURL.normalise($0, url: $0)) ?? $0 }
        resolvedRoots = self.roots.map { Self.realPath($0) ?? $0 }
        var open: [String: OpenDirectory] = [:]
        for (root, resolved) in zip(self.roots, resolvedRoots) where open[root] == nil {
            if let directory = OpenDirectory(resolved) { open[root] = directory }
        }
        openRoots = open
    }

    public func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        try await deleteMeasuring(url, permit: permit).outcome
    }

    /// The file's size (`st_size`) is the bytes a delete reclaims.
    public func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?) {
        let path = try url.filePath()
        return try await threads.run { try deleteBlocking(url, path: path, permit: permit) }
    }

    private func deleteBlocking(
        _ url: LocationURL,
        path: String,
        permit: @Sendable () -> Bool
    ) throws -> (outcome: LocationOutcome, bytes: Int64?) {
        if let deleted = try deleteInRoot(path, permit: permit) { return deleted }
        guard let path = try resolve(url) else { return (.notFound, nil) }
        var info = stat()
        let size: Int64? = stat(path, &info) == 0 ? Int64(info.st_size) : nil
        // Checked right before the unlink, with no suspension point between them.
        guard permit() else { throw StoreError.permitWithdrawn }
        if unlink(path) == 0 { return (.deleted, size) }
        let code = errno
        if code == ENOENT { return (.notFound, nil) }
        throw Self.unlinkError(path, code)
    }

    /// The common case, Glance's layout: a regular file directly in a root. It is inspected and
    /// unlinked relative to the root directory opened when the store was made (`fstatat`,
    /// `unlinkat`), so no path is resolved per delete (`realpath` of the directory was a tenth
    /// of a node's time) and no symlink in the root's path can redirect the unlink.
    ///
    /// Returns nil when the full resolution must decide: the path is not directly in an opened
    /// root, the entry is a symlink or a directory (their checks and messages), or it is absent
    /// (never "not found" from a directory that is no longer the root). A root replaced since it
    /// was opened (moved away, remounted) is not used: its identity is checked on each delete,
    /// one `stat` instead of resolving every component.
    private func deleteInRoot(_ path: String, permit: @Sendable () -> Bool) throws -> (outcome: LocationOutcome, bytes: Int64?)? {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let parent = String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        let rootPath = parent.isEmpty ? "/" : parent
        guard !name.isEmpty, name != ".", name != "..", let root = openRoots[rootPath], root.isStill(at: rootPath) else { return nil }
        var info = stat()
        guard fstatat(root.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        // Checked right before the unlink, with no suspension point between them.
        guard permit() else { throw StoreError.permitWithdrawn }
        if unlinkat(root.fd, name, 0) == 0 { return (.deleted, Int64(info.st_size)) }
        let code = errno
        if code == ENOENT { return nil }
        throw Self.unlinkError(path, code)
    }

    private static func unlinkError(_ path: String, _ code: Int32) -> StoreError {
        switch code {
        case EACCES, EPERM:
            StoreError(
                .misconfigured,
                "permission denied deleting \(path) (\(String(cString: strerror(code)))); check the scrubber's access to the store directory"
            )
        case EISDIR:
            StoreError(.unsupported, "\(path) is a directory, not an image file; not deleted")
        default:
            StoreError(.transient, "cannot delete \(path): \(String(cString: strerror(code)))")
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
            throw StoreError(.transient, "cannot inspect \(candidate): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFLNK, let target = Self.realPath(candidate),
            !resolvedRoots.contains(where: { LocationURL.path(target, isInside: $0) })
        {
            throw LocationError.outsideStoreRoots(url: url.description, resolved: target, roots: roots)
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            throw StoreError(.unsupported, "\(candidate) is a directory, not an image file; not deleted")
        }
        return candidate
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A directory opened for `*at` calls, closed with its last user.
final class OpenDirectory: Sendable {
    let fd: Int32
    private let device: UInt64
    private let inode: UInt64

    init?(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// Whether `path` still names this directory (the same device and inode).
    func isStill(at path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    deinit { close(fd) }
}
