import ArgumentParser
import Foundation
import ScrubberCore

@main
enum Entry {
    static func main() async {
        if ["run", "serve"].contains(CommandLine.arguments.dropFirst().first) {
            // Until the service group takes over SIGTERM/SIGINT (it does before a node joins or
            // the service listens), a stop request has nothing to finish: exit 0 rather than die
            // by the signal.
            signal(SIGTERM, exitBeforeJoining)
            signal(SIGINT, exitBeforeJoining)
        }
        let code: Int32
        do {
            var command = try Scrubber.parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            code = 0
        } catch let status as ExitStatus {
            code = status.rawValue
        } catch let error as ConfigError {
            printError("configuration error: \(error)")
            code = ExitStatus.usage.rawValue
        } catch let error as CatalogError {
            printError("error: \(error)")
            code = ExitStatus.fatal.rawValue
        } catch {
            let exit = Scrubber.exitCode(for: error)
            if exit == .success {
                print(Scrubber.fullMessage(for: error))
                code = 0
            } else if exit == .validationFailure || error is ValidationError {
                printError(Scrubber.fullMessage(for: error))
                code = ExitStatus.usage.rawValue
            } else if error is ExitCode {
                code = exit.rawValue
            } else {
                printError("error: \(error)")
                code = ExitStatus.fatal.rawValue
            }
        }
        exit(code)
    }
}

/// Writes `message` on stderr: one line, or one JSON object with `--log-format json`.
func printError(_ message: String) {
    switch StandardError.shared.errorFormat {
    case .text:
        StandardError.shared.writeLine(message + "\n")
    case .json:
        StandardError.shared.writeLine(
            JSONLogHandler.line(
                timestamp: Date(),
                level: .error,
                label: "scrubber",
                message: message,
                metadata: [:],
                source: "scrubber"
            )
        )
    }
}

/// Signal handler for a node's start-up window; async-signal-safe.
private func exitBeforeJoining(_: Int32) {
    _exit(0)
}
