import Foundation
import ScrubberCore
import Synchronization

/// Deletes what glance_store's RBD driver wrote, as it deletes it (5.7.0), on librbd:
///
/// 1. With a snapshot in the URL (glance_store's `rbd://FSID/POOL/IMAGE/snap`): open the image
///    (missing: gone), unprotect the snapshot (already unprotected: fine; `EBUSY`, clones
///    exist: **in use**), remove it (already gone: fine).
/// 2. Remove the image: `EBUSY` (another client has it open): **in use**; `ENOTEMPTY` (a
///    snapshot Glance did not make): move it to the RBD trash and count it done (a trash move
///    that is busy: in use); missing: gone.
///
/// An image in use stays `pending_delete` and says who pins it: the clone children of its
/// snapshot as `pool/image`, or the clients that have it open (watchers).
///
/// One cluster connection per store, made on first use and reused (connecting costs ~12 ms);
/// every call blocks, so they run on the store's own threads, never Swift's cooperative pool,
/// several at once on the shared connection. Connect and operations time out after
/// `rados_connect_timeout` (30 s by default; librados alone waits 300 s or for ever).
public final class RBDStore: ImageStore {
    public let name: String
    private let options: RBDOptions
    private let threads: BlockingThreads
    private let cluster = Mutex<Cluster?>(nil)
    /// Serializes connecting (deletes that find no connection wait for one attempt).
    private let connecting = Mutex(())

    /// - Parameter threads: deletes in flight at once (each blocks one thread).
    public init(name: String, options: RBDOptions, threads: Int = 16) {
        self.name = name
        self.options = options
        self.threads = BlockingThreads(count: threads)
    }

    /// A location as glance_store's `parse_uri` reads it.
    struct Location: Equatable {
        var pool: String?
        var image: String
        var snapshot: String?
    }

    /// `rbd://FSID/POOL/IMAGE/SNAP` (percent-decoded; the fsid is not checked) or the legacy
    /// `rbd://IMAGE` (the store's pool, no snapshot). Anything else, or an empty part, is refused.
    static func parse(_ url: LocationURL) throws -> Location {
        guard url.scheme == "rbd" else { throw LocationError.unsupportedScheme(url.scheme, url: url.redacted) }
        let pieces = url.remainder.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count == 1 || pieces.count == 4 else {
            throw StoreError(
                .unsupported,
                "\(url.redacted) has \(pieces.count) parts; an rbd location has 1 (IMAGE) or 4 (FSID/POOL/IMAGE/SNAP); not deleted"
            )
        }
        guard !pieces.contains(where: \.isEmpty) else {
            throw StoreError(.unsupported, "\(url.redacted) has an empty part; not deleted")
        }
        if pieces.count == 1 { return Location(pool: nil, image: pieces[0], snapshot: nil) }
        let decoded = pieces.map { $0.removingPercentEncoding ?? $0 }
        return Location(pool: decoded[1], image: decoded[2], snapshot: decoded[3])
    }

    public func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        try await deleteMeasuring(url, permit: permit).outcome
    }

    public func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?) {
        let location = try Self.parse(url)
        // Read on the store's thread, right before the blocking calls start.
        return try await threads.run {
            guard permit() else { throw StoreError.permitWithdrawn }
            return try self.deleteBlocking(location)
        }
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        let location = try Self.parse(url)
        return try await threads.run {
            let (lib, io) = try self.ioctx(location.pool ?? self.options.pool)
            var image: LibRBD.Handle?
            let opened = lib.openReadOnly(io, location.image, &image, nil)
            if opened == -ENOENT { return false }
            guard opened == 0 else { throw self.failure(opened, "open", location) }
            _ = lib.close(image)
            return true
        }
    }

    /// Makes an image as glance_store's add does, empty: create it (`bytes` long), then, when the
    /// URL names one, its snapshot, protected. `scrubber bench` seeds with it; nodes only delete.
    public func create(_ url: LocationURL, bytes: Int) async throws {
        let location = try Self.parse(url)
        try await threads.run {
            let (lib, io) = try self.ioctx(location.pool ?? self.options.pool)
            var order: Int32 = 0
            let created = lib.create(io, location.image, UInt64(bytes), &order)
            guard created == 0 else { throw self.failure(created, "create", location) }
            guard let snapshot = location.snapshot else { return }
            var image: LibRBD.Handle?
            let opened = lib.open(io, location.image, &image, nil)
            guard opened == 0 else { throw self.failure(opened, "open", location) }
            defer { _ = lib.close(image) }
            let made = lib.snapCreate(image, snapshot)
            guard made == 0 else { throw self.failure(made, "snapshot", location) }
            let protected = lib.snapProtect(image, snapshot)
            guard protected == 0 else { throw self.failure(protected, "protect the snapshot of", location) }
        }
    }

    /// The cluster's fsid (what glance_store writes first in a location).
    public func clusterFSID() async throws -> String {
        try await threads.run {
            let cluster = try self.connection()
            var buffer = [CChar](repeating: 0, count: 64)
            let length = cluster.lib.radosGetFSID(cluster.handle, &buffer, buffer.count)
            guard length >= 0 else {
                throw StoreError(.transient, "reading the fsid of store \(self.name) failed: \(LibRBD.describe(length))")
            }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: The delete (blocking, on the store's threads)

    private func deleteBlocking(_ location: Location) throws -> (outcome: LocationOutcome, bytes: Int64?) {
        let pool = location.pool ?? options.pool
        let (lib, io) = try ioctx(pool)
        var bytes: Int64?
        if let snapshot = location.snapshot {
            var image: LibRBD.Handle?
            let opened = lib.open(io, location.image, &image, nil)
            if opened == -ENOENT { return (.notFound, nil) }
            guard opened == 0 else { throw failure(opened, "open", location) }
            var size: UInt64 = 0
            if lib.getSize(image, &size) == 0 { bytes = Int64(size) }
            let unprotected = lib.snapUnprotect(image, snapshot)
            var removed: Int32 = 0
            if unprotected == 0 || unprotected == -EINVAL || unprotected == -ENOENT {
                removed = lib.snapRemove(image, snapshot)
            }
            _ = lib.close(image)
            if unprotected == -EBUSY || removed == -EBUSY {
                throw inUse(
                    location,
                    pool: pool,
                    because: "its snapshot \(snapshot) has clones",
                    dependents: children(lib, io, location.image, snapshot, pool)
                )
            }
            guard unprotected == 0 || unprotected == -EINVAL || unprotected == -ENOENT else {
                throw failure(unprotected, "unprotect snapshot \(snapshot) of", location)
            }
            guard removed == 0 || removed == -ENOENT else { throw failure(removed, "remove snapshot \(snapshot) of", location) }
        }
        let removed = lib.remove(io, location.image)
        switch removed {
        case 0: return (.deleted, bytes)
        case -ENOENT: return (.notFound, bytes)
        case -EBUSY:
            throw inUse(location, pool: pool, because: "it is open by another client", dependents: watchers(lib, io, location.image))
        case -ENOTEMPTY:
            // A snapshot Glance did not make: to the trash, as glance_store does (counted done).
            let moved = lib.trashMove(io, location.image, 0)
            if moved == 0 { return (.deleted, bytes) }
            if moved == -EBUSY {
                throw inUse(
                    location,
                    pool: pool,
                    because: "it has snapshots of its own and is open by another client",
                    dependents: watchers(lib, io, location.image)
                )
            }
            throw failure(moved, "move to the trash", location)
        default:
            throw failure(removed, "remove", location)
        }
    }

    /// The clones of `image@snapshot`, as `pool/image` (a clone in the trash says so).
    private func children(_ lib: LibRBD, _ io: LibRBD.Handle, _ image: String, _ snapshot: String, _ pool: String) -> [String] {
        Self.list(
            lib,
            io,
            image,
            at: snapshot,
            stride: LibRBD.linkedImageSpecSize,
            call: lib.listChildren,
            cleanup: lib.listChildrenCleanup
        ) { spec in
            func text(_ offset: Int) -> String {
                spec.load(fromByteOffset: offset, as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? "?"
            }
            let trashed = spec.load(fromByteOffset: LibRBD.linkedImageSpecTrash, as: Bool.self)
            return "\(text(LibRBD.linkedImageSpecPoolName))/\(text(LibRBD.linkedImageSpecImageName))\(trashed ? " (in the trash)" : "")"
        }
    }

    /// The clients that have `image` open, as `client.ID at ADDRESS`.
    private func watchers(_ lib: LibRBD, _ io: LibRBD.Handle, _ image: String) -> [String] {
        Self.list(lib, io, image, at: nil, stride: LibRBD.watcherSize, call: lib.listWatchers, cleanup: lib.listWatchersCleanup) {
            watcher in
            let address = watcher.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? "?"
            return "client.\(watcher.load(fromByteOffset: 8, as: Int64.self)) at \(address)"
        }
    }

    /// Runs one of librbd's list calls on `image` (at `snapshot`), opened read-only: it fills an
    /// array of `stride`-byte structs and answers `ERANGE` with the count it needs when the
    /// array is too small. Each filled struct is read by `read`, then freed by `cleanup`.
    /// Best effort: the names only explain an in-use image, so a failure lists nothing.
    private static func list(
        _ lib: LibRBD,
        _ io: LibRBD.Handle,
        _ image: String,
        at snapshot: String?,
        stride: Int,
        call: (LibRBD.Handle?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>) -> Int32,
        cleanup: (UnsafeMutableRawPointer?, Int) -> Void,
        read: (UnsafeMutableRawPointer) -> String
    ) -> [String] {
        var handle: LibRBD.Handle?
        guard lib.openReadOnly(io, image, &handle, snapshot) == 0 else { return [] }
        defer { _ = lib.close(handle) }
        var count = 16
        for _ in 0..<4 {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * stride, alignment: 8)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: count * stride)
            var filled = count
            let listed = call(handle, buffer, &filled)
            if listed == -ERANGE {
                count = filled
                continue
            }
            guard listed == 0 else { return [] }
            defer { cleanup(buffer, filled) }
            return (0..<filled).map { read(buffer + $0 * stride) }
        }
        return []
    }

    private func inUse(_ location: Location, pool: String, because reason: String, dependents: [String]) -> StoreError {
        let named = dependents.isEmpty ? "" : ": \(dependents.joined(separator: ", "))"
        return StoreError(
            .inUse,
            "rbd image \(pool)/\(location.image) on \(name) is in use (\(reason)\(named)); not deleted",
            dependents: dependents
        )
    }

    /// The class of a librbd/librados error.
    private func failure(_ code: Int32, _ what: String, _ location: Location) -> StoreError {
        let text = "\(what) rbd image \(location.pool ?? options.pool)/\(location.image) on \(name) failed: \(LibRBD.describe(code))"
        switch -code {
        case EACCES, EPERM: return StoreError(.misconfigured, "\(text) (check rbd_store_user's caps); not deleted")
        default: return StoreError(.transient, "\(text); not deleted")
        }
    }

    // MARK: The connection

    /// The cluster handle and its I/O contexts, one per pool.
    final class Cluster: @unchecked Sendable {
        let lib: LibRBD
        let handle: LibRBD.Handle
        let pools = Mutex<[String: IOContext]>([:])

        init(lib: LibRBD, handle: LibRBD.Handle) {
            self.lib = lib
            self.handle = handle
        }

        deinit {
            for io in pools.withLock({ Array($0.values) }) { lib.radosIoctxDestroy(io.handle) }
            lib.radosShutdown(handle)
        }
    }

    /// The connection's I/O context for `pool`; connects first when there is no connection.
    private func ioctx(_ pool: String) throws -> (LibRBD, LibRBD.Handle) {
        let cluster = try connection()
        if let io = cluster.pools.withLock({ $0[pool] }) { return (cluster.lib, io.handle) }
        var io: LibRBD.Handle?
        let created = cluster.lib.radosIoctxCreate(cluster.handle, pool, &io)
        guard created == 0, let io else {
            if created == -ENOENT {
                throw StoreError(.misconfigured, "pool \(pool) does not exist in the Ceph cluster of store \(name); not deleted")
            }
            throw StoreError(.transient, "opening pool \(pool) on \(name) failed: \(LibRBD.describe(created)); not deleted")
        }
        let made = IOContext(handle: io)
        let kept = cluster.pools.withLock { pools in
            if let existing = pools[pool] { return existing }
            pools[pool] = made
            return made
        }
        if kept.handle != io { cluster.lib.radosIoctxDestroy(io) }
        return (cluster.lib, kept.handle)
    }

    /// The store's connection, made now if there is none (a failed attempt is not kept: the
    /// next delete tries again).
    private func connection() throws -> Cluster {
        if let cluster = cluster.withLock({ $0 }) { return cluster }
        return try connecting.withLock { _ in
            if let cluster = cluster.withLock({ $0 }) { return cluster }
            let lib = try LibRBD.shared.get()
            var handle: LibRBD.Handle?
            let created = lib.radosCreate(&handle, options.user)
            guard created == 0, let handle else {
                throw StoreError(
                    .misconfigured,
                    "cannot create a Ceph client for store \(name) (user \(options.user ?? "admin")): \(LibRBD.describe(created)); not deleted"
                )
            }
            func fail(_ error: StoreError) -> StoreError {
                lib.radosShutdown(handle)
                return error
            }
            let read = lib.radosConfReadFile(handle, options.cephConf)
            guard read == 0 else {
                throw fail(
                    StoreError(
                        .misconfigured,
                        "store \(name) cannot read its Ceph configuration \(options.cephConf ?? "(the default places)"): \(LibRBD.describe(read)); not deleted"
                    )
                )
            }
            let seconds = String(Int(options.timeout.rounded(.up)))
            for option in ["client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout"] {
                _ = lib.radosConfSet(handle, option, seconds)
            }
            let connected = lib.radosConnect(handle)
            guard connected == 0 else {
                let text = "store \(name) cannot connect to Ceph as client.\(options.user ?? "admin"): \(LibRBD.describe(connected))"
                switch -connected {
                case EACCES, EPERM, ENOENT, EINVAL:
                    throw fail(
                        StoreError(.misconfigured, "\(text) (check rbd_store_user, its keyring and rbd_store_ceph_conf); not deleted")
                    )
                default:
                    throw fail(StoreError(.transient, "\(text) within \(seconds) s; not deleted"))
                }
            }
            let made = Cluster(lib: lib, handle: handle)
            cluster.withLock { $0 = made }
            return made
        }
    }
}

/// A pool's I/O context: librados's are safe to use from several threads at once.
struct IOContext: @unchecked Sendable {
    let handle: LibRBD.Handle
}
