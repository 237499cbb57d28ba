import ArgumentParser
import Foundation
import ScrubberCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the leader, the nodes, the backlog and failing images.",
        discussion: """
            Exit 0 when a live leader exists, 5 when none. With --json, stdout carries one JSON \
            object per snapshot (keys: leader, paused, nodes, backlog, failing_by_class, failures, \
            history; README "status --json") and logs go to stderr.
            """
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print one JSON object instead of the table.") var json = false
    @Flag(help: "Refresh until interrupted.") var watch = false
    @Option(help: "Seconds between refreshes with --watch.") var interval: Double = 2

    func validate() throws {
        if interval <= 0 { throw ValidationError("--interval must be positive") }
    }

    func run() async throws {
        let config = try common.configuration()
        let catalog = try await openCoordination(config, logger: common.makeLogger())
        let tty = isatty(STDOUT_FILENO) == 1
        while true {
            let status = try await catalog.status(scrubTime: config.scrubTime, failureLimit: 20)
                .namingStores(default: config.stores.defaultBackend)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                FileHandle.standardOutput.write(try encoder.encode(status) + Data("\n".utf8))
            } else {
                if watch && tty { FileHandle.standardOutput.write(Data("\u{1B}[H\u{1B}[2J".utf8)) }
                print(Self.table(status), terminator: "")
            }
            guard watch else {
                if status.leader == nil { throw ExitStatus.noLeader }
                return
            }
            try await Task.sleep(for: .seconds(interval))
        }
    }

    static func table(_ status: ClusterStatus) -> String {
        var out = ""
        if let leader = status.leader {
            out += "leader: \(leader.nodeID) (term \(leader.term), lease \(format(leader.leaseRemainingSeconds)) s left)\n"
        } else {
            out += "leader: none\n"
        }
        out += "leader changes in the last hour: \(status.history.leaderChanges)\n"
        if let paused = status.paused {
            out += "PAUSED since \(paused.sinceText) by \(paused.by): no new assignments or claims (scrubber resume)\n"
        }
        let header = [
            "NODE", "HOST", "PID", "STATE", "HEARTBEAT", "ALIVE", "CAP", "ASSIGNED", "SCRUBBING", "DONE", "FAILED", "RATE/S", "LEAD",
        ]
        let rows = status.nodes.map { n in
            [
                n.nodeID, n.host, "\(n.pid)", n.state + (n.drainedBy.map { " (by \($0))" } ?? ""), "\(format(n.heartbeatAgeSeconds)) s",
                n.alive ? "yes" : "no", "\(n.capacity)",
                "\(n.assigned)", "\(n.scrubbing)", "\(n.done)", "\(n.failed)", format(n.rate), n.leaderEligible ? "yes" : "no",
            ]
        }
        out += columns([header] + rows)
        let b = status.backlog
        out +=
            "backlog: \(b.eligible) eligible (\(ByteCount.text(b.bytes))), \(b.waiting) waiting on scrub_time, "
            + "oldest \(b.oldestAgeSeconds.map { format($0) + " s" } ?? "-"), \(b.failing) failing\n"
        if !b.stores.isEmpty {
            out += columns(
                [["STORE", "IMAGES", "BYTES"]] + b.stores.map { [$0.store ?? "(default)", "\($0.images)", ByteCount.text($0.bytes)] }
            )
        }
        // Failing images by class, each class with its count over the whole cluster.
        for failureClass in FailureClass.allCases {
            let groups = status.failingByClass.filter { $0.failureClass == failureClass }
            let listed = status.failures.filter { ($0.failureClass ?? .transient) == failureClass }
            guard !groups.isEmpty || !listed.isEmpty else { continue }
            let count = groups.reduce(0) { $0 + $1.images }
            let stores = groups.map { "\($0.store ?? "(default)") \($0.images)" }.joined(separator: ", ")
            out += "failing, \(failureClass.rawValue): \(count) image(s) (\(stores))\n"
            if !listed.isEmpty {
                out += columns(
                    [["  IMAGE", "STORE", "ATTEMPTS", "LAST ERROR"]]
                        + listed.map { f in
                            [
                                "  " + f.imageID, f.store ?? "(default)", "\(f.attempts)",
                                (f.lastError ?? "") + dependents(f),
                            ]
                        }
                )
            }
        }
        return out
    }

    /// A failing image's dependents (RBD clones, watchers), after its error.
    static func dependents(_ failure: ClusterStatus.Failure) -> String {
        failure.dependents.isEmpty ? "" : " [dependents: \(failure.dependents.joined(separator: ", "))]"
    }

    static func format(_ value: Double) -> String {
        String(format: value >= 100 ? "%.0f" : "%.1f", value)
    }

    static func columns(_ rows: [[String]]) -> String {
        guard let width = rows.first?.count else { return "" }
        let widths = (0..<width).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == width - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
