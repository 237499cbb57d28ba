/// Schema knowledge in one place: Glance's two tables (created only when absent, exactly as
/// `glance-manage db_sync` makes them on SQLite) and our `scrub_*` migrations.
enum Schema {
    /// Glance's `images` and `image_locations`, from Glance 33's SQLite schema. Only for a fresh
    /// embedded catalog: an existing Glance database is never altered.
    static let glanceTables = """
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

    /// Our migrations, named and ordered; each runs once, recorded in `scrub_migrations`.
    static let migrations: [(name: String, sql: String)] = [
        ("001_scrub_tables", """
            CREATE TABLE scrub_nodes (
                node_id TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                version TEXT NOT NULL,
                capacity INTEGER NOT NULL,
                state TEXT NOT NULL,
                leader_eligible INTEGER NOT NULL DEFAULT 1,
                joined_at REAL NOT NULL,
                heartbeat_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                done INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE scrub_assignments (
                image_id TEXT PRIMARY KEY,
                node_id TEXT,
                term INTEGER NOT NULL DEFAULT 0,
                state TEXT NOT NULL CHECK (state IN ('assigned', 'scrubbing')),
                attempts INTEGER NOT NULL DEFAULT 0,
                not_before REAL,
                last_error TEXT,
                assigned_at REAL NOT NULL,
                claimed_at REAL
            );
            CREATE INDEX scrub_assignments_node_state ON scrub_assignments (node_id, state);
            CREATE TABLE scrub_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at REAL NOT NULL,
                node_id TEXT,
                term INTEGER,
                image_id TEXT,
                location_id INTEGER,
                store TEXT,
                action TEXT NOT NULL,
                detail TEXT
            );
            """),
        ("002_scrub_leader", """
            CREATE TABLE scrub_leader (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                node_id TEXT,
                term INTEGER NOT NULL,
                expires_at REAL NOT NULL
            );
            INSERT INTO scrub_leader (id, node_id, term, expires_at) VALUES (1, NULL, 0, 0);
            """),
        // Restore asks which of an image's locations the scrubber already deleted.
        ("003_scrub_events_location", """
            CREATE INDEX scrub_events_location ON scrub_events (location_id) WHERE location_id IS NOT NULL;
            """),
        // Idempotent claims: a retried claim finds what its first try claimed.
        ("004_scrub_claim_token", """
            ALTER TABLE scrub_assignments ADD COLUMN claim_token TEXT;
            """),
        // A node's queue in claim order: a claim reads its first `limit` rows and stops, instead
        // of sorting the node's whole window (it replaces the (node_id, state) index).
        ("005_scrub_assignment_queue", """
            CREATE INDEX scrub_assignments_queue ON scrub_assignments (node_id, state, assigned_at);
            DROP INDEX scrub_assignments_node_state;
            """),
        // leader_priority: the preferred node leads while it is alive.
        ("006_scrub_leader_priority", """
            ALTER TABLE scrub_nodes ADD COLUMN leader_priority INTEGER NOT NULL DEFAULT 0;
            """),
        // Identities (DESIGN §3.3): a node's incarnation, the leader lease's, and the request a
        // claim was made by (its retry's key; `claim_token` is now the claim's own, fresh token).
        ("007_scrub_identities", """
            ALTER TABLE scrub_nodes ADD COLUMN incarnation TEXT;
            ALTER TABLE scrub_leader ADD COLUMN incarnation TEXT;
            ALTER TABLE scrub_assignments ADD COLUMN claim_request TEXT;
            """),
        // The leader's sweep (DESIGN §4, "Finding work"): its high-water mark on Glance's `updated_at` and
        // its full sweeps, kept so a new leader goes on from them.
        ("008_scrub_sweep", """
            ALTER TABLE scrub_leader ADD COLUMN sweep_mark TEXT;
            ALTER TABLE scrub_leader ADD COLUMN sweep_full_started_at REAL;
            ALTER TABLE scrub_leader ADD COLUMN sweep_full_position TEXT;
            ALTER TABLE scrub_leader ADD COLUMN sweep_full_completed_at REAL;
            """),
        // Operating the cluster (DESIGN §7): failure classes on assignments and audit rows (the
        // class of a failure recorded before, from its message), the pause, an operator's drain,
        // a stepped-down leader, and the last hour of the audit for the status page's history.
        ("009_scrub_operating", """
            ALTER TABLE scrub_assignments ADD COLUMN failure_class TEXT;
            ALTER TABLE scrub_assignments ADD COLUMN failure_store TEXT;
            ALTER TABLE scrub_assignments ADD COLUMN dependents TEXT;
            ALTER TABLE scrub_events ADD COLUMN failure_class TEXT;
            ALTER TABLE scrub_leader ADD COLUMN paused_at REAL;
            ALTER TABLE scrub_leader ADD COLUMN paused_host TEXT;
            ALTER TABLE scrub_leader ADD COLUMN paused_user TEXT;
            ALTER TABLE scrub_leader ADD COLUMN stepped_down TEXT;
            ALTER TABLE scrub_nodes ADD COLUMN drained_by TEXT;
            CREATE INDEX scrub_events_image_deleted_at ON scrub_events (at) WHERE action = 'image_deleted';
            CREATE INDEX scrub_events_elected_at ON scrub_events (at) WHERE action = 'elected';
            UPDATE scrub_assignments SET failure_class = CASE WHEN last_error LIKE 'in_use:%' THEN 'in_use' WHEN last_error LIKE 'throttled:%' THEN 'throttled' WHEN last_error LIKE 'transient:%' THEN 'transient' WHEN last_error LIKE 'misconfigured:%' THEN 'misconfigured' WHEN last_error LIKE 'unsupported:%' THEN 'unsupported' ELSE 'transient' END WHERE last_error IS NOT NULL;
            """),
    ]
}
