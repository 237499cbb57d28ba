import Foundation
import ScrubberCore
import Testing

@Suite("DatabaseURL: [database] connection as an SQLAlchemy URL")
struct DatabaseURLTests {
    @Test(
        "SQLite URLs: three slashes are relative, four absolute, a plain path is a file, query parameters dropped",
        arguments: [
            ("sqlite:///relative.db", "relative.db"),
            ("sqlite:///data/glance.sqlite", "data/glance.sqlite"),
            ("sqlite:////abs/x.db", "/abs/x.db"),
            ("sqlite:////var/lib/glance/glance.sqlite", "/var/lib/glance/glance.sqlite"),
            ("SQLite:////abs/x.db", "/abs/x.db"),
            ("sqlite+pysqlite:////abs/x.db", "/abs/x.db"),
            ("sqlite:////abs/x.db?timeout=30", "/abs/x.db"),
            ("/var/lib/glance/glance.sqlite", "/var/lib/glance/glance.sqlite"),
            ("glance.sqlite", "glance.sqlite"),
            ("  sqlite:////abs/x.db  ", "/abs/x.db"),
        ]
    )
    func sqlite(text: String, path: String) throws {
        #expect(try DatabaseURL(parsing: text) == .sqlite(path: path))
    }

    @Test(
        "a SQLite URL naming no file, an empty URL and an unknown scheme are errors",
        arguments: ["sqlite://", "sqlite:///", "sqlite://relative.db", "", "   ", "mysql://glance@db/glance", "oracle://x/y"]
    )
    func invalid(text: String) {
        #expect(throws: ConfigError.self) { try DatabaseURL(parsing: text) }
    }

    @Test("postgresql://user:p%40ss@host:5433/glance: user, percent-decoded password, host, port, database")
    func postgresFull() throws {
        guard case .postgresql(let pg) = try DatabaseURL(parsing: "postgresql://user:p%40ss@host:5433/glance") else {
            Issue.record("not parsed as PostgreSQL")
            return
        }
        #expect(pg.user == "user")
        #expect(pg.password == "p@ss")
        #expect(pg.host == "host")
        #expect(pg.port == 5433)
        #expect(pg.database == "glance")
    }

    @Test("postgresql+psycopg2://glance@127.0.0.1/glance: a driver suffix, no password, port defaults to 5432")
    func postgresWithDriver() throws {
        guard case .postgresql(let pg) = try DatabaseURL(parsing: "postgresql+psycopg2://glance@127.0.0.1/glance") else {
            Issue.record("not parsed as PostgreSQL")
            return
        }
        #expect(pg.user == "glance")
        #expect(pg.password == nil)
        #expect(pg.host == "127.0.0.1")
        #expect(pg.port == 5432)
        #expect(pg.database == "glance")
    }

    @Test(
        "a PostgreSQL URL with no database or a bad port is an error",
        arguments: ["postgresql://u:p@host", "postgresql://u:p@host/", "postgresql://u@host:99999/glance", "postgresql://u@host:x/glance"]
    )
    func postgresInvalid(text: String) {
        #expect(throws: ConfigError.self) { try DatabaseURL(parsing: text) }
    }

    // Found by fuzz/run ini: `=` alone split into no parts, and kv[0] trapped.
    @Test("a query parameter with an empty name is read, not a crash")
    func postgresEmptyParameterName() throws {
        guard case .postgresql(let pg) = try DatabaseURL(parsing: "postgresql://db/glance?=&=x&sslmode=require") else {
            Issue.record("not parsed as PostgreSQL")
            return
        }
        #expect(pg.parameters == ["": "x", "sslmode": "require"])
        #expect(pg.database == "glance")
    }

    // Found by fuzz/run ini: with the last `@` before `://`, the redaction's range was inverted and trapped.
    @Test(
        "a bad PostgreSQL URL with an @ only before :// is an error, not a crash",
        arguments: ["postgresql+@://db:notaport/glance", "postgresql+a@b://db/"]
    )
    func postgresAtBeforeScheme(text: String) {
        #expect(throws: ConfigError.self) { try DatabaseURL(parsing: text) }
    }

    @Test("the description of a PostgreSQL URL redacts the password")
    func descriptionRedactsPassword() throws {
        let url = try DatabaseURL(parsing: "postgresql://user:p%40ss@host:5433/glance")
        #expect(!url.description.contains("p@ss"))
        #expect(!url.description.contains("p%40ss"))
        #expect(url.description == "postgresql://user:***@host:5433/glance")
        #expect(try DatabaseURL(parsing: "postgresql://glance@db/glance").description == "postgresql://glance@db:5432/glance")
    }
}
