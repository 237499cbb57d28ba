import Foundation

/// The files made by the real OpenStack Glance (glance 33.0.0, glance_store 5.7.0), shipped as
/// this target's resources; `README.md` beside them says what each is and how it was made.
/// Read-only: copy one before a test writes to it.
public enum GlanceFixtures {
    /// An empty Glance database as `glance-manage db_sync` makes it on SQLite.
    public static var sqlite: String { path("glance-33.sqlite") }
    /// The same schema on PostgreSQL 15 (`pg_dump --schema-only`).
    public static var postgresqlSchema: String { path("glance-33-postgresql-schema.sql") }
    /// `metadata_encryption_key` vectors from `glance.common.crypt`.
    public static var cryptVectors: String { path("glance-crypt-vectors.json") }

    /// The resource's path; a missing one is a broken build, not a skipped test.
    public static func path(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            fatalError("fixture \(name) is missing from the TestSupport resources (Package.swift)")
        }
        return url.path
    }
}
