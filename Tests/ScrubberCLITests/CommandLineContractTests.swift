import Foundation
import GRDB
import Testing

/// Exit codes and messages that scripts and later issues rely on.
@Suite struct CommandLineContractTests {
    @Test func badConfigValuesExitTwoNamingFileLineAndOption() async throws {
        let ws = try Workspace()
        let config = try ws.write("bad.conf", """
            [DEFAULT]
            scrub_time = 0

            scrub_pool_size = lots
            [database]
            connection = sqlite:///glance.sqlite
            """)
        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("bad.conf:4"))
        #expect(result.stderr.contains("scrub_pool_size"))
        #expect(result.stderr.contains("lots"))
    }

    @Test(arguments: [
        ["run", "--once", "--daemon", "--db", "x.sqlite"],
        ["run", "--once", "--no-such-flag"],
        ["restore"],
        ["frobnicate"],
    ])
    func usageErrorsExitTwo(arguments: [String]) async throws {
        let ws = try Workspace()
        let result = try await CLI.run(arguments, in: ws.directory)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test func aMissingDatabaseSettingIsAConfigurationError() async throws {
        let ws = try Workspace()
        let result = try await CLI.run(["run", "--once"], in: ws.directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("no database configured"))
    }

    @Test func aCorruptDatabaseIsFatalWithAClearMessage() async throws {
        let ws = try Workspace(copyFixture: false)
        try ws.write("glance.sqlite", String(repeating: "this is not a database\n", count: 400))
        let result = try await CLI.run(["run", "--once", "--db", "glance.sqlite"], in: ws.directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("not a SQLite database or is corrupt"))
    }

    @Test func restoreExitsZeroOrFourAndSaysWhy() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write("c.conf", """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """)
        let ids = try await ws.seed(["--store", root, "--images", "2", "--locations", "2"], config: config, idsFile: "ids")

        let ok = try await CLI.run(["restore", ids[0], "--config-file", config], in: ws.directory)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("restored \(ids[0]): 2 location(s)"))
        #expect(try ws.status(ids[0]) == "active")

        let again = try await CLI.run(["restore", ids[0], "--config-file", config], in: ws.directory)
        #expect(again.status == 4)
        #expect(again.stderr.contains("not pending_delete"))

        try FileManager.default.removeItem(atPath: root + "/" + ids[1] + ".1")
        let gone = try await CLI.run(["restore", ids[1], "--config-file", config], in: ws.directory)
        #expect(gone.status == 4)
        #expect(gone.stderr.contains("already gone"))
        #expect(try ws.status(ids[1]) == "pending_delete")

        let forced = try await CLI.run(["restore", ids[1], "--force", "--config-file", config], in: ws.directory)
        #expect(forced.status == 0)
        #expect(forced.stdout.contains("lost"))
        #expect(try ws.status(ids[1]) == "active")
    }
}
