/// The catalog's SQL, one shape for every SQL backend, rendered once for a ``SQLDialect``.
/// Each query sits beside the operation of ``ScrubCatalog`` it serves.
public struct CatalogQueries: Sendable {
    // MARK: Membership

    /// (node_id, host, pid, version, capacity, leader_eligible, ttl)
    public let join: String
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
    /// (node_id) → a row when the node is a live, active member.
    public let liveMember: String

    // MARK: Claims

    /// (limit) → image_id, node_id of assignments whose holder is gone or dead.
    public let orphanedAssignments: String
    /// (node_id, image_id)
    public let adoptAssignment: String
    /// (node_id, scrub_time, limit): assigns the oldest eligible unassigned images to a node.
    public let assignEligible: String
    /// (node_id): drops `assigned` rows whose image is no longer `pending_delete` (restored by Glance).
    public let dropStaleAssignments: String
    /// (node_id, retry_claimed_before, limit) → image_id, attempts, term.
    public let claim: String
    /// (image_id) → id, value, meta_data of pending locations.
    public let pendingLocations: String

    // MARK: Completion

    /// (location_id, image_id)
    public let markLocationDeleted: String
    /// (image_id, node_id) → term, image status, when the node holds the image's claim.
    public let heldClaim: String
    /// (image_id)
    public let markImageDeleted: String
    /// (image_id)
    public let deleteAssignment: String
    /// (last_error, backoff_seconds, image_id, node_id)
    public let failAssignment: String
    /// (image_id, node_id)
    public let releaseClaim: String
    /// (done, failed, node_id)
    public let countNodeWork: String
    /// (node_id, term, image_id, location_id, store, action, detail)
    public let insertEvent: String

    // MARK: Restore

    /// (image_id) → status
    public let imageStatus: String
    /// (image_id) → node_id of a `scrubbing` assignment
    public let scrubbingHolder: String
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
    /// (limit) → image_id, attempts, last_error
    public let failures: String

    public init(dialect d: SQLDialect) {
        let pending = "status = 'pending_delete' AND deleted = {true} AND deleted_at IS NOT NULL"
        join = d.render("""
            INSERT INTO scrub_nodes (node_id, host, pid, version, capacity, state, leader_eligible, joined_at, heartbeat_at, expires_at)
            VALUES (?, ?, ?, ?, ?, 'active', ?, {now}, {now}, {now} + ?)
            ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version,
              capacity = excluded.capacity, state = 'active', leader_eligible = excluded.leader_eligible,
              joined_at = excluded.joined_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
            """)
        resetOwnClaims = d.render("UPDATE scrub_assignments SET state = 'assigned' WHERE node_id = ? AND state = 'scrubbing'")
        heartbeat = d.render("""
            UPDATE scrub_nodes SET heartbeat_at = {now}, expires_at = {now} + ?
            WHERE node_id = ? AND state = 'active' AND expires_at > {now}
            """)
        handBackAll = d.render("UPDATE scrub_assignments SET node_id = NULL, state = 'assigned', claimed_at = NULL WHERE node_id = ?")
        markLeft = d.render("UPDATE scrub_nodes SET state = 'left', expires_at = {now} WHERE node_id = ?")
        storeNow = d.render("SELECT {now}")
        liveMember = d.render("SELECT 1 FROM scrub_nodes WHERE node_id = ? AND state = 'active' AND expires_at > {now}")

        orphanedAssignments = d.render("""
            SELECT a.image_id, a.node_id FROM scrub_assignments a
            WHERE a.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM scrub_nodes n WHERE n.node_id = a.node_id AND n.state = 'active' AND n.expires_at > {now})
            LIMIT ?
            """)
        adoptAssignment = d.render("UPDATE scrub_assignments SET node_id = ?, state = 'assigned', claimed_at = NULL WHERE image_id = ?")
        assignEligible = d.render("""
            INSERT INTO scrub_assignments (image_id, node_id, term, state, attempts, assigned_at)
            SELECT i.id, ?, 0, 'assigned', 0, {now} FROM images i
            WHERE i.\(pending.replacingOccurrences(of: " AND ", with: " AND i.")) AND i.deleted_at <= {cutoff}
              AND NOT EXISTS (SELECT 1 FROM scrub_assignments a WHERE a.image_id = i.id)
            ORDER BY i.deleted_at, i.id
            LIMIT ?
            """)
        dropStaleAssignments = d.render("""
            DELETE FROM scrub_assignments WHERE node_id = ? AND state = 'assigned'
              AND NOT EXISTS (SELECT 1 FROM images i WHERE i.id = scrub_assignments.image_id AND i.status = 'pending_delete')
            """)
        claim = d.render("""
            UPDATE scrub_assignments SET state = 'scrubbing', claimed_at = {now}
            WHERE image_id IN (
              SELECT a.image_id FROM scrub_assignments a JOIN images i ON i.id = a.image_id
              WHERE a.node_id = ? AND a.state = 'assigned' AND i.status = 'pending_delete'
                AND (a.not_before IS NULL OR a.not_before <= {now} OR a.claimed_at IS NULL OR a.claimed_at < ?)
              ORDER BY a.assigned_at, a.image_id
              LIMIT ?)
            RETURNING image_id, attempts, term
            """)
        pendingLocations = d.render("""
            SELECT id, value, meta_data FROM image_locations WHERE image_id = ? AND status = 'pending_delete' ORDER BY id
            """)

        markLocationDeleted = d.render("""
            UPDATE image_locations SET status = 'deleted', deleted = {true}, updated_at = {now_text}
            WHERE id = ? AND image_id = ? AND status = 'pending_delete'
            """)
        heldClaim = d.render("""
            SELECT a.term, i.status FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.image_id = ? AND a.node_id = ? AND a.state = 'scrubbing'
            """)
        markImageDeleted = d.render("""
            UPDATE images SET status = 'deleted', updated_at = {now_text}
            WHERE id = ? AND status = 'pending_delete'
              AND NOT EXISTS (SELECT 1 FROM image_locations l WHERE l.image_id = images.id AND l.status = 'pending_delete')
            """)
        deleteAssignment = d.render("DELETE FROM scrub_assignments WHERE image_id = ?")
        failAssignment = d.render("""
            UPDATE scrub_assignments SET state = 'assigned', attempts = attempts + 1, last_error = ?, not_before = {now} + ?
            WHERE image_id = ? AND node_id = ? AND state = 'scrubbing'
            """)
        releaseClaim = d.render("""
            UPDATE scrub_assignments SET node_id = NULL, state = 'assigned', claimed_at = NULL
            WHERE image_id = ? AND node_id = ? AND state = 'scrubbing'
            """)
        countNodeWork = d.render("UPDATE scrub_nodes SET done = done + ?, failed = failed + ? WHERE node_id = ?")
        insertEvent = d.render("""
            INSERT INTO scrub_events (at, node_id, term, image_id, location_id, store, action, detail)
            VALUES ({now}, ?, ?, ?, ?, ?, ?, ?)
            """)

        imageStatus = d.render("SELECT status FROM images WHERE id = ?")
        scrubbingHolder = d.render("SELECT node_id FROM scrub_assignments WHERE image_id = ? AND state = 'scrubbing'")
        restoreImage = d.render("""
            UPDATE images SET status = 'active', deleted = {false}, deleted_at = NULL, updated_at = {now_text}
            WHERE id = ? AND status = 'pending_delete'
            """)
        restoreLocation = d.render("""
            UPDATE image_locations SET status = 'active', deleted = {false}, deleted_at = NULL, updated_at = {now_text}
            WHERE id = ? AND image_id = ? AND status = 'pending_delete'
            """)

        eligibleCount = d.render("""
            SELECT count(*), max({age}(deleted_at))) FROM images WHERE \(pending) AND deleted_at <= {cutoff}
            """)
        waitingCount = d.render("SELECT count(*) FROM images WHERE \(pending) AND deleted_at > {cutoff}")
        failingCount = d.render("""
            SELECT count(*) FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.attempts > 0 AND i.status = 'pending_delete'
            """)
        failures = d.render("""
            SELECT a.image_id, a.attempts, a.last_error FROM scrub_assignments a JOIN images i ON i.id = a.image_id
            WHERE a.attempts > 0 AND i.status = 'pending_delete'
            ORDER BY a.attempts DESC, a.image_id LIMIT ?
            """)
    }
}
