import Foundation
import Synchronization

/// The background processes of one throwaway test server (the Swift All-In-One's servers,
/// Ceph's daemons): started with ``spawnProcess(_:_:environment:output:newSession:)``, marked
/// for ``ChildWatchdog``, each remembered by name; killed by name or all at once (SIGKILL: a
/// throwaway has nothing to shut down cleanly) and reaped.
final class ServerProcesses: Sendable {
    private let running = Mutex<[(name: String, pid: pid_t)]>([])

    /// Starts `program` with the test process's environment plus `environment` (a nil value
    /// removes a variable), output appended to `output`.
    @discardableResult
    func spawn(
        _ name: String,
        _ program: String,
        _ arguments: [String],
        environment: [String: String?] = [:],
        output: String
    ) throws -> pid_t {
        var merged = ProcessInfo.processInfo.environment.merging(ChildWatchdog.environment) { $1 }
        for (key, value) in environment { merged[key] = value }
        let pid = try spawnProcess(program, arguments, environment: merged, output: output)
        running.withLock { $0.append((name, pid)) }
        return pid
    }

    /// Kills and reaps the processes named `name`.
    func kill(named name: String) {
        reap(
            running.withLock { all in
                defer { all.removeAll { $0.name == name } }
                return all.filter { $0.name == name }.map(\.pid)
            }
        )
    }

    /// Kills and reaps every process.
    func killAll() {
        reap(
            running.withLock { all in
                defer { all = [] }
                return all.map(\.pid)
            }
        )
    }

    /// Forgets `pid` (its owner stopped and reaped it).
    func forget(_ pid: pid_t) {
        running.withLock { $0.removeAll { $0.pid == pid } }
    }

    /// The names of the processes that have exited (a zombie counts; it is reaped).
    var exited: [String] {
        running.withLock { $0 }.filter { process in
            var status: Int32 = 0
            return Foundation.kill(process.pid, 0) != 0 || waitpid(process.pid, &status, WNOHANG) == process.pid
        }.map(\.name)
    }

    private func reap(_ pids: [pid_t]) {
        for pid in pids { Foundation.kill(pid, SIGKILL) }
        for pid in pids {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// A test server that deletes itself; every one started is destroyed when the test process
/// exits, whatever the test did.
protocol ThrowawayServer: AnyObject, Sendable {
    func destroy()
}

enum ThrowawayServers {
    private static let all: Mutex<[any ThrowawayServer]> = {
        atexit { ThrowawayServers.all.withLock { servers in for server in servers { server.destroy() } } }
        return Mutex([])
    }()

    static func register(_ server: any ThrowawayServer) {
        all.withLock { $0.append(server) }
    }
}
