import Foundation
import ScrubberCore

/// Glance's `images` and `image_locations`, created only in a database that has neither (the
/// embedded default, demos, benchmarks, tests): an existing Glance database is never altered.
/// Made exactly as `glance-manage db_sync` makes them on each database
/// (`Tests/TestSupport/Fixtures/` holds the real ones).
enum GlanceTables {
    static func statements(for engine: SQLDialect.Engine) -> [String] {
        switch engine {
        case .sqlite: sqlite
        case .postgresql: postgresql
        }
    }

    /// The SQLite script, one statement each (no statement holds a `;`).
    static let sqlite: [String] = sqliteScript.split(separator: ";\n").map {
        $0.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union([";"]))
    }
    .filter { !$0.isEmpty }

    /// Glance's `images` and `image_locations`, from Glance 33's SQLite schema. Only for a fresh
    /// embedded catalog: an existing Glance database is never altered.
    static let sqliteScript = """
        CREATE TABLE IF NOT EXISTS images (
            id VARCHAR(36) NOT NULL,
            name VARCHAR(255),
            size INTEGER,
            status VARCHAR(30) NOT NULL,
            created_at DATETIME NOT NULL,
            updated_at DATETIME,
            deleted_at DATETIME,
            deleted BOOLEAN NOT NULL,
            disk_format VARCHAR(20),
            container_format VARCHAR(20),
            checksum VARCHAR(32),
            owner VARCHAR(255),
            min_disk INTEGER NOT NULL,
            min_ram INTEGER NOT NULL,
            protected BOOLEAN DEFAULT 0 NOT NULL,
            virtual_size INTEGER,
            visibility VARCHAR(9) DEFAULT 'shared' NOT NULL,
            os_hidden BOOLEAN DEFAULT 0 NOT NULL,
            os_hash_algo VARCHAR(64),
            os_hash_value VARCHAR(128),
            PRIMARY KEY (id)
        );
        CREATE INDEX IF NOT EXISTS checksum_image_idx ON images (checksum);
        CREATE INDEX IF NOT EXISTS os_hidden_image_idx ON images (os_hidden);
        CREATE INDEX IF NOT EXISTS os_hash_value_image_idx ON images (os_hash_value);
        CREATE INDEX IF NOT EXISTS visibility_image_idx ON images (visibility);
        CREATE INDEX IF NOT EXISTS ix_images_deleted ON images (deleted);
        CREATE INDEX IF NOT EXISTS updated_at_image_idx ON images (updated_at);
        CREATE INDEX IF NOT EXISTS owner_image_idx ON images (owner);
        CREATE INDEX IF NOT EXISTS created_at_image_idx ON images (created_at);
        CREATE TABLE IF NOT EXISTS image_locations (
            id INTEGER NOT NULL,
            image_id VARCHAR(36) NOT NULL,
            value TEXT NOT NULL,
            created_at DATETIME NOT NULL,
            updated_at DATETIME,
            deleted_at DATETIME,
            deleted BOOLEAN NOT NULL,
            meta_data TEXT,
            status VARCHAR(30) DEFAULT 'active' NOT NULL,
            PRIMARY KEY (id),
            FOREIGN KEY(image_id) REFERENCES images (id),
            CHECK (deleted IN (0, 1))
        );
        CREATE INDEX IF NOT EXISTS ix_image_locations_deleted ON image_locations (deleted);
        CREATE INDEX IF NOT EXISTS ix_image_locations_image_id ON image_locations (image_id);
        """

    /// Glance 33's `images` and `image_locations` with the `image_visibility` enum. Only for a
    /// fresh database (demo, bench, tests): an existing Glance database is never altered.
    static let postgresql = [
        """
        DO $$ BEGIN
            CREATE TYPE image_visibility AS ENUM ('private', 'public', 'shared', 'community');
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$
        """,
        """
        CREATE TABLE IF NOT EXISTS images (
            id character varying(36) NOT NULL PRIMARY KEY,
            name character varying(255),
            size bigint,
            status character varying(30) NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone,
            deleted_at timestamp without time zone,
            deleted boolean NOT NULL,
            disk_format character varying(20),
            container_format character varying(20),
            checksum character varying(32),
            owner character varying(255),
            min_disk integer NOT NULL,
            min_ram integer NOT NULL,
            protected boolean DEFAULT false NOT NULL,
            virtual_size bigint,
            visibility image_visibility DEFAULT 'shared'::image_visibility NOT NULL,
            os_hidden boolean DEFAULT false NOT NULL,
            os_hash_algo character varying(64),
            os_hash_value character varying(128)
        )
        """,
        // Every index Glance 33 has on `images` (the fixture's schema): the leader's fast path
        // reads `updated_at_image_idx`, and every write of an image maintains them all.
        "CREATE INDEX IF NOT EXISTS checksum_image_idx ON images USING btree (checksum)",
        "CREATE INDEX IF NOT EXISTS created_at_image_idx ON images USING btree (created_at)",
        "CREATE INDEX IF NOT EXISTS ix_images_deleted ON images USING btree (deleted)",
        "CREATE INDEX IF NOT EXISTS os_hash_value_image_idx ON images USING btree (os_hash_value)",
        "CREATE INDEX IF NOT EXISTS os_hidden_image_idx ON images USING btree (os_hidden)",
        "CREATE INDEX IF NOT EXISTS owner_image_idx ON images USING btree (owner)",
        "CREATE INDEX IF NOT EXISTS updated_at_image_idx ON images USING btree (updated_at)",
        "CREATE INDEX IF NOT EXISTS visibility_image_idx ON images USING btree (visibility)",
        """
        CREATE TABLE IF NOT EXISTS image_locations (
            id serial PRIMARY KEY,
            image_id character varying(36) NOT NULL REFERENCES images (id),
            value text NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone,
            deleted_at timestamp without time zone,
            deleted boolean NOT NULL,
            meta_data text,
            status character varying(30) DEFAULT 'active'::character varying NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS ix_image_locations_deleted ON image_locations USING btree (deleted)",
        "CREATE INDEX IF NOT EXISTS ix_image_locations_image_id ON image_locations USING btree (image_id)",
    ]
}
