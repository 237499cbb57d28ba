import ArgumentParser
import Foundation
import ScrubberCore
import ScrubberNode

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring pending_delete images back to active, with their locations.",
        discussion: """
            Refuses (exit 4, nothing changed) when an image is not pending_delete, is being \
            scrubbed right now, or has a location whose data is already gone. With --force, \
            restores what remains and reports what was lost.
            """
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Restore what remains even if some locations' data is gone.") var force = false

    @Argument(help: "Image ids.") var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("name at least one image id") }
    }

    func run() async throws {
        let config = try common.configuration()
        let logger = common.makeLogger()
        let catalog = try await openCoordination(config, logger: logger)
        let restorer = Restorer(catalog: catalog, router: try makeRouter(config))
        let actor = "restore@\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        var refused = false
        for id in images {
            do {
                let result = try await restorer.restore(imageID: id, force: force, actor: actor)
                var line = "restored \(id): \(result.restoredLocations.count) location(s) active"
                if !result.lostLocations.isEmpty {
                    line += "; lost (data already gone, marked deleted): " + result.lostLocations.map(String.init).joined(separator: ", ")
                }
                print(line)
            } catch let refusal as RestoreRefusal {
                printError("refused: \(refusal)")
                refused = true
            }
        }
        if refused { throw ExitStatus.restoreRefused }
    }
}
