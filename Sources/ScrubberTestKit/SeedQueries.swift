import ScrubberCore
import Synchronization

/// The SQL of seeding and of `scrubber bench`'s reference loop: writes "with none of the
/// scrubber's checks", kept out of the production catalog (``CatalogQueries``).
final class SeedQueries: Sendable {
    let dialect: SQLDialect
    private let rendered = Mutex<[String: String]>([:])

    init(dialect: SQLDialect) {
        self.dialect = dialect
    }

    private static let byDialect = Mutex<[SQLDialect: SeedQueries]>([:])

    /// One per dialect, so its rendered shapes are kept between calls.
    static func shared(for dialect: SQLDialect) -> SeedQueries {
        byDialect.withLock { queries in
            if let existing = queries[dialect] { return existing }
            let made = SeedQueries(dialect: dialect)
            queries[dialect] = made
            return made
        }
    }

    /// A list statement's shape for `count` values (one shape whatever the count with JSON lists).
    private func shape(_ name: String, _ count: Int, _ make: (SQLDialect) -> String) -> String {
        let key = "\(name)/\(count)"
        if let sql = rendered.withLock({ $0[key] }) { return sql }
        let sql = make(dialect)
        rendered.withLock { $0[key] = sql }
        return sql
    }

    /// (id, name, size, status, created_at, updated_at, deleted_at, deleted, visibility) × count
    func seedImages(_ count: Int) -> String {
        shape("seedImages", count) { d in
            d.render(
                """
                INSERT INTO images (id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format,
                  container_format, owner, min_disk, min_ram, protected, visibility, os_hidden) VALUES
                """
                    + Array(
                        repeating: """
                            (?, ?, ?, ?, CAST(? AS {timestamp}), CAST(? AS {timestamp}), CAST(? AS {timestamp}), ?, 'raw', 'bare', 'seed',
                             0, 0, {false}, CAST(? AS {visibility}), {false})
                            """,
                        count: count
                    ).joined(separator: ", ")
            )
        }
    }
    /// (image_id, value, created_at, updated_at, deleted_at, deleted, meta_data, status) × count
    func seedLocations(_ count: Int) -> String {
        shape("seedLocations", count) { d in
            d.render(
                """
                INSERT INTO image_locations (image_id, value, created_at, updated_at, deleted_at, deleted, meta_data, status) VALUES
                """
                    + Array(
                        repeating: "(?, ?, CAST(? AS {timestamp}), CAST(? AS {timestamp}), CAST(? AS {timestamp}), ?, ?, ?)",
                        count: count
                    ).joined(separator: ", ")
            )
        }
    }

    /// (): the idle benchmark's reset of the leader's sweep.
    static let forgetSweep = """
        UPDATE scrub_leader SET sweep_mark = NULL, sweep_full_started_at = NULL, sweep_full_position = NULL,
          sweep_full_completed_at = NULL WHERE id = 1
        """
    /// () → rows of `images` read by scans and index fetches (PostgreSQL only).
    static let imagesRowsRead = """
        SELECT CAST(seq_tup_read + coalesce(idx_tup_fetch, 0) AS bigint) FROM pg_stat_user_tables
        WHERE relname = 'images' AND schemaname = current_schema()
        """

    /// (image_id × count): the reference loop's write, with none of the scrubber's checks.
    func referenceLocationsDeleted(_ count: Int) -> String {
        shape("referenceLocationsDeleted", count) { d in
            d.render(
                """
                UPDATE image_locations SET status = 'deleted', deleted = {true}, updated_at = {now_text}
                WHERE image_id IN (\(d.list(count)))
                """
            )
        }
    }
    /// (image_id × count)
    func referenceImagesDeleted(_ count: Int) -> String {
        shape("referenceImagesDeleted", count) { d in
            d.render(
                """
                UPDATE images SET status = 'deleted', updated_at = {now_text} WHERE id IN (\(d.list(count)))
                """
            )
        }
    }
    /// (image_id × count) → id, status, count of pending_delete locations
    func imageStates(_ count: Int) -> String {
        shape("imageStates", count) { d in
            d.render(
                """
                SELECT i.id, i.status, (SELECT count(*) FROM image_locations l WHERE l.image_id = i.id AND l.status = 'pending_delete')
                FROM images i WHERE i.id IN (\(d.list(count)))
                """
            )
        }
    }
}
