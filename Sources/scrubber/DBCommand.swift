import ArgumentParser
import ScrubberCore

struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database maintenance.",
        subcommands: [Upgrade.self]
    )

    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create Glance's tables when absent and the scrubber's scrub_* tables; idempotent."
        )

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let config = try common.configuration()
            _ = try await openCatalog(config, logger: common.makeLogger())
            print("database \(config.database.map { "\($0)" } ?? "?") is up to date")
        }
    }
}
