import ArgumentParser
import Foundation
import ScrubberCore

/// `pause`, `resume`, `drain`, `undrain` and `step-down`: an operator's commands to the whole
/// cluster, kept in the catalog (SQLite, PostgreSQL, or through the lease service with its
/// token) and recorded in the audit as who ran them (user and host).
enum Control {
    /// Runs `request`, prints what it did, and exits `unchanged` when it changed nothing for a
    /// reason the caller should see (nil: doing nothing is fine, as pausing a paused cluster).
    static func run(
        _ common: CommonOptions,
        _ action: ControlRequest.Action,
        node: String? = nil,
        unchanged: ExitStatus? = nil
    ) async throws {
        let config = try common.configuration()
        let catalog = try await openCoordination(config, logger: common.makeLogger())
        let answer = try await catalog.control(ControlRequest(action, nodeID: node, by: .current))
        print(answer.message)
        if !answer.changed, let unchanged { throw unchanged }
    }
}

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause the whole cluster: no new assignments or claims; deletes in flight finish.",
        discussion: "Stays paused across restarts until `scrubber resume`. `status` shows since when and by whom."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await Control.run(common, .pause)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused cluster.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await Control.run(common, .resume)
    }
}

struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Drain a node: it finishes its deletes in flight, hands back its queue, and takes no new work.",
        discussion: """
            Until the node restarts or `scrubber undrain NODE_ID`. Exit 6 when the node is not a \
            live, active member (nothing changed).
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "The node's id (`scrubber status` lists them).") var nodeID: String

    func run() async throws {
        try await Control.run(common, .drain, node: nodeID, unchanged: .unchanged)
    }
}

struct UndrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undrain",
        abstract: "Let a node an operator drained take work again (exit 6 when it was not drained)."
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "The node's id.") var nodeID: String

    func run() async throws {
        try await Control.run(common, .undrain, node: nodeID, unchanged: .unchanged)
    }
}

struct StepDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step-down",
        abstract: "Make the leader resign now; another eligible node leads (the highest leader_priority first).",
        discussion: "Exit 5 when there is no live leader."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await Control.run(common, .stepDown, unchanged: .noLeader)
    }
}
