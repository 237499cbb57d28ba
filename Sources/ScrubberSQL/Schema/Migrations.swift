import ScrubberCore

/// One of our `scrub_*` migrations: its name, recorded in `scrub_migrations` once it ran, and
/// its statements for each database (the same tables, in each one's types).
public struct Migration: Sendable {
    public var name: String
    public var sqlite: [String]
    public var postgresql: [String]

    init(_ name: String, sqlite: [String], postgresql: [String]) {
        self.name = name
        self.sqlite = sqlite
        self.postgresql = postgresql
    }

    public func statements(for engine: SQLDialect.Engine) -> [String] {
        switch engine {
        case .sqlite: sqlite
        case .postgresql: postgresql
        }
    }
}

/// Our migrations, named and ordered, one list both databases read: each runs once, in one
/// transaction with the others pending, recorded in `scrub_migrations`. Times are seconds
/// since 1970 by the store clock (`REAL`, `double precision`). Append; never edit one that shipped.
public let catalogMigrations: [Migration] = [
    Migration(
        "001_scrub_tables",
        sqlite: [
            """
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
            )
            """,
            """
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
            )
            """,
            "CREATE INDEX scrub_assignments_node_state ON scrub_assignments (node_id, state)",
            """
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
            )
            """,
        ],
        postgresql: [
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
        ]
    ),
    Migration(
        "002_scrub_leader",
        sqlite: [
            """
            CREATE TABLE scrub_leader (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                node_id TEXT,
                term INTEGER NOT NULL,
                expires_at REAL NOT NULL
            )
            """,
            "INSERT INTO scrub_leader (id, node_id, term, expires_at) VALUES (1, NULL, 0, 0)",
        ],
        postgresql: [
            """
            CREATE TABLE scrub_leader (
                id integer PRIMARY KEY CHECK (id = 1),
                node_id text,
                term bigint NOT NULL,
                expires_at double precision NOT NULL
            )
            """,
            "INSERT INTO scrub_leader (id, node_id, term, expires_at) VALUES (1, NULL, 0, 0)",
        ]
    ),
    // Restore asks which of an image's locations the scrubber already deleted.
    Migration(
        "003_scrub_events_location",
        sqlite: [
            "CREATE INDEX scrub_events_location ON scrub_events (location_id) WHERE location_id IS NOT NULL"
        ],
        postgresql: [
            "CREATE INDEX scrub_events_location ON scrub_events (location_id) WHERE location_id IS NOT NULL"
        ]
    ),
    // Idempotent claims: a retried claim finds what its first try claimed.
    Migration(
        "004_scrub_claim_token",
        sqlite: [
            "ALTER TABLE scrub_assignments ADD COLUMN claim_token TEXT"
        ],
        postgresql: [
            "ALTER TABLE scrub_assignments ADD COLUMN claim_token text"
        ]
    ),
    // A node's queue in claim order: a claim reads its first `limit` rows and stops, instead
    // of sorting the node's whole window (it replaces the (node_id, state) index).
    Migration(
        "005_scrub_assignment_queue",
        sqlite: [
            "CREATE INDEX scrub_assignments_queue ON scrub_assignments (node_id, state, assigned_at)",
            "DROP INDEX scrub_assignments_node_state",
        ],
        postgresql: [
            "CREATE INDEX scrub_assignments_queue ON scrub_assignments (node_id, state, assigned_at)",
            "DROP INDEX scrub_assignments_node_state",
        ]
    ),
    // leader_priority: the preferred node leads while it is alive.
    Migration(
        "006_scrub_leader_priority",
        sqlite: [
            "ALTER TABLE scrub_nodes ADD COLUMN leader_priority INTEGER NOT NULL DEFAULT 0"
        ],
        postgresql: [
            "ALTER TABLE scrub_nodes ADD COLUMN leader_priority integer NOT NULL DEFAULT 0"
        ]
    ),
    // Identities (DESIGN §3.3): a node's incarnation, the leader lease's, and the request a
    // claim was made by (its retry's key; `claim_token` is now the claim's own, fresh token).
    Migration(
        "007_scrub_identities",
        sqlite: [
            "ALTER TABLE scrub_nodes ADD COLUMN incarnation TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN incarnation TEXT",
            "ALTER TABLE scrub_assignments ADD COLUMN claim_request TEXT",
        ],
        postgresql: [
            "ALTER TABLE scrub_nodes ADD COLUMN incarnation text",
            "ALTER TABLE scrub_leader ADD COLUMN incarnation text",
            "ALTER TABLE scrub_assignments ADD COLUMN claim_request text",
        ]
    ),
    // The leader's sweep (DESIGN §4, "Finding work"): its high-water mark on Glance's `updated_at` and
    // its full sweeps, kept so a new leader goes on from them.
    Migration(
        "008_scrub_sweep",
        sqlite: [
            "ALTER TABLE scrub_leader ADD COLUMN sweep_mark TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_started_at REAL",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_position TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_completed_at REAL",
        ],
        postgresql: [
            "ALTER TABLE scrub_leader ADD COLUMN sweep_mark text",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_started_at double precision",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_position text",
            "ALTER TABLE scrub_leader ADD COLUMN sweep_full_completed_at double precision",
        ]
    ),
    // Operating the cluster (DESIGN §7): failure classes on assignments and audit rows (the
    // class of a failure recorded before, from its message), the pause, an operator's drain,
    // a stepped-down leader, and the last hour of the audit for the status page's history.
    Migration(
        "009_scrub_operating",
        sqlite: [
            "ALTER TABLE scrub_assignments ADD COLUMN failure_class TEXT",
            "ALTER TABLE scrub_assignments ADD COLUMN failure_store TEXT",
            "ALTER TABLE scrub_assignments ADD COLUMN dependents TEXT",
            "ALTER TABLE scrub_events ADD COLUMN failure_class TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN paused_at REAL",
            "ALTER TABLE scrub_leader ADD COLUMN paused_host TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN paused_user TEXT",
            "ALTER TABLE scrub_leader ADD COLUMN stepped_down TEXT",
            "ALTER TABLE scrub_nodes ADD COLUMN drained_by TEXT",
            "CREATE INDEX scrub_events_image_deleted_at ON scrub_events (at) WHERE action = 'image_deleted'",
            "CREATE INDEX scrub_events_elected_at ON scrub_events (at) WHERE action = 'elected'",
            """
            UPDATE scrub_assignments SET failure_class = CASE WHEN last_error LIKE 'in_use:%' THEN 'in_use' WHEN last_error LIKE 'throttled:%' THEN 'throttled' WHEN last_error LIKE 'transient:%' THEN 'transient' WHEN last_error LIKE 'misconfigured:%' THEN 'misconfigured' WHEN last_error LIKE 'unsupported:%' THEN 'unsupported' ELSE 'transient' END WHERE last_error IS NOT NULL
            """,
        ],
        postgresql: [
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
        ]
    ),
]
