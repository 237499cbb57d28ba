import ArgumentParser
import Foundation
import ScrubberCore

struct ElectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elections",
        abstract: "List the leader elections of the last hour (or --since): when, which term, which node.",
        discussion: """
            Newest first, from the audit's `elected` rows, by the store's clock. With --json, one \
            JSON array of {at, age_seconds, node_id, term, detail}.
            """
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print one JSON array instead of the table.") var json = false
    @Option(help: "Seconds back from now.") var since: Double = 3600
    @Option(help: "The most elections listed.") var limit = 50

    func validate() throws {
        if since < 0 { throw ValidationError("--since must not be negative") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let config = try common.configuration()
        let catalog = try await openCoordination(config, logger: common.makeLogger())
        let elections = try await catalog.elections(withinLast: since, limit: limit)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(elections) + Data("\n".utf8))
            return
        }
        guard !elections.isEmpty else {
            print("no leader elected in the last \(Int(since)) s")
            return
        }
        print("AGO      TERM  NODE  DETAIL")
        for e in elections {
            let ago = String(format: "%.0f s", e.ageSeconds).padding(toLength: 8, withPad: " ", startingAt: 0)
            print("\(ago) \(String(e.term).padding(toLength: 5, withPad: " ", startingAt: 0)) \(e.nodeID ?? "-")  \(e.detail ?? "")")
        }
    }
}
