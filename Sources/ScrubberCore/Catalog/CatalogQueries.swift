import Synchronization

/// The catalog's SQL, one shape for every SQL backend, rendered once for a ``SQLDialect``.
/// Each query sits beside the operation of ``ScrubCatalog`` it serves.
///
/// "No such row" tests on Glance's big tables are scalar subqueries (`(SELECT 1 … LIMIT 1) IS
/// NULL`), not `NOT EXISTS`: PostgreSQL plans those per row through the index, whereas it may
/// turn a `NOT EXISTS` into an anti-join that reads all of `image_locations` when the table's
/// statistics are stale (measured: 0.8 s per batch instead of 10 ms, BENCHMARKS.md).
///
/// Work on many images at once takes lists (`… IN (?, ?, …)`, multi-row `VALUES`): one round
/// trip per batch rather than per image, which is what a networked database needs. Those
/// shapes are functions of the list's length; ``maxListLength`` and ``rowsPerStatement(columns:)``
/// bound it (SQLite allows 32,766 parameters per statement, PostgreSQL 65,535).
public struct CatalogQueries: Sendable {
    public let dialect: SQLDialect
    /// List shapes rendered so far, by name and length: rendering a 2,000-row statement costs
    /// more than running it.
    private let rendered = RenderedShapes()

    private func shape(_ name: String, _ length: Int, _ make: (SQLDialect) -> String) -> String {
        rendered.get(name, length) { make(dialect) }
    }
    /// A statement over a list (``SQLDialect/list(_:)``): with JSON lists, one shape whatever its length.
    private func listShape(_ name: String, _ length: Int, _ make: (SQLDialect) -> String) -> String {
        rendered.get(name, dialect.jsonLists ? 0 : length) { make(dialect) }
    }
    /// The most values one list statement takes; callers split longer lists.
    public static let maxListLength = 2000
    /// The most parameters one statement takes.
    public static let maxParameters = 16_000
    /// Rows of `columns` parameters each that one multi-row statement takes.
    public static func rowsPerStatement(columns: Int) -> Int {
        min(maxListLength, maxParameters / columns)
    }

    // MARK: Membership

    /// (node_id, incarnation, host, pid, version, capacity, leader_eligible, leader_priority, ttl,
    /// presented_incarnation) → changes == 1 unless the id is live under another incarnation.
    public let join: String
    /// (node_id) → incarnation, host, pid, seconds until expiry, state of a node's membership
    /// (PostgreSQL: share-locked, so it cannot change before the operation commits).
    public let memberIdentity: String
    /// (node_id) → as ``memberIdentity``, locked for an operation that writes the membership
    /// (a join replacing it, a heartbeat, a completion's counts, a leave or drain). Two
    /// transactions that share-lock the row and then both update it deadlock (PostgreSQL
    /// found one every heartbeat, each after its 1 s `deadlock_timeout`), so those take it exclusively.
    public let memberIdentityForUpdate: String
    /// (node_id): a rejoining node's previous incarnation is dead: its claims go back to `assigned`.
    public let resetOwnClaims: String
    /// (ttl, node_id) → changes == 1 when the membership was still live.
    public let heartbeat: String
    /// (node_id)
    public let handBackAll: String
    /// (node_id)
    public let markLeft: String
    /// () → store clock.
    public let storeNow: String

    // MARK: Claims

    /// (node_id): drops `assigned` rows whose image is no longer `pending_delete` (restored by
    /// Glance). It reads the node's whole queue, so a claim runs it only when it came back short.
    public let dropStaleAssignments: String
    /// () → paused_at: read by every claim first, in its transaction, which claims nothing while
    /// it is set. PostgreSQL: key-share-locked, so a claim waits for a pause being written (its
    /// `FOR UPDATE`, ``lockLeaderRow``) and then sees it; lease renewals and fences do not wait.
    public let claimGate: String
    /// (claim_request, node_id, retry_claimed_before, limit) → image_id, attempts, term,
    /// claim_token: the node's oldest assignments, read in index order
    /// (`scrub_assignments_queue`) up to `limit`, each given a fresh claim token.
    public let claim: String
    /// (node_id, claim_request) → image_id, attempts, term, claim_token of the claims this node
    /// made by that request and still holds: a retried claim answers with them instead of
    /// claiming again.
    public let claimedUnderToken: String
    /// (image_id) → id, value, meta_data of pending locations.
    public let pendingLocations: String
    /// (image_id × count) → image_id, id, value, meta_data of the images' pending locations.
    public func pendingLocations(of count: Int) -> String {
        listShape("pendingLocations", count) { d in
            d.render(
                """
                SELECT image_id, id, value, meta_data FROM image_locations
                WHERE image_id IN (\(d.list(count))) AND status = 'pending_delete' ORDER BY image_id, id
                """
            )
        }
    }

    // MARK: Completion

    /// (location_id, image_id)
    public let markLocationDeleted: String
    /// ((location_id, image_id) × count) → ids of the locations it changed: the batch's gone
    /// locations, each only if it belongs to the image the outcome names.
    public func markLocationsDeleted(_ count: Int) -> String {
        listShape("markLocationsDeleted", count) { d in
            d.render(
                """
                UPDATE image_locations SET status = 'deleted', deleted = {true}, updated_at = {now_text}
                WHERE (id, image_id) IN (\(d.pairs(count))) AND status = 'pending_delete'
                RETURNING id
                """
            )
        }
    }
    /// (node_id, image_id × count) → image_id, term, image status, claim_token of the images
    /// whose claim the node holds (PostgreSQL: the claims are locked until the batch commits).
    /// Looked up by image id: SQLite would otherwise walk the node's whole queue by `node_id`.
    public func heldClaims(_ count: Int) -> String {
        listShape("heldClaims", count) { d in
            d.render(
                """
                SELECT a.image_id, a.term, i.status, a.claim_token FROM scrub_assignments a JOIN images i ON i.id = a.image_id
                WHERE {sqlite +}a.node_id = ? AND a.state = 'scrubbing' AND a.image_id IN (\(d.list(count)))
                {lock FOR UPDATE OF a}
                """
            )
        }
    }
    /// (image_id × count) → ids of the images marked `deleted` (still `pending_delete`, no pending location left).
    public func markImagesDeleted(_ count: Int) -> String {
        listShape("markImagesDeleted", count) { d in
            d.render(
                """
                UPDATE images SET status = 'deleted', updated_at = {now_text}
                WHERE id IN (\(d.list(count))) AND status = 'pending_delete'
                  AND (SELECT 1 FROM image_locations l WHERE l.image_id = images.id AND l.status = 'pending_delete' LIMIT 1) IS NULL
                RETURNING id
                """
            )
        }
    }
    /// (image_id)
    public let deleteAssignment: String
    /// (image_id × count)
    public func deleteAssignments(_ count: Int) -> String {
        listShape("deleteAssignments", count) { d in d.render("DELETE FROM scrub_assignments WHERE image_id IN (\(d.list(count)))") }
    }
    /// (last_error, failure_class, failure_store, dependents (JSON array), backoff_seconds,
    /// image_id, node_id, claim_token)
    public let failAssignment: String
    /// (node_id, (image_id, claim_token) × count): hands back claims this node will not scrub,
    /// each only while it is still that claim.
    public func releaseClaims(_ count: Int) -> String {
        listShape("releaseClaims", count) { d in
            d.render(
                """
                UPDATE scrub_assignments SET node_id = NULL, state = 'assigned', claimed_at = NULL
                WHERE node_id = ? AND state = 'scrubbing' AND (image_id, claim_token) IN (\(d.pairs(count)))
                """
            )
        }
    }
    /// (done, failed, node_id)
    public let countNodeWork: String
    /// (node_id, term, image_id, location_id, store, action, detail)
    public let insertEvent: String
    /// (node_id, term, image_id, location_id, store, action, detail, failure_class) × count; with
    /// ``SQLDialect/jsonLists`` one parameter, a JSON array of those rows as arrays, and the
    /// store clock read once for them all.
    public func insertEvents(_ count: Int) -> String {
        listShape("insertEvents", count) { d in
            d.jsonLists
                ? d.render(
                    """
                    INSERT INTO scrub_events (at, node_id, term, image_id, location_id, store, action, detail, failure_class)
                    SELECT t.now, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6,
                      j.value ->> 7
                    FROM (SELECT {now} AS now) t, json_each(?) j
                    """
                )
                : d.render(
                    """
                    INSERT INTO scrub_events (at, node_id, term, image_id, location_id, store, action, detail, failure_class) VALUES
                    """ + Array(repeating: "({now}, ?, ?, ?, ?, ?, ?, ?, ?)", count: count).joined(separator: ", ")
                )
        }
    }

    // MARK: Election

    /// () → node_id, term, seconds until expiry (store clock)
    public let leaderLease: String
    /// (node_id, incarnation, ttl, node_id, node_id, incarnation, grace): takes a vacant or
    /// expired lease (or this node's own, from a previous incarnation) with term + 1, if this
    /// incarnation is a live, eligible member.
    public let takeLease: String
    /// (ttl, node_id, incarnation, term) → changes == 1 while the lease is this incarnation's and unexpired.
    public let renewLease: String
    /// (node_id, incarnation, term)
    public let resignLease: String
    /// (node_id, incarnation, term) → a row while `term` is current, its lease unexpired and
    /// held by this incarnation: every leader write checks this in its own transaction (DESIGN §3.2).
    public let fence: String

    // MARK: Leader

    /// () → node_id, capacity, state, alive, queued (unclaimed assigned)
    public let leaderNodes: String
    /// (limit) → image_id, node_id, state of work whose holder is gone, dead, or draining (unclaimed only)
    public let orphans: String
    /// (scrub_time, after, limit) → scan key, id of eligible images with no assignment, in
    /// catalog order (``SQLDialect/scanKey``) after the key `after`: one keyset page of a sweep.
    ///
    /// Not oldest `deleted_at` first: Glance's `images` has no index on `deleted_at`, so that
    /// order costs a scan and sort of the whole backlog per page (measured 125 ms a page at
    /// 100,000 images, growing with the backlog), and it visits rows in random storage order.
    /// A keyset page costs its own rows only, and consecutive pages touch neighbouring pages
    /// of Glance's tables, which every later write of the batch then shares (BENCHMARKS.md).
    public let eligibleUnassigned: String
    /// (after, up_to, position_time, position_time, position_key, scrub_time, limit) →
    /// updated_at (as text), scan key, id of eligible images with no assignment whose
    /// `updated_at` is in (after, up_to] and after the position (position_time, position_key),
    /// in that order: one range of the leader's fast path (``CandidateScan/recent(since:after:)``,
    /// ``ScanPosition/recentRanges(since:now:scrubTime:)``).
    ///
    /// It reads Glance's `updated_at_image_idx` over the range only, so an idle catalog costs
    /// nothing however long its history (on SQLite a `+` keeps `ix_images_deleted`, which
    /// would read every soft-deleted row, out of the plan).
    public let recentUnassigned: String
    /// () → mark, full_started_at, full_position, full_completed_at (``SweepState``).
    public let sweepState: String
    /// (mark, full_started_at, full_position, full_completed_at)
    public let recordSweep: String
    /// (scrub_time, after_id, limit) → id, size of eligible images by id, assigned or not (dry run)
    public let eligiblePage: String
    /// (image_id, node_id, term) × count; with ``SQLDialect/jsonLists`` (term, a JSON array of
    /// [image_id, node_id] rows), inserted in the array's order with one `assigned_at`.
    public func insertAssignments(_ count: Int) -> String {
        listShape("insertAssignments", count) { d in
            d.jsonLists
                ? d.render(
                    """
                    INSERT INTO scrub_assignments (image_id, node_id, term, state, attempts, assigned_at)
                    SELECT j.value ->> 0, j.value ->> 1, ?, 'assigned', 0, t.now FROM (SELECT {now} AS now) t, json_each(?) j
                    WHERE true ON CONFLICT (image_id) DO NOTHING
                    """
                )
                : d.render(
                    """
                    INSERT INTO scrub_assignments (image_id, node_id, term, state, attempts, assigned_at) VALUES
                    """ + Array(repeating: "(?, ?, ?, 'assigned', 0, {now})", count: count).joined(separator: ", ")
                        + " ON CONFLICT (image_id) DO NOTHING"
                )
        }
    }
    /// (to_node, term, image_id, from_node): moves work off a dead node, or a draining node's unclaimed work.
    public let moveAssignment: String
    /// (to_node, term, from_node, count): moves the newest unclaimed work of a busy node to an idle one.
    public let rebalance: String
    /// (node_id)
    public let markDraining: String
    /// (node_id): a draining node hands back its unclaimed work.
    public let handBackAssigned: String
    /// (scrub_time, node_id, run_started_at, node_id) → eligible images a one-shot run still
    /// waits on: unassigned, being scrubbed, claimable now, or failed before the run and held
    /// by this node or by no live node (the leader will move it, maybe here); none while the
    /// cluster is paused or an operator has drained this node (it would claim nothing: the run
    /// ends, leaving them for after the resume or to the others).
    public let remainingWork: String

    // MARK: Status

    /// () → node_id, host, pid, state, heartbeat_age, alive, capacity, done, failed, leader_eligible, uptime, drained_by
    public let statusNodes: String
    /// () → minutes ago, images, bytes: images marked `deleted` in each minute of the last hour
    /// (read through the partial index `scrub_events_image_deleted_at`, the hour's rows only:
    /// partial, so the location rows of the audit cost no index write).
    public let history: String
    /// () → leader elections in the last hour (`scrub_events_elected_at`).
    public let leaderChanges: String
    /// (seconds, limit) → at, seconds ago, node_id, term, detail of the `elected` audit rows of
    /// the last `seconds`, newest first (read through `scrub_events_elected_at`, those rows only).
    public let elections: String

    // MARK: Control (`scrubber pause`, `drain`, `step-down`, …)

    /// () → paused_at, paused_host, paused_user (NULLs while running).
    public let pauseState: String
    /// (): locks the lease row (PostgreSQL) for an operator's command.
    public let lockLeaderRow: String
    /// (host, user) → changes == 1 when it was running.
    public let pause: String
    /// () → changes == 1 when it was paused.
    public let resume: String
    /// (by, node_id) → changes == 1 when the node was a live, active member.
    public let drainNode: String
    /// (node_id) → changes == 1 when an operator had drained it.
    public let undrainNode: String
    /// () → changes == 1 when a live leader was made to resign; it is recorded as stepped down,
    /// so it does not simply take the lease again nor preempt another by its priority
    /// (``takeLease``, ``renewLease``), until it restarts.
    public let stepDown: String
    /// (node_id): a node that restarts (joins under a new incarnation) is no longer stepped down.
    public let forgetStepDown: String
    /// () → node_id, state, count
    public let assignmentCounts: String

    // MARK: Restore

    /// (image_id) → status
    public let imageStatus: String
    /// (image_id) → status, locking the image row (PostgreSQL) so no claim can take the image
    /// while a restore decides.
    public let lockImage: String
    /// (image_id) → node_id of a `scrubbing` assignment
    public let scrubbingHolder: String
    /// (image_id) → ids of the image's locations the scrubber already deleted (data gone) while
    /// the image stayed `pending_delete`: a node that lost its claim recorded what it deleted.
    public let scrubbedLocations: String
    /// (image_id)
    public let restoreImage: String
    /// (location_id, image_id)
    public let restoreLocation: String

    // MARK: Backlog

    /// (scrub_time) → count, oldest age seconds
    public let eligibleCount: String
    /// (scrub_time) → count
    public let waitingCount: String
    /// () → count
    public let failingCount: String
    /// (limit) → image_id, attempts, last_error, failure_class, failure_store, dependents
    public let failures: String
    /// () → failure_class, failure_store, count of failing images
    public let failingGroups: String
    /// (scrub_time) → store (NULL: none named), images, bytes of the eligible backlog, an image
    /// once per store it has a pending location in.
    public let storeBacklog: String

    public init(dialect d: SQLDialect) {
        dialect = d
        let pending = "status = 'pending_delete' AND deleted = {true} AND deleted_at IS NOT NULL"
        let pendingImage = "i.status = 'pending_delete' AND i.deleted = {true} AND i.deleted_at IS NOT NULL"
        // A live membership is replaced only by the incarnation that holds it (DESIGN §3.3).
        // An operator's drain outlives the node's rejoins (a lapsed membership, a claim that
        // failed) and ends with a restart: a join under a new incarnation.
        let keepsDrain = """
            scrub_nodes.state = 'draining' AND scrub_nodes.drained_by IS NOT NULL AND scrub_nodes.incarnation = excluded.incarnation
            """
        join = d.render(
            """
            INSERT INTO scrub_nodes (node_id, incarnation, host, pid, version, capacity, state, leader_eligible, leader_priority,
              joined_at, heartbeat_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, {now}, {now}, {now} + ?)
            ON CONFLICT (node_id) DO UPDATE SET incarnation = excluded.incarnation, host = excluded.host, pid = excluded.pid,
              version = excluded.version, capacity = excluded.capacity,
              state = CASE WHEN \(keepsDrain) THEN 'draining' ELSE 'active' END,
              drained_by = CASE WHEN \(keepsDrain) THEN scrub_nodes.drained_by END,
              leader_eligible = excluded.leader_eligible,
              leader_priority = excluded.leader_priority,
              joined_at = excluded.joined_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
            WHERE scrub_nodes.state = 'left' OR scrub_nodes.expires_at <= {now} OR scrub_nodes.incarnation = ?
            """
        )
        memberIdentity = d.render(
            """
            SELECT incarnation, host, pid, expires_at - {now}, state FROM scrub_nodes WHERE node_id = ? {lock FOR SHARE}
            """
        )
        memberIdentityForUpdate = d.render(
            """
            SELECT incarnation, host, pid, expires_at - {now}, state FROM scrub_nodes WHERE node_id = ? {lock FOR UPDATE}
            """
        )
        resetOwnClaims = d.render("UPDATE scrub_assignments SET state = 'assigned' WHERE node_id = ? AND state = 'scrubbing'")
        heartbeat = d.render(
            """
            UPDATE scrub_nodes SET heartbeat_at = {now}, expires_at = {now} + ?
            WHERE node_id = ? AND state IN ('active', 'draining') AND expires_at > {now}
            """
        )
        handBackAll = d.render("UPDATE scrub_assignments SET node_id = NULL, state = 'assigned', claimed_at = NULL WHERE node_id = ?")
        markLeft = d.render("UPDATE scrub_nodes SET state = 'left', expires_at = {now} WHERE node_id = ?")
        storeNow = d.render("SELECT {now}")

        dropStaleAssignments = d.render(
            """
            DELETE FROM scrub_assignments WHERE node_id = ? AND state = 'assigned'
              AND (SELECT 1 FROM images i WHERE i.id = scrub_assignments.image_id AND i.status = 'pending_delete' LIMIT 1) IS NULL
            """
        )
        claimGate = d.render("SELECT paused_at FROM scrub_leader WHERE id = 1 {lock FOR KEY SHARE}")
        claim = d.render(
            """
            UPDATE scrub_assignments SET state = 'scrubbing', claimed_at = {now}, claim_token = {random_token}, claim_request = ?
            WHERE image_id IN (
              SELECT a.image_id FROM scrub_assignments a JOIN images i ON i.id = a.image_id
              WHERE a.node_id = ? AND a.state = 'assigned' AND i.status = 'pending_delete'
                AND (a.not_before IS NULL OR a.not_before <= {now} OR a.claimed_at IS NULL OR a.claimed_at < ?)
              ORDER BY a.assigned_at
              LIMIT ? {lock FOR UPDATE OF a SKIP LOCKED FOR SHARE OF i SKIP LOCKED})
            RETURNING image_id, attempts, term, claim_token
            """
        )
        claimedUnderToken = d.render(
            """
            SELECT image_id, attempts, term, claim_token FROM scrub_assignments
            WHERE node_id = ? AND state = 'scrubbing' AND claim_request = ? ORDER BY assigned_at, image_id
            """
        )
        pendingLocations = d.render(
            """
            SELECT id, value, meta_data FROM image_locations WHERE image_id = ? AND status = 'pending_delete' ORDER BY id
            """
        )

        markLocationDeleted = d.render(
            """
            UPDATE image_locations SET status = 'deleted', deleted = {true}, updated_at = {now_text}
            WHERE id = ? AND image_id = ? AND status = 'pending_delete'
            """
        )
        deleteAssignment = d.render("DELETE FROM scrub_assignments WHERE image_id = ?")
        failAssignment = d.render(
            """
            UPDATE scrub_assignments SET state = 'assigned', attempts = attempts + 1, last_error = ?, failure_class = ?,
              failure_store = ?, dependents = ?, not_before = {now} + ?
            WHERE image_id = ? AND node_id = ? AND state = 'scrubbing' AND claim_token = ?
            """
        )
        countNodeWork = d.render("UPDATE scrub_nodes SET done = done + ?, failed = failed + ? WHERE node_id = ?")
        insertEvent = d.render(
            """
            INSERT INTO scrub_events (at, node_id, term, image_id, location_id, store, action, detail)
            VALUES ({now}, ?, ?, ?, ?, ?, ?, ?)
            """
        )

        leaderLease = d.render("SELECT node_id, term, expires_at - {now} FROM scrub_leader WHERE id = 1")
        // leader_priority: a lease goes to a node (its own included, so a refused leader cannot
        // simply retake it) only when no live eligible node of a higher priority could take it
        // instead, or when it has stayed vacant or expired for `grace` seconds (the preferred
        // node is alive but not campaigning: better a leader than none).
        // A node an operator stepped down is preferred to none (until it restarts: ``forgetStepDown``).
        let noPreferred = """
            NOT EXISTS (SELECT 1 FROM scrub_nodes p WHERE p.state = 'active' AND p.leader_eligible = {true}
                        AND p.expires_at > {now} AND p.leader_priority > n.leader_priority
                        AND p.node_id != coalesce((SELECT l.stepped_down FROM scrub_leader l WHERE l.id = 1), ''))
            """
        // A leader an operator stepped down waits while another live eligible node could lead
        // instead (or until the lease has stayed vacant for `grace` seconds, as above), until
        // it restarts.
        let noOther = """
            NOT EXISTS (SELECT 1 FROM scrub_nodes o WHERE o.state = 'active' AND o.leader_eligible = {true}
                        AND o.expires_at > {now} AND o.node_id != n.node_id)
            """
        takeLease = d.render(
            """
            UPDATE scrub_leader SET node_id = ?, incarnation = ?, term = term + 1, expires_at = {now} + ?
            WHERE id = 1 AND (node_id IS NULL OR expires_at <= {now} OR node_id = ?)
              AND EXISTS (SELECT 1 FROM scrub_nodes n WHERE n.node_id = ? AND n.incarnation = ? AND n.state = 'active'
                          AND n.leader_eligible = {true} AND n.expires_at > {now}
                          AND ((\(noPreferred) AND (scrub_leader.stepped_down IS NULL OR scrub_leader.stepped_down != n.node_id
                                                    OR \(noOther)))
                               OR scrub_leader.expires_at <= {now} - ?))
            """
        )
        // A leader whose renewal finds a live preferred node is refused and resigns, handing over.
        renewLease = d.render(
            """
            UPDATE scrub_leader SET expires_at = {now} + ?
            WHERE id = 1 AND node_id = ? AND incarnation = ? AND term = ? AND expires_at > {now}
              AND EXISTS (SELECT 1 FROM scrub_nodes n WHERE n.node_id = scrub_leader.node_id AND \(noPreferred))
            """
        )
        resignLease = d.render(
            """
            UPDATE scrub_leader SET node_id = NULL, incarnation = NULL, expires_at = {now}
            WHERE id = 1 AND node_id = ? AND incarnation = ? AND term = ?
            """
        )
        fence = d.render(
            """
            SELECT 1 FROM scrub_leader WHERE id = 1 AND node_id = ? AND incarnation = ? AND term = ? AND expires_at > {now}
            {lock FOR SHARE}
            """
        )

        leaderNodes = d.render(
            """
            SELECT n.node_id, n.capacity, n.state, n.expires_at > {now},
              (SELECT count(*) FROM scrub_assignments a WHERE a.node_id = n.node_id AND a.state = 'assigned')
            FROM scrub_nodes n WHERE n.state != 'left'
            """
        )
        // Driven by the queue index, never a scan of every assignment: `holders` walks the
        // distinct holders one index seek each (a loose index scan: a handful of nodes however
        // long their queues), `gone` keeps those missing, left, dead or draining, and only
        // their rows are read, plus unheld rows (node_id IS NULL, the same index).
        orphans = d.render(
            """
            WITH RECURSIVE holders (node_id) AS (
              SELECT (SELECT min(node_id) FROM scrub_assignments)
              UNION ALL
              SELECT (SELECT min(a.node_id) FROM scrub_assignments a WHERE a.node_id > h.node_id)
              FROM holders h WHERE h.node_id IS NOT NULL
            ), gone (node_id) AS (
              SELECT h.node_id FROM holders h LEFT JOIN scrub_nodes n ON n.node_id = h.node_id
              WHERE h.node_id IS NOT NULL AND (n.node_id IS NULL OR n.state IN ('left', 'draining') OR n.expires_at <= {now})
            )
            SELECT a.image_id, a.node_id, a.state FROM gone g
            JOIN scrub_assignments a ON a.node_id = g.node_id
            LEFT JOIN scrub_nodes n ON n.node_id = a.node_id
            WHERE n.node_id IS NULL OR n.state = 'left' OR n.expires_at <= {now} OR (n.state = 'draining' AND a.state = 'assigned')
            UNION ALL
            SELECT a.image_id, a.node_id, a.state FROM scrub_assignments a WHERE a.node_id IS NULL
            LIMIT ?
            """
        )
        eligibleUnassigned = d.render(
            """
            SELECT {scan_key}, i.id FROM images i
            WHERE \(pendingImage) AND i.deleted_at <= {cutoff} AND {scan_key} > ?
              AND NOT EXISTS (SELECT 1 FROM scrub_assignments a WHERE a.image_id = i.id)
            ORDER BY {scan_key}
            LIMIT ?
            """
        )
        recentUnassigned = d.render(
            """
            SELECT CAST(i.updated_at AS TEXT), {scan_key}, i.id FROM images i
            WHERE i.updated_at > CAST(? AS {timestamp}) AND i.updated_at <= CAST(? AS {timestamp})
              AND i.updated_at >= CAST(? AS {timestamp}) AND (i.updated_at > CAST(? AS {timestamp}) OR {scan_key} > ?)
              AND i.status = 'pending_delete' AND {sqlite +}i.deleted = {true} AND i.deleted_at IS NOT NULL AND i.deleted_at <= {cutoff}
              AND NOT EXISTS (SELECT 1 FROM scrub_assignments a WHERE a.image_id = i.id)
            ORDER BY i.updated_at, {scan_key}
            LIMIT ?
            """
        )
        sweepState = d.render(
            """
            SELECT sweep_mark, sweep_full_started_at, sweep_full_position, sweep_full_completed_at FROM scrub_leader WHERE id = 1
            """
        )
        recordSweep = d.render(
            """
            UPDATE scrub_leader SET sweep_mark = ?, sweep_full_started_at = ?, sweep_full_position = ?, sweep_full_completed_at = ?
            WHERE id = 1
            """
        )
        eligiblePage = d.render(
            """
            SELECT i.id, i.size FROM images i WHERE \(pendingImage) AND i.deleted_at <= {cutoff} AND i.id > ? ORDER BY i.id LIMIT ?
            """
        )
        moveAssignment = d.render(
            """
            UPDATE scrub_assignments SET node_id = ?, term = ?, state = 'assigned'
            WHERE image_id = ? AND node_id {is} ? AND (
              NOT EXISTS (SELECT 1 FROM scrub_nodes n WHERE n.node_id = scrub_assignments.node_id
                          AND n.state IN ('active', 'draining') AND n.expires_at > {now})
              OR (state = 'assigned' AND EXISTS (SELECT 1 FROM scrub_nodes n WHERE n.node_id = scrub_assignments.node_id
                                                 AND n.state = 'draining')))
            """
        )
        rebalance = d.render(
            """
            UPDATE scrub_assignments SET node_id = ?, term = ?
            WHERE state = 'assigned' AND image_id IN (
              SELECT image_id FROM scrub_assignments WHERE node_id = ? AND state = 'assigned'
              ORDER BY assigned_at DESC, image_id DESC LIMIT ? {lock FOR UPDATE SKIP LOCKED})
            """
        )
        // The node's own drain (it is stopping): no longer an operator's, so `undrain` cannot revive it.
        markDraining = d.render(
            """
            UPDATE scrub_nodes SET state = 'draining', drained_by = NULL WHERE node_id = ? AND state IN ('active', 'draining')
            """
        )
        handBackAssigned = d.render("UPDATE scrub_assignments SET node_id = NULL WHERE node_id = ? AND state = 'assigned'")
        remainingWork = d.render(
            """
            SELECT count(*) FROM images i LEFT JOIN scrub_assignments a ON a.image_id = i.id
            WHERE \(pendingImage) AND i.deleted_at <= {cutoff}
              AND (a.image_id IS NULL OR a.state = 'scrubbing' OR a.not_before IS NULL OR a.not_before <= {now}
                   OR ((a.node_id = ? OR NOT EXISTS (SELECT 1 FROM scrub_nodes n WHERE n.node_id = a.node_id
                                                     AND n.state = 'active' AND n.expires_at > {now}))
                       AND (a.claimed_at IS NULL OR a.claimed_at < ?)))
              AND (SELECT paused_at FROM scrub_leader WHERE id = 1) IS NULL
              AND (SELECT drained_by FROM scrub_nodes WHERE node_id = ?) IS NULL
            """
        )

        statusNodes = d.render(
            """
            SELECT node_id, host, pid, state, {now} - heartbeat_at, expires_at > {now}, capacity, done, failed,
              leader_eligible, heartbeat_at - joined_at, drained_by
            FROM scrub_nodes WHERE state != 'left' OR heartbeat_at > {now} - 600 ORDER BY node_id
            """
        )
        assignmentCounts = d.render("SELECT node_id, state, count(*) FROM scrub_assignments GROUP BY node_id, state")
        // Whole seconds, then whole minutes: SQLite's CAST truncates, PostgreSQL's rounds (half a
        // second either way), and both divide integers exactly. The hour's bound is a scalar
        // subquery, computed once: PostgreSQL's clock is volatile, and only a bound computed
        // once can bound an index scan (else every audit row is read).
        history = d.render(
            """
            SELECT CAST(h.now - e.at AS bigint) / 60, count(*), CAST(coalesce(sum(i.size), 0) AS bigint)
            FROM (SELECT {now} AS now) h CROSS JOIN scrub_events e LEFT JOIN images i ON i.id = e.image_id
            WHERE e.action = 'image_deleted' AND e.at > (SELECT {now} - 3600)
            GROUP BY 1
            """
        )
        leaderChanges = d.render("SELECT count(*) FROM scrub_events WHERE action = 'elected' AND at > (SELECT {now} - 3600)")
        elections = d.render(
            """
            SELECT e.at, h.now - e.at, e.node_id, e.term, e.detail FROM (SELECT {now} AS now) h CROSS JOIN scrub_events e
            WHERE e.action = 'elected' AND e.at > (SELECT {now} - ?)
            ORDER BY e.at DESC LIMIT ?
            """
        )

        pauseState = d.render("SELECT paused_at, paused_host, paused_user FROM scrub_leader WHERE id = 1")
        lockLeaderRow = d.render("SELECT id FROM scrub_leader WHERE id = 1 {lock FOR UPDATE}")
        pause = d.render(
            """
            UPDATE scrub_leader SET paused_at = {now}, paused_host = ?, paused_user = ? WHERE id = 1 AND paused_at IS NULL
            """
        )
        resume = d.render(
            """
            UPDATE scrub_leader SET paused_at = NULL, paused_host = NULL, paused_user = NULL WHERE id = 1 AND paused_at IS NOT NULL
            """
        )
        drainNode = d.render(
            """
            UPDATE scrub_nodes SET state = 'draining', drained_by = ? WHERE node_id = ? AND state = 'active' AND expires_at > {now}
            """
        )
        undrainNode = d.render(
            """
            UPDATE scrub_nodes SET state = 'active', drained_by = NULL WHERE node_id = ? AND state = 'draining' AND drained_by IS NOT NULL
            """
        )
        forgetStepDown = d.render("UPDATE scrub_leader SET stepped_down = NULL WHERE id = 1 AND stepped_down = ?")
        stepDown = d.render(
            """
            UPDATE scrub_leader SET stepped_down = node_id, node_id = NULL, incarnation = NULL, expires_at = {now}
            WHERE id = 1 AND node_id IS NOT NULL AND expires_at > {now}
            """
        )

        imageStatus = d.render("SELECT status FROM images WHERE id = ?")
        lockImage = d.render("SELECT status FROM images WHERE id = ? {lock FOR UPDATE}")
        scrubbingHolder = d.render("SELECT node_id FROM scrub_assignments WHERE image_id = ? AND state = 'scrubbing'")
        scrubbedLocations = d.render(
            """
            SELECT l.id FROM image_locations l WHERE l.image_id = ? AND l.status = 'deleted'
              AND EXISTS (SELECT 1 FROM scrub_events e WHERE e.location_id = l.id AND e.action IN ('deleted', 'not_found'))
            ORDER BY l.id
            """
        )
        restoreImage = d.render(
            """
            UPDATE images SET status = 'active', deleted = {false}, deleted_at = NULL, updated_at = {now_text}
            WHERE id = ? AND status = 'pending_delete'
            """
        )
        restoreLocation = d.render(
            """
            UPDATE image_locations SET status = 'active', deleted = {false}, deleted_at = NULL, updated_at = {now_text}
            WHERE id = ? AND image_id = ? AND status = 'pending_delete'
            """
        )

        eligibleCount = d.render(
            """
            SELECT count(*), max({age}(deleted_at))) FROM images WHERE \(pending) AND deleted_at <= {cutoff}
            """
        )
        waitingCount = d.render("SELECT count(*) FROM images WHERE \(pending) AND deleted_at > {cutoff}")
        failingCount = d.render(
            """
            SELECT count(*) FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.attempts > 0 AND i.status = 'pending_delete'
            """
        )
        failures = d.render(
            """
            SELECT a.image_id, a.attempts, a.last_error, a.failure_class, a.failure_store, a.dependents
            FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.attempts > 0 AND i.status = 'pending_delete'
            ORDER BY a.attempts DESC, a.image_id LIMIT ?
            """
        )
        failingGroups = d.render(
            """
            SELECT a.failure_class, a.failure_store, count(*) FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.attempts > 0 AND i.status = 'pending_delete'
            GROUP BY a.failure_class, a.failure_store
            """
        )
        storeBacklog = d.render(
            """
            SELECT s.store, count(*), CAST(coalesce(sum(s.size), 0) AS bigint) FROM (
              SELECT DISTINCT i.id, i.size, {location_store} AS store FROM images i
              JOIN image_locations l ON l.image_id = i.id AND l.status = 'pending_delete'
              WHERE \(pendingImage) AND i.deleted_at <= {cutoff}) s
            GROUP BY s.store
            """
        )
    }
}

/// A cache of rendered list shapes (bounded by the distinct lengths used: at most
/// ``CatalogQueries/maxListLength`` per shape).
private final class RenderedShapes: Sendable {
    private let shapes = Mutex<[String: [Int: String]]>([:])

    func get(_ name: String, _ length: Int, _ make: () -> String) -> String {
        if let sql = shapes.withLock({ $0[name]?[length] }) { return sql }
        let sql = make()
        shapes.withLock { $0[name, default: [:]][length] = sql }
        return sql
    }
}
