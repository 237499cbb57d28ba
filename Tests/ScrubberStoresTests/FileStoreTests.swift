import Foundation
import ScrubberCore
import ScrubberStores
import Synchronization
import Testing

/// A fresh directory under the system temporary directory; the test removes it with `remove()`
/// in a `defer` (explicitly, since a deinit could run at the last use, before the test ends).
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // Resolve /tmp itself if it is a symlink, so expectations compare real paths.
        path = url.resolvingSymlinksInPath().path
    }

    func remove() {
        // Make read-only directories writable again so everything can be removed.
        if let walker = FileManager.default.enumerator(atPath: path) {
            for case let item as String in walker {
                var info = stat()
                let full = path + "/" + item
                if lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { chmod(full, 0o755) }
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Creates `relative` (and its parents) as a directory; returns its absolute path.
    @discardableResult
    func directory(_ relative: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    /// Writes a small file at `relative` (creating parents); returns its absolute path.
    @discardableResult
    func file(_ relative: String, contents: String = "image bytes") throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: full))
        return full
    }

    /// Creates a symlink at `relative` pointing to `target` (an absolute path); returns the link's path.
    @discardableResult
    func symlink(_ relative: String, to target: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
        return full
    }
}

/// Whether a directory entry exists at `path`, without following a final symlink.
func entryExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

func fileURL(_ path: String) throws -> LocationURL {
    try LocationURL("file://" + path)
}

/// Runs `body` and checks that it threw ``LocationError/outsideStoreRoots(url:resolved:roots:)``.
func expectOutsideStoreRoots<T>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    let error = await #expect(throws: LocationError.self, sourceLocation: sourceLocation) { _ = try await body() }
    guard let error else { return }
    guard case .outsideStoreRoots = error else {
        Issue.record("expected outsideStoreRoots, got \(error)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.description.contains("not deleted"), sourceLocation: sourceLocation)
}

@Suite("FileStore: deletes only directory entries inside its roots")
struct FileStoreTests {
    @Test("deleting an image file inside the root deletes it; deleting it again is notFound")
    func deletesThenNotFound() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/6c2a5d4e")
        let store = FileStore(roots: [root])
        #expect(try await store.delete(fileURL(image)) == .deleted)
        #expect(!entryExists(image))
        #expect(try await store.delete(fileURL(image)) == .notFound)
        #expect(entryExists(root))
    }

    @Test("a delete reports the bytes it reclaimed: the file's size, in a root or below it; none when nothing was there")
    func deleteMeasuresWhatItReclaims() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let direct = try tmp.file("images/a1", contents: String(repeating: "x", count: 1234))
        let nested = try tmp.file("images/sub/b2", contents: String(repeating: "y", count: 77))
        let store = FileStore(roots: [root])
        let first = try await store.deleteMeasuring(fileURL(direct), permit: { true })
        #expect(first.outcome == .deleted && first.bytes == 1234)
        let second = try await store.deleteMeasuring(fileURL(nested), permit: { true })
        #expect(second.outcome == .deleted && second.bytes == 77)
        let again = try await store.deleteMeasuring(fileURL(direct), permit: { true })
        #expect(again.outcome == .notFound && again.bytes == nil)
    }

    /// The store opens its roots once and unlinks relative to them; a root replaced since (a
    /// remount, a restore of the directory) must not make a present file look absent.
    @Test("a root replaced after the store opened it: its files are still found and deleted, never reported absent")
    func replacedRootIsResolvedAgain() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let store = FileStore(roots: [root])
        try FileManager.default.moveItem(atPath: root, toPath: tmp.path + "/images.old")
        try tmp.directory("images")
        let image = try tmp.file("images/5e1f")
        let stale = try tmp.file("images.old/9a0c")
        #expect(try await store.delete(fileURL(image)) == .deleted)
        #expect(!entryExists(image))
        // The moved-away directory is no longer the root: its file is not reachable by the location.
        #expect(try await store.delete(fileURL(root + "/9a0c")) == .notFound)
        #expect(entryExists(stale))
    }

    /// A symlink directly in the root, to a file outside: refused, and neither is deleted.
    @Test("a symlink directly in the root to a file outside is refused; the link and its target survive")
    func symlinkInRootToOutsideIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let outside = try tmp.file("secret/passwd")
        let link = try tmp.symlink("images/4b2d", to: outside)
        let store = FileStore(roots: [root])
        await expectOutsideStoreRoots { try await store.delete(fileURL(link)) }
        #expect(entryExists(link))
        #expect(entryExists(outside))
    }

    @Test("a withdrawn permit leaves the file; the permit is asked after the path is resolved")
    func withdrawnPermitDeletesNothing() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/7d3b")
        let store = FileStore(roots: [root])
        let asked = Mutex(0)
        let error = await #expect(throws: StoreError.self) {
            try await store.delete(
                fileURL(image),
                permit: {
                    asked.withLock { $0 += 1 }
                    return false
                }
            )
        }
        #expect(error == .permitWithdrawn)
        #expect(asked.withLock { $0 } == 1)
        #expect(entryExists(image))
        // Nothing there: nothing to permit, and nothing is asked.
        #expect(
            try await store.delete(
                fileURL(root + "/absent"),
                permit: {
                    Issue.record("asked for a missing file")
                    return false
                }
            ) == .notFound
        )
    }

    @Test("a simulated delete whose permit is withdrawn during its latency deletes nothing")
    func simulatedStoreAsksAfterItsLatency() async throws {
        let store = SimulatedStore(latency: 0.5)
        let trusted = Mutex(true)
        let url = try LocationURL("file:///images/sim-1")
        let delete = Task { try await store.delete(url, permit: { trusted.withLock { $0 } }) }
        // Withdrawn during the latency: a store that asked before sleeping would delete.
        try await Task.sleep(for: .milliseconds(50))
        trusted.withLock { $0 = false }
        await #expect(throws: StoreError.permitWithdrawn) { try await delete.value }
        #expect(store.deletedCount == 0)
        #expect(try await store.delete(url) == .deleted)
    }

    @Test("a file in a missing directory inside the root is notFound")
    func missingParentIsNotFound() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let store = FileStore(roots: [root])
        #expect(try await store.delete(fileURL(root + "/no/such/dir/img")) == .notFound)
        #expect(try await store.exists(fileURL(root + "/no/such/dir/img")) == false)
    }

    @Test("a path that is lexically outside the root (../) is refused and the outside file survives")
    func dotDotOutsideIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let outside = try tmp.file("outside/x")
        let store = FileStore(roots: [root])
        await expectOutsideStoreRoots { try await store.delete(fileURL(root + "/../outside/x")) }
        #expect(entryExists(outside))
        // Refused even when nothing is there.
        await expectOutsideStoreRoots { try await store.delete(fileURL(root + "/../outside/missing/x")) }
        await expectOutsideStoreRoots { try await store.exists(fileURL(root + "/../outside/x")) }
        await expectOutsideStoreRoots { try await store.delete(fileURL("/etc/passwd")) }
        #expect(entryExists("/etc/passwd"))
    }

    @Test("a symlinked directory inside the root that points outside is refused; the target survives")
    func symlinkedDirectoryOutsideIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let other = try tmp.directory("other")
        let target = try tmp.file("other/x")
        try tmp.symlink("images/link", to: other)
        let store = FileStore(roots: [root])
        await expectOutsideStoreRoots { try await store.delete(fileURL(root + "/link/x")) }
        await expectOutsideStoreRoots { try await store.exists(fileURL(root + "/link/x")) }
        #expect(entryExists(target))
    }

    @Test("a symlink file inside the root whose target is outside is refused; link and target survive")
    func symlinkFileOutsideIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let secret = try tmp.file("outside/secret")
        let link = try tmp.symlink("images/evil", to: secret)
        let store = FileStore(roots: [root])
        await expectOutsideStoreRoots { try await store.delete(fileURL(link)) }
        #expect(entryExists(secret))
        #expect(entryExists(link))
    }

    @Test("a symlink inside the root to another file inside the root: only the link is removed")
    func insideSymlinkRemovesOnlyTheLink() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let real = try tmp.file("images/real")
        let alias = try tmp.symlink("images/alias", to: real)
        let store = FileStore(roots: [root])
        #expect(try await store.delete(fileURL(alias)) == .deleted)
        #expect(!entryExists(alias))
        #expect(entryExists(real))
    }

    @Test("a root configured through a symlink still works, by either spelling of the path")
    func symlinkedRoot() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let real = try tmp.directory("real-images")
        let linkRoot = try tmp.symlink("images", to: real)
        try tmp.file("real-images/a")
        try tmp.file("real-images/b")
        let store = FileStore(roots: [linkRoot])
        #expect(try await store.exists(fileURL(linkRoot + "/a")))
        #expect(try await store.delete(fileURL(linkRoot + "/a")) == .deleted)
        #expect(try await store.delete(fileURL(real + "/b")) == .deleted)
        #expect(!entryExists(real + "/a") && !entryExists(real + "/b"))
        #expect(entryExists(linkRoot))
        // The root's own symlink is not an image inside it.
        await expectOutsideStoreRoots { try await store.delete(fileURL(linkRoot)) }
        #expect(entryExists(linkRoot))
    }

    @Test("a location naming the root itself is refused", arguments: ["", "/", "/.", "/x/.."])
    func rootItselfIsRefused(suffix: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        try tmp.file("images/keep")
        let store = FileStore(roots: [root])
        await expectOutsideStoreRoots { try await store.delete(fileURL(root + suffix)) }
        #expect(entryExists(root + "/keep"))
    }

    @Test("a directory location is a StoreError and nothing is removed")
    func directoryIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let empty = try tmp.directory("images/empty-dir")
        try tmp.file("images/full-dir/inner")
        let store = FileStore(roots: [root])
        for dir in [empty, root + "/full-dir"] {
            let error = await #expect(throws: StoreError.self) { try await store.delete(fileURL(dir)) }
            #expect(error?.description.contains("directory") == true)
            #expect(entryExists(dir))
        }
        #expect(entryExists(root + "/full-dir/inner"))
    }

    // Permission denied on delete is tested end to end, as an unprivileged user, in
    // ScrubberCLITests (root bypasses file permissions).
    @Test("an unexpected filesystem error (a file used as a directory: ENOTDIR) is a StoreError, not notFound")
    func unexpectedErrorIsStoreError() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let file = try tmp.file("images/plain-file")
        let store = FileStore(roots: [root])
        let error = await #expect(throws: StoreError.self) { try await store.delete(fileURL(file + "/x")) }
        #expect(error?.description.contains(file) == true)
        #expect(entryExists(file))
    }

    @Test("with two roots, a file in the second root is deleted")
    func secondRoot() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let first = try tmp.directory("images")
        let second = try tmp.directory("more/images")
        let image = try tmp.file("more/images/img")
        let store = FileStore(roots: [first, second])
        #expect(try await store.delete(fileURL(image)) == .deleted)
        #expect(!entryExists(image))
    }

    @Test("a sibling directory sharing the root's name as a prefix (images2 vs images) is outside")
    func commonPrefixSiblingIsRefused() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let sibling = try tmp.file("images2/x")
        let other = try tmp.directory("other")
        let store = FileStore(roots: [root, other])
        await expectOutsideStoreRoots { try await store.delete(fileURL(sibling)) }
        #expect(entryExists(sibling))
        await expectOutsideStoreRoots { try await store.delete(fileURL(tmp.path + "/images2/missing/x")) }
        // The same holds for a root written with a trailing slash.
        let slashed = FileStore(roots: [root + "/"])
        await expectOutsideStoreRoots { try await slashed.delete(fileURL(sibling)) }
        #expect(entryExists(sibling))
    }

    @Test("exists() is true for a present file and false for a missing one")
    func exists() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/img")
        let store = FileStore(roots: [root])
        #expect(try await store.exists(fileURL(image)))
        #expect(try await store.exists(fileURL(root + "/missing")) == false)
        _ = try await store.delete(fileURL(image))
        #expect(try await store.exists(fileURL(image)) == false)
    }

    @Test("a non-file location is refused as an unsupported scheme")
    func nonFileScheme() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let store = FileStore(roots: [root])
        let url = try LocationURL("swift://container/object")
        await #expect(throws: LocationError.unsupportedScheme("swift", url: "swift://container/object")) {
            try await store.delete(url)
        }
    }

    @Test("roots are kept normalised as configured")
    func rootsNormalised() {
        #expect(FileStore(roots: ["/srv/images/", "/srv//a/./b/../c"]).roots == ["/srv/images", "/srv/a/c"])
    }
}
