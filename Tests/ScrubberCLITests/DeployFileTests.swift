import Foundation
import ScrubberCore
import TestSupport
import Testing

/// What the Containerfile's runtime stage runs as.
enum Containerfile {
    /// The numeric uid of the last `USER` line, nil when it names a user by name (which
    /// Kubernetes' runAsNonRoot cannot check).
    static func runtimeUser(_ text: String) -> Int? {
        let users = text.split(separator: "\n").filter { $0.hasPrefix("USER ") }
        return users.last.flatMap { Int($0.dropFirst(5).split(separator: ":").first ?? "") }
    }

    /// The stages' `FROM` images, in order.
    static func bases(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }.map { String($0.split(separator: " ")[1]) }
    }
}

/// deploy/glance-scrubber.conf and deploy/Containerfile. (No container engine runs here: the
/// Containerfile is checked as text, not built.)
@Suite(.tags(.spawnsProcesses)) struct DeployFileTests {
    @Test func theExampleConfigurationLoadsWithItsStoresAndClusterSettings() throws {
        let text = try Deploy.text("glance-scrubber.conf")
        let config = try Deploy.configuration(text, file: "glance-scrubber.conf")
        #expect(config.database == .sqlite(path: "/var/lib/glance/glance.sqlite"))
        #expect(Set(config.stores.backends.map(\.name)) == ["fast", "slow"])
        #expect(
            config.stores.backends.flatMap(\.fileRoots).map(\.path).sorted() == [
                "/srv/glance/a", "/srv/glance/b", "/var/lib/glance/images",
            ]
        )
        #expect(config.daemon && config.poolSize == 16)
        let ini = try INIDocument(parsing: text, file: "glance-scrubber.conf")
        #expect(ini.value("cluster", "metrics_listen")?.text == "127.0.0.1:9180")
    }

    /// The same file through the real binary's loader: `status` reads it and gets as far as
    /// the catalog (exit 5: no leader) instead of a configuration error (exit 2).
    @Test func theBinaryAcceptsTheExampleConfiguration() async throws {
        let ws = try Workspace()
        let result = try await CLI.run(
            ["status", "--config-file", Deploy.directory + "/glance-scrubber.conf", "--db", ws.database],
            in: ws.directory
        )
        #expect(result.status == 5, "\(result.stderr)")
    }

    @Test func theContainerfileBuildsTheScrubberInSwiftAndRunsItUnprivilegedOnASlimImage() throws {
        let text = try Deploy.text("Containerfile")
        let bases = Containerfile.bases(text)
        #expect(bases.count == 2 && bases[0].hasPrefix("swift:6."), "\(bases)")
        #expect(bases.last?.hasSuffix("-slim") == true, "\(bases)")
        #expect(text.contains("swift build -c release --product scrubber"))
        #expect(text.contains("libsqlite3-0"))
        #expect((Containerfile.runtimeUser(text) ?? 0) > 0, "the runtime stage runs as root or as a named user")
        // Exec form: scrubber itself is PID 1 and gets SIGTERM, not a shell.
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("ENTRYPOINT") } == [#"ENTRYPOINT ["scrubber"]"#])
    }
}
