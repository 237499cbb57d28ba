import ArgumentParser
import Foundation
import ScrubberTestKit

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Make a throwaway SQLite catalog and file store with a backlog, scrub it with a small cluster of node processes, and check the result."
    )

    @Option(help: "Pending images in the backlog.") var images: Int = 10_000
    @Option(help: "Node processes.") var nodes: Int = 3
    @Option(help: "scrub_pool_size of each node.") var pool: Int = 16
    @Option(help: "Work directory (default: a new temporary one, removed afterwards).") var dir: String?
    @Flag(help: "Keep the work directory.") var keep = false

    func validate() throws {
        guard images > 0, nodes > 0, pool > 0 else { throw ValidationError("--images, --nodes and --pool must be positive") }
    }

    func run() async throws {
        let directory = dir ?? (NSTemporaryDirectory() + "scrubber-demo-\(UUID().uuidString.prefix(8))")
        let rehearsal = Rehearsal(
            directory: directory,
            images: images,
            nodes: nodes,
            pool: pool,
            activeImages: 100,
            waitingImages: 100,
            open: openBenchCatalog
        )
        print("demo: seeding \(images) pending_delete images (1 KiB files), 100 active and 100 not yet past scrub_time, in \(directory)")
        let seeded = try await rehearsal.prepare()
        print("demo: scrubbing with \(nodes) node process(es), scrub_pool_size \(pool)")
        let tty = isatty(STDOUT_FILENO) == 1
        var lastPrint = -1.0
        var shownStatus = false
        let result = try await rehearsal.run { catalog, remaining, elapsed in
            if !shownStatus, elapsed >= 0.8, let status = try? await catalog.status(scrubTime: 600, failureLimit: 5), status.leader != nil {
                shownStatus = true
                if tty { FileHandle.standardOutput.write(Data("\n".utf8)) }
                print("demo: `scrubber status` \(String(format: "%.1f", elapsed)) s in:")
                print(StatusCommand.table(status).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
            if tty {
                let line = "\r  \(images - remaining)/\(images) scrubbed, \(String(format: "%.1f", elapsed)) s   "
                FileHandle.standardOutput.write(Data(line.utf8))
            } else if elapsed - lastPrint >= 1 {
                print("  \(images - remaining)/\(images) scrubbed, \(String(format: "%.1f", elapsed)) s")
                lastPrint = elapsed
            }
        }
        if tty { print("") }
        let verdict = try await rehearsal.verify(seeded)
        let rate = Double(verdict.imagesDeleted) / result.seconds
        print(
            "demo: \(verdict.imagesDeleted)/\(images) images deleted in \(String(format: "%.2f", result.seconds)) s "
                + "(\(Int(rate)) images/s, \(nodes) nodes); 200 survivors intact: \(verdict.problems.isEmpty ? "yes" : "NO"); "
                + "node exit codes \(result.exitCodes)"
        )
        for problem in verdict.problems { printError("  problem: \(problem)") }
        if !verdict.problems.isEmpty || result.exitCodes.contains(where: { $0 != 0 }) {
            printError("demo: node logs are in \(directory) (kept)")
            throw ExitStatus.fatal
        }
        if keep || dir != nil {
            print("demo: kept \(directory)")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
