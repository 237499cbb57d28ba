import Foundation
import GRDB
import ScrubberCore

/// Rows as Glance leaves them, for `scrubber demo`, `scrubber bench`, `scrubber seed` and tests.
public struct SeedSpec: Sendable {
    public var images: Int
    public var locationsPerImage = 1
    /// Bytes in each location's file (0: no file is written, the location points at nothing).
    public var fileBytes = 1024
    /// `deleted_at = now − deletedAgo` (Glance's clock: this machine's, in UTC).
    public var deletedAgo: Double = 3600
    /// `pending_delete` (a delayed delete) or `active` (an image that must survive).
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

    public init(images: Int, storeDirectory: String) {
        self.images = images
        self.storeDirectory = storeDirectory
    }
}

/// One seeded image and its files.
public struct SeededImage: Sendable, Hashable {
    public var id: String
    public var paths: [String]
}

extension SQLiteCatalog {
    /// Inserts `spec.images` images with their locations (and files), in batches.
    public func seed(_ spec: SeedSpec) async throws -> [SeededImage] {
        try FileManager.default.createDirectory(atPath: spec.storeDirectory, withIntermediateDirectories: true)
        let cipher = try spec.encryptionKey.map(GlanceCipher.init(key:))
        let now = Date()
        let deletedAt = spec.status == .pendingDelete ? GlanceTimestamp.string(from: now.addingTimeInterval(-spec.deletedAgo)) : nil
        let created = GlanceTimestamp.string(from: now.addingTimeInterval(-spec.deletedAgo - 3600))
        let payload = Data(repeating: 0x5a, count: spec.fileBytes)
        let pending = spec.status == .pendingDelete
        let locationStatus = pending ? LocationStatus.pendingDelete.rawValue : LocationStatus.active.rawValue
        let metaData: String? = spec.nullMetaData ? nil : (spec.storeID.map { #"{"store": "\#($0)"}"# } ?? "{}")

        var all: [SeededImage] = []
        all.reserveCapacity(spec.images)
        var start = 0
        while start < spec.images {
            let count = min(2000, spec.images - start)
            var batch: [(image: SeededImage, values: [String])] = []
            for i in start..<(start + count) {
                let id = UUID().uuidString.lowercased()
                var paths: [String] = []
                var values: [String] = []
                for k in 0..<spec.locationsPerImage {
                    let path = spec.storeDirectory + "/" + (k == 0 ? id : "\(id).\(k)")
                    if spec.fileBytes > 0 {
                        guard FileManager.default.createFile(atPath: path, contents: payload) else {
                            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
                        }
                    }
                    paths.append(path)
                    let url = "file://" + path
                    values.append(try cipher?.encrypt(url) ?? url)
                }
                _ = i
                batch.append((SeededImage(id: id, paths: paths), values))
            }
            let rows = batch
            let prefix = spec.namePrefix, visibility = spec.visibility.rawValue, status = spec.status.rawValue
            let size = spec.fileBytes, startIndex = start
            try await write { db in
                let image = try db.cachedStatement(sql: """
                    INSERT INTO images (id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format,
                      container_format, owner, min_disk, min_ram, protected, visibility, os_hidden)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'raw', 'bare', 'seed', 0, 0, 0, ?, 0)
                    """)
                let location = try db.cachedStatement(sql: """
                    INSERT INTO image_locations (image_id, value, created_at, updated_at, deleted_at, deleted, meta_data, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for (offset, row) in rows.enumerated() {
                    try image.execute(arguments: [
                        row.image.id, "\(prefix)-\(startIndex + offset)", size, status, created, deletedAt ?? created,
                        deletedAt, pending, visibility,
                    ])
                    for value in row.values {
                        try location.execute(arguments: [row.image.id, value, created, deletedAt ?? created, deletedAt, pending, metaData, locationStatus])
                    }
                }
            }
            all.append(contentsOf: batch.map(\.image))
            start += count
        }
        return all
    }
}
