import Foundation
import GRDB
import TestSupport
import Testing

/// Exit codes and messages that scripts and later issues rely on.
@Suite(.tags(.spawnsProcesses)) struct CommandLineContractTests {
    @Test func badConfigValuesExitTwoNamingFileLineAndOption() async throws {
        let ws = try Workspace()
        let config = try ws.write(
            "bad.conf",
            """
            [DEFAULT]
            scrub_time = 0

            scrub_pool_size = lots
            [database]
            connection = sqlite:///glance.sqlite
            """
        )
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
        let config = try ws.write(
            "c.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
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

/// Bad input that must fail clearly and lose nothing.
@Suite(.tags(.spawnsProcesses)) struct BadInputTests {
    @Test func permissionDeniedOnDeleteIsRecordedAndTheFileSurvives() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "p.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
        let locked = try await ws.seed(["--store", root + "/ro", "--images", "2"], config: config, idsFile: "locked")
        let free = try await ws.seed(["--store", root, "--images", "3"], config: config, idsFile: "free")
        // Root ignores file permissions, so as root the scrubber runs as `nobody`.
        for path in [ws.directory, root] { chmod(path, 0o777) }
        for name in (try FileManager.default.contentsOfDirectory(atPath: ws.directory)) where name.hasPrefix("glance.sqlite") {
            chmod(ws.directory + "/" + name, 0o666)
        }
        chmod(root + "/ro", 0o555)
        defer { chmod(root + "/ro", 0o755) }
        let result = try await CLI.runUnprivileged(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 3, "\(result.stderr)")
        for id in locked {
            #expect(FileManager.default.fileExists(atPath: root + "/ro/" + id))
            #expect(try ws.status(id) == "pending_delete")
        }
        for id in free { #expect(try ws.status(id) == "deleted") }
        #expect(try ws.count("SELECT count(*) FROM scrub_assignments WHERE last_error LIKE '%permission denied%'") == 2)
    }

    @Test func aReadOnlyDatabaseIsFatalWithAClearMessageAndChangesNothing() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let config = try ws.write(
            "ro.conf",
            """
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
        let ids = try await ws.seed(["--store", root, "--images", "3"], config: config, idsFile: "ids")
        // Root may write any file, so the scrubber runs as `nobody`, who may read but not write.
        for path in [ws.directory, root] { chmod(path, 0o755) }
        for name in (try FileManager.default.contentsOfDirectory(atPath: ws.directory)) where name.hasPrefix("glance.sqlite") {
            chmod(ws.directory + "/" + name, 0o644)
        }
        chmod(ws.directory + "/ro.conf", 0o644)
        if getuid() != 0 {
            for name in (try FileManager.default.contentsOfDirectory(atPath: ws.directory)) where name.hasPrefix("glance.sqlite") {
                chmod(ws.directory + "/" + name, 0o444)
            }
            chmod(ws.directory, 0o555)
        }
        defer { chmod(ws.directory, 0o755) }
        let result = try await CLI.runUnprivileged(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("read-only") || result.stderr.contains("cannot open database"), "\(result.stderr)")
        for id in ids {
            #expect(try ws.status(id) == "pending_delete")
            #expect(FileManager.default.fileExists(atPath: root + "/" + id))
        }
    }
}
