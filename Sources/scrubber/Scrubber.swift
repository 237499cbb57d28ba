import ArgumentParser

struct Scrubber: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "scrubber",
        abstract: "Reclaims the storage of Glance images in pending_delete, safely, from one or many nodes.",
        discussion: """
            Exit codes: 0 success; 1 fatal; 2 usage or configuration error; 3 some images failed \
            (run --once); 4 restore refused; 5 no live leader (status, step-down); 6 nothing \
            changed (drain, undrain: not a live active or drained node).
            """,
        version: version,
        subcommands: [
            RunCommand.self, ServeCommand.self, StatusCommand.self, ElectionsCommand.self, PauseCommand.self, ResumeCommand.self,
            DrainCommand.self,
            UndrainCommand.self, StepDownCommand.self, RestoreCommand.self, DBCommand.self, DemoCommand.self, BenchCommand.self,
            SeedCommand.self,
        ]
    )
}
