import ScrubberCore

/// Schema knowledge for PostgreSQL: Glance's two tables (created only when absent, as
/// `glance-manage db_sync` makes them on PostgreSQL: `Tests/TestSupport/Fixtures/glance-33-postgresql-schema.sql`)
/// and our `scrub_*` migrations, under the same names as on SQLite.
enum PostgresSchema {
    /// Serialises concurrent upgrades from several nodes (`pg_advisory_xact_lock` key: "scrub").
    static let upgradeLock: Int64 = 0x7363_7275_62

    /// Glance 33's `images` and `image_locations` with the `image_visibility` enum. Only for a
    /// fresh database (demo, bench, tests): an existing Glance database is never altered.
    static let glanceTables = [
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

    /// Our migrations, named as on SQLite; each runs once, recorded in `scrub_migrations`.
    /// Times are seconds since 1970 by the server's clock (`double precision`).
    static let migrations: [(name: String, statements: [String])] = [
        ("001_scrub_tables", [
            """
            CREATE TABLE scrub_nodes (
                node_id text PRIMARY KEY,
                host text NOT NULL,
                pid integer NOT NULL,
                version text NOT NULL,
                capacity integer NOT NULL,
                state text NOT NULL,
                leader_eligible boolean NOT NULL DEFAULT true,
                joined_at double precision NOT NULL,
                heartbeat_at double precision NOT NULL,
                expires_at double precision NOT NULL,
                done bigint NOT NULL DEFAULT 0,
                failed bigint NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE scrub_assignments (
                image_id text PRIMARY KEY,
                node_id text,
                term bigint NOT NULL DEFAULT 0,
                state text NOT NULL CHECK (state IN ('assigned', 'scrubbing')),
                attempts integer NOT NULL DEFAULT 0,
                not_before double precision,
                last_error text,
                assigned_at double precision NOT NULL,
                claimed_at double precision
            )
            """,
            "CREATE INDEX scrub_assignments_node_state ON scrub_assignments (node_id, state)",
            """
            CREATE TABLE scrub_events (
                id bigserial PRIMARY KEY,
                at double precision NOT NULL,
                node_id text,
                term bigint,
                image_id text,
                location_id integer,
                store text,
                action text NOT NULL,
                detail text
            )
            """,
        ]),
        ("002_scrub_leader", [
            """
            CREATE TABLE scrub_leader (
                id integer PRIMARY KEY CHECK (id = 1),
                node_id text,
                term bigint NOT NULL,
                expires_at double precision NOT NULL
            )
            """,
            "INSERT INTO scrub_leader (id, node_id, term, expires_at) VALUES (1, NULL, 0, 0)",
        ]),
        // Restore asks which of an image's locations the scrubber already deleted.
        ("003_scrub_events_location", [
            "CREATE INDEX scrub_events_location ON scrub_events (location_id) WHERE location_id IS NOT NULL",
        ]),
        // Idempotent claims: a retried claim finds what its first try claimed.
        ("004_scrub_claim_token", [
            "ALTER TABLE scrub_assignments ADD COLUMN claim_token text",
        ]),
        // A node's queue in claim order: a claim reads its first `limit` rows and stops, instead
        // of sorting the node's whole window (it replaces the (node_id, state) index).
        ("005_scrub_assignment_queue", [
            "CREATE INDEX scrub_assignments_queue ON scrub_assignments (node_id, state, assigned_at)",
            "DROP INDEX scrub_assignments_node_state",
        ]),
        // leader_priority: the preferred node leads while it is alive.
        ("006_scrub_leader_priority", [
            "ALTER TABLE scrub_nodes ADD COLUMN leader_priority integer NOT NULL DEFAULT 0",
        ]),
        // Identities (DESIGN §3.3): a node's incarnation, the leader lease's, and the request a
        // claim was made by (its retry's key; `claim_token` is now the claim's own, fresh token).
        ("007_scrub_identities", [
            "ALTER TABLE scrub_nodes ADD COLUMN incarnation text",
            "ALTER TABLE scrub_leader ADD COLUMN incarnation text",
            "ALTER TABLE scrub_assignments ADD COLUMN claim_request text",
        ]),
        // The leader's sweep (DESIGN §4, "Finding work"): its high-water mark on Glance's `updated_at` and
        // its full sweeps, kept so a new leader goes on from them.
        ("008_scrub_sweep", [
            "ALTER TABLE scrub_leader ADD COLUMN sweep_mark text",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_started_at double precision",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_position text",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_completed_at double precision",
        ]),
        // Operating the cluster (DESIGN §7): failure classes on assignments and audit rows (the
        // class of a failure recorded before, from its message), the pause, an operator's drain,
        // a stepped-down leader, and the last hour of the audit for the status page's history.
        ("009_scrub_operating", [
            "ALTER TABLE scrub_assignments ADD COLUMN failure_class text",
            "ALTER TABLE scrub_assignments ADD COLUMN failure_store text",
            "ALTER TABLE scrub_assignments ADD COLUMN dependents text",
            "ALTER TABLE scrub_events ADD COLUMN failure_class text",
            "ALTER TABLE scrub_leader ADD COLUMN paused_at double precision",
            "ALTER TABLE scrub_leader ADD COLUMN paused_host text",
            "ALTER TABLE scrub_leader ADD COLUMN paused_user text",
            "ALTER TABLE scrub_leader ADD COLUMN stepped_down text",
            "ALTER TABLE scrub_nodes ADD COLUMN drained_by text",
            "CREATE INDEX scrub_events_image_deleted_at ON scrub_events (at) WHERE action = 'image_deleted'",
            "CREATE INDEX scrub_events_elected_at ON scrub_events (at) WHERE action = 'elected'",
            """
            UPDATE scrub_assignments SET failure_class = CASE WHEN last_error LIKE 'in_use:%' THEN 'in_use' WHEN last_error LIKE 'throttled:%' THEN 'throttled' WHEN last_error LIKE 'transient:%' THEN 'transient' WHEN last_error LIKE 'misconfigured:%' THEN 'misconfigured' WHEN last_error LIKE 'unsupported:%' THEN 'unsupported' ELSE 'transient' END WHERE last_error IS NOT NULL
            """,
        ]),
    ]
}
