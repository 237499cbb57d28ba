import ArgumentParser
import Foundation
import ScrubberCore
import ScrubberSQLite
import ScrubberStores
import ScrubberTestKit

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Fill a catalog with images as Glance's delayed delete leaves them, and their files (for tests and trials)."
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Directory for the location files.") var store: String
    @Option(help: "Number of images.") var images: Int = 1000
    @Option(help: "Locations per image.") var locations: Int = 1
    @Option(help: "Bytes per file (0: write no file).") var bytes: Int = 1024
    @Option(name: .customLong("deleted-ago"), help: "deleted_at is this many seconds ago.") var deletedAgo: Double = 3600
    @Option(help: "pending_delete or active.") var status: String = "pending_delete"
    @Option(help: "public, private, shared or community.") var visibility: String = "shared"
    @Option(name: .customLong("store-id"), help: "meta_data store name (multi-store).") var storeID: String?
    @Flag(name: .customLong("null-meta-data"), help: "Write meta_data NULL.") var nullMetaData = false
    @Option(name: .customLong("encrypt-key"), help: "Encrypt location values as Glance does with this metadata_encryption_key.")
    var encryptKey: String?
    @Option(name: .customLong("ids-file"), help: "Append the seeded image ids to this file, one a line.") var idsFile: String?

    func run() async throws {
        guard let status = ImageStatus(rawValue: status), status == .pendingDelete || status == .active else {
            throw ValidationError("--status must be pending_delete or active")
        }
        guard let visibility = ImageVisibility(rawValue: visibility) else {
            throw ValidationError("--visibility must be public, private, shared or community")
        }
        let config = try common.configuration()
        let catalog = try await openSeedableCatalog(config, logger: common.makeLogger())
        var spec = SeedSpec(images: images, storeDirectory: store)
        spec.locationsPerImage = locations
        spec.fileBytes = bytes
        spec.deletedAgo = deletedAgo
        spec.status = status
        spec.visibility = visibility
        spec.storeID = storeID
        spec.nullMetaData = nullMetaData
        spec.encryptionKey = encryptKey
        let seeded = try await catalog.seed(spec)
        if let idsFile {
            let text = seeded.map(\.id).joined(separator: "\n") + (seeded.isEmpty ? "" : "\n")
            if let handle = FileHandle(forWritingAtPath: idsFile) {
                handle.seekToEndOfFile()
                handle.write(Data(text.utf8))
                handle.closeFile()
            } else {
                try text.write(toFile: idsFile, atomically: true, encoding: .utf8)
            }
        }
        print(
            "seeded \(seeded.count) \(status.rawValue) images with \(seeded.count * locations) locations in \(config.database.map { "\($0)" } ?? "?")"
        )
    }
}
