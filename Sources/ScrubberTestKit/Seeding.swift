import Foundation
import ScrubberCore

/// Rows as Glance leaves them, for `scrubber demo`, `scrubber bench`, `scrubber seed` and
/// tests, on any catalog backend; the files their locations name are written here.
public struct SeedSpec: Sendable {
    public var images: Int
    public var locationsPerImage = 1
    /// Bytes in each location's file (0: no file is written, the location points at nothing).
    public var fileBytes = 1024
    /// `deleted_at = now − deletedAgo` (Glance's clock: this machine's, in UTC).
    public var deletedAgo: Double = 3600
    /// `updated_at = now − updatedAgo`. Nil: now for `pending_delete` and `active` rows (a row
    /// written now was last written now, as a change feed sees it; Glance sets `updated_at` at
    /// every write), and `deleted_at` for `deleted` history.
    public var updatedAgo: Double?
    /// `pending_delete` (a delayed delete), `active` (an image that must survive) or `deleted`
    /// (history: an image scrubbed long ago, soft-deleted with its locations, as Glance keeps it
    /// until `glance-manage db purge`).
    public var status: ImageStatus = .pendingDelete
    public var visibility: ImageVisibility = .shared
    /// Where the files go (a store root, or anywhere for tests of escapes).
    public var storeDirectory: String
    /// `meta_data = {"store": storeID}`; nil writes `{}`.
    public var storeID: String?
    /// Write `meta_data` NULL, as old Glance rows have.
    public var nullMetaData = false
    /// Encrypt `value` as Glance does with `metadata_encryption_key`.
    public var encryptionKey: String?
    public var namePrefix = "scrub-seed"
    /// Locations `PREFIX + ID` (`…/ID.K` for further ones) instead of files: no file is written
    /// and ``SeededImage/paths`` holds the URLs (`scrubber bench` on an object store uploads them).
    public var objectURLPrefix: String?
    /// After the id in an object URL (`/snap` for glance_store's RBD locations).
    public var objectURLSuffix = ""

    public init(images: Int, storeDirectory: String) {
        self.images = images
        self.storeDirectory = storeDirectory
    }
}

/// A catalog that can be filled with seed rows (every SQL backend).
public protocol SeedableCatalog: ScrubCatalog {
    /// Inserts `spec.images` images with their locations (and writes their files), in batches.
    func seed(_ spec: SeedSpec) async throws -> [SeededImage]

    /// The write of `scrubber bench`'s reference loop: marks the images and all their locations
    /// `deleted` in one transaction, with none of the scrubber's checks or audit rows.
    func markDeletedUnchecked(imageIDs: [String]) async throws

    /// Each image's status and count of `pending_delete` locations, read in pages (how a
    /// benchmark verifies its end state without a query per image). Unknown ids are absent.
    func imageStates(_ ids: [String]) async throws -> [String: ImageState]

    /// The idle benchmark's reset: forgets the leader's sweep (mark and full sweeps), so the
    /// next leader starts as on a fresh cluster, with a full sweep.
    func forgetSweep() async throws

    /// Rows of Glance's `images` the database has read so far (PostgreSQL's
    /// `pg_stat_user_tables`: `seq_tup_read + idx_tup_fetch`), or nil where it keeps no such
    /// count (SQLite).
    func imagesRowsRead() async throws -> Int?
}

/// What ``SeedableCatalog/imageStates(_:)`` reads of one image.
public struct ImageState: Sendable, Hashable {
    public var status: String
    public var pendingLocations: Int

    public init(status: String, pendingLocations: Int) {
        self.status = status
        self.pendingLocations = pendingLocations
    }
}

/// One seeded image and its files.
public struct SeededImage: Sendable, Hashable {
    public var id: String
    /// Its locations' files (with ``SeedSpec/objectURLPrefix``, their URLs).
    public var paths: [String]
}

/// A batch of seed rows, ready for ``SeedQueries/seedImages(_:)`` and
/// ``SeedQueries/seedLocations(_:)``; its files exist.
public struct SeedBatch: Sendable {
    public struct Image: Sendable {
        public var seeded: SeededImage
        public var name: String
        /// `image_locations.value` of each location (ciphertext when encrypted).
        public var values: [String]
    }

    public var images: [Image]
    public var size: Int
    public var status: String
    public var created: String
    public var updated: String
    public var deletedAt: String?
    public var deleted: Bool
    public var visibility: String
    public var metaData: String?
    public var locationStatus: String
    public var locationCount: Int { images.reduce(0) { $0 + $1.values.count } }
}

extension SeedSpec {
    /// Makes the spec's rows in batches of at most `size` images, writing each batch's files,
    /// and hands each batch to `insert`; returns every seeded image.
    public func seed(batchesOf size: Int = 1000, insert: (SeedBatch) async throws -> Void) async throws -> [SeededImage] {
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        let cipher = try encryptionKey.map(GlanceCipher.init(key:))
        let now = Date()
        let softDeleted = status == .pendingDelete || status == .deleted
        let deletedAt = softDeleted ? GlanceTimestamp.string(from: now.addingTimeInterval(-deletedAgo)) : nil
        let created = GlanceTimestamp.string(from: now.addingTimeInterval(-deletedAgo - 3600))
        // History has no data left to write.
        let payload = [UInt8](repeating: 0x5a, count: status == .deleted ? 0 : fileBytes)
        let locationStatus: LocationStatus =
            switch status {
            case .pendingDelete: .pendingDelete
            case .deleted: .deleted
            default: .active
            }
        let template = SeedBatch(
            images: [],
            size: fileBytes,
            status: status.rawValue,
            created: created,
            updated: updatedAgo.map { GlanceTimestamp.string(from: now.addingTimeInterval(-$0)) }
                ?? (status == .deleted ? deletedAt ?? created : GlanceTimestamp.string(from: now)),
            deletedAt: deletedAt,
            deleted: softDeleted,
            visibility: visibility.rawValue,
            metaData: nullMetaData ? nil : (storeID.map { #"{"store": "\#($0)"}"# } ?? "{}"),
            locationStatus: locationStatus.rawValue
        )
        var all: [SeededImage] = []
        all.reserveCapacity(images)
        for start in stride(from: 0, to: images, by: size) {
            var batch = template
            for i in start..<min(start + size, images) {
                let id = UUID().uuidString.lowercased()
                var paths: [String] = []
                var values: [String] = []
                for k in 0..<locationsPerImage {
                    let name = k == 0 ? id : "\(id).\(k)"
                    if let objectURLPrefix {
                        let url = objectURLPrefix + name + objectURLSuffix
                        paths.append(url)
                        values.append(try cipher?.encrypt(url) ?? url)
                        continue
                    }
                    let path = storeDirectory + "/" + name
                    if !payload.isEmpty { try Self.write(payload, to: path) }
                    paths.append(path)
                    let url = "file://" + path
                    values.append(try cipher?.encrypt(url) ?? url)
                }
                batch.images.append(.init(seeded: SeededImage(id: id, paths: paths), name: "\(namePrefix)-\(i)", values: values))
            }
            try await insert(batch)
            all += batch.images.map(\.seeded)
        }
        return all
    }

    /// Writes a new file with plain system calls (Foundation's atomic write costs a rename per file).
    private static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }
}
