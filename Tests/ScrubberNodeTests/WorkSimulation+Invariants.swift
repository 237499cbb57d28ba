import GRDB
import ScrubberCore

extension WorkSimulation.Run {
    /// DESIGN §3.3 and §3.7, read from the store at the instant of a delete that would remove
    /// data: the node holds the image's assignment in `scrubbing` under the very claim it
    /// deletes for and an unexpired, active membership, and the image and the location are
    /// still `pending_delete`. (Deleting what is already gone is a no-op, DESIGN §3.4: a replay
    /// after a lost claim does it legitimately.)
    mutating func checkDeletePermitted(node: String, claim: ClaimID, location: Int64) throws {
        guard data.contains(location) else { return }
        let now = self.now, image = claim.imageID
        let (assignment, member, imageStatus, locationStatus) = try db.read { db in
            (try Row.fetchOne(db, sql: "SELECT node_id, state, claim_token FROM scrub_assignments WHERE image_id = ?", arguments: [image]),
             try Row.fetchOne(db, sql: "SELECT state, expires_at FROM scrub_nodes WHERE node_id = ?", arguments: [node]),
             try String.fetchOne(db, sql: "SELECT status FROM images WHERE id = ?", arguments: [image]),
             try String.fetchOne(db, sql: "SELECT status FROM image_locations WHERE id = ?", arguments: [location]))
        }
        let holder: String? = assignment?["node_id"], state: String? = assignment?["state"]
        if holder != node || state != "scrubbing" {
            violate("§3.3 one worker per image: \(node) deletes \(image) location \(location) but the store has its assignment as \(assignment == nil ? "none" : "\(holder ?? "unheld") \(state ?? "")")")
        } else if assignment?["claim_token"] != claim.claimToken {
            violate("§3.3 one claim per completion: \(node) deletes \(image) location \(location) under claim \(claim.claimToken), but the store's claim is another")
        }
        let memberState: String? = member?["state"], expires: Double? = member?["expires_at"]
        if memberState != "active" || !(expires.map { $0 > now } ?? false) {
            violate("§3.3 one worker per image: \(node) deletes \(image) location \(location) while the store counts its membership expired or gone")
        }
        if imageStatus != "pending_delete" || locationStatus != "pending_delete" {
            violate("§3.7 only what is pending: \(node) deletes \(image) (\(imageStatus ?? "none")) location \(location) (\(locationStatus ?? "none"))")
        }
    }

    /// DESIGN §3 after every step, from the store and the simulation's records.
    mutating func check() throws {
        let (images, locationStatus, term) = try db.read { db in
            (try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, status FROM images").map { ($0[0] as String, $0[1] as String) }),
             try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, status FROM image_locations").map { ($0[0] as Int64, $0[1] as String) }),
             try Int64.fetchOne(db, sql: "SELECT term FROM scrub_leader WHERE id = 1") ?? 0)
        }
        for (image, status) in images.sorted(by: { $0.key < $1.key }) {
            let ids = locations[image] ?? []
            switch status {
            case "active":
                // §3.5 restore never loses data, §3.7 only what is pending: planted or restored, all there.
                let gone = ids.filter { !data.contains($0) }
                if !gone.isEmpty { violate("§3.5 \(image) is active\(restored.contains(image) ? " (restored)" : "") but the data of locations \(gone) was deleted") }
            case "deleted":
                // §3.4: an image is marked deleted only when all its locations' data is gone.
                let left = ids.filter { data.contains($0) || locationStatus[$0] != "deleted" }
                if !left.isEmpty { violate("§3.4 \(image) is deleted but locations \(left) still have data or are not marked deleted") }
            default:
                break
            }
        }
        // §3.3: the audit records each location deleted, and each image deleted, exactly once.
        let repeated = try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT coalesce(location_id, image_id), count(*) FROM scrub_events
                WHERE action IN ('deleted', 'not_found', 'image_deleted')
                GROUP BY action = 'image_deleted', coalesce(location_id, image_id) HAVING count(*) > 1
                """).map { "\($0[0] as DatabaseValue) × \($0[1] as Int)" }
        }
        if !repeated.isEmpty { violate("§3.3 the audit records a deletion more than once: \(repeated)") }
        // §3.2: the term is the fencing token; it never goes back.
        if term < maxTerm { violate("§3.2 the store's term went back from \(maxTerm) to \(term)") }
        maxTerm = max(maxTerm, term)
        report.terms = maxTerm
        // §3.3 from the nodes' side: at most one node trusts a claim on an image.
        var holders: [String: [String]] = [:]
        for node in nodes where node.downUntil == nil {
            for work in node.work where node.trusted(epoch: work.epoch, at: now) {
                holders[work.image.imageID, default: []].append(node.id)
            }
        }
        for (image, nodes) in holders.sorted(by: { $0.key < $1.key }) where nodes.count > 1 {
            violate("§3.3 \(nodes) all trust a claim on \(image)")
        }
    }

    /// Ends the faults, runs every node until nothing is left (bounded), then checks §3.6: every
    /// eligible image not restored is `deleted` with its data gone and no assignment left.
    mutating func quiesce() async throws {
        step = options.steps
        log("faults end: pauses and crashes cleared, \(restores.count) planned restores dropped")
        restores = []
        for i in nodes.indices {
            nodes[i].pausedUntil = nil
            if nodes[i].downUntil != nil { nodes[i] = WorkSimulation.Node(id: nodes[i].id) }
        }
        for _ in 0..<200 {
            step += 1
            clock.advance(by: 0.25)
            for i in nodes.indices {
                try await heartbeat(i)
                try await lead(i)
                try await claim(i)
                while !nodes[i].work.isEmpty { try deleteNext(i) }
                try await complete(i)
            }
            try check()
            if !report.violations.isEmpty { return }
            let left = try await db.read { db in
                try Int.fetchOne(db, sql: "SELECT (SELECT count(*) FROM images WHERE status = 'pending_delete') + (SELECT count(*) FROM scrub_assignments)") ?? 0
            }
            if left == 0 { break }
        }
        let (images, assignments) = try await db.read { db in
            (try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, status FROM images").map { ($0[0] as String, $0[1] as String) }),
             try Row.fetchAll(db, sql: "SELECT image_id, node_id, state, attempts, last_error FROM scrub_assignments ORDER BY image_id")
                .map(\.description))
        }
        for image in pendingIDs {
            let expected = restored.contains(image) ? "active" : "deleted"
            if images[image] != expected {
                violate("§3.6 no lost image: \(image) is \(images[image] ?? "gone") after quiescence, expected \(expected)")
            }
        }
        for row in assignments {
            violate("§3.6 an assignment is left after quiescence: \(row)")
        }
    }
}
