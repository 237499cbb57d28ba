import ScrubberCore

extension WorkSimulation.Run {
    /// DESIGN §3.3 and §3.7, read from the store at the instant of a delete that would remove
    /// data: the node holds the image's assignment in `scrubbing` under the very claim it
    /// deletes for and an unexpired, active membership, and the image and the location are
    /// still `pending_delete`. (Deleting what is already gone is a no-op, DESIGN §3.4: a replay
    /// after a lost claim does it legitimately.)
    mutating func checkDeletePermitted(node: String, claim: ClaimID, location: Int64) async throws {
        guard data.contains(location) else { return }
        let now = self.now
        let image = claim.imageID
        let assignment = try await db.rows("SELECT node_id, state, claim_token FROM scrub_assignments WHERE image_id = ?", [.text(image)])
            .first
        let member = try await db.rows("SELECT state, expires_at FROM scrub_nodes WHERE node_id = ?", [.text(node)]).first
        let imageStatus = try await db.value("SELECT status FROM images WHERE id = ?", [.text(image)]).string
        let locationStatus = try await db.value("SELECT status FROM image_locations WHERE id = ?", [.integer(location)]).string
        let holder = assignment?[0].string
        let state = assignment?[1].string
        if holder != node || state != "scrubbing" {
            violate(
                "§3.3 one worker per image: \(node) deletes \(image) location \(location) but the store has its assignment as \(assignment == nil ? "none" : "\(holder ?? "unheld") \(state ?? "")")"
            )
        } else if assignment?[2].string != claim.claimToken {
            violate(
                "§3.3 one claim per completion: \(node) deletes \(image) location \(location) under claim \(claim.claimToken), but the store's claim is another"
            )
        }
        let memberState = member?[0].string
        let expires = member?[1].double
        if memberState != "active" || !(expires.map { $0 > now } ?? false) {
            violate(
                "§3.3 one worker per image: \(node) deletes \(image) location \(location) while the store counts its membership expired or gone"
            )
        }
        if imageStatus != "pending_delete" || locationStatus != "pending_delete" {
            violate(
                "§3.7 only what is pending: \(node) deletes \(image) (\(imageStatus ?? "none")) location \(location) (\(locationStatus ?? "none"))"
            )
        }
    }

    /// DESIGN §3 after every step, from the store and the simulation's records.
    mutating func check() async throws {
        let images = try await statuses("SELECT id, status FROM images")
        let locationStatus = Dictionary(
            uniqueKeysWithValues: try await db.rows("SELECT id, status FROM image_locations").map {
                ($0[0].int ?? 0, $0[1].string ?? "")
            }
        )
        let term = try await db.value("SELECT term FROM scrub_leader WHERE id = 1").int ?? 0
        for (image, status) in images.sorted(by: { $0.key < $1.key }) {
            let ids = locations[image] ?? []
            switch status {
            case "active":
                // §3.5 restore never loses data, §3.7 only what is pending: planted or restored, all there.
                let gone = ids.filter { !data.contains($0) }
                if !gone.isEmpty {
                    violate(
                        "§3.5 \(image) is active\(restored.contains(image) ? " (restored)" : "") but the data of locations \(gone) was deleted"
                    )
                }
            case "deleted":
                // §3.4: an image is marked deleted only when all its locations' data is gone.
                let left = ids.filter { data.contains($0) || locationStatus[$0] != "deleted" }
                if !left.isEmpty { violate("§3.4 \(image) is deleted but locations \(left) still have data or are not marked deleted") }
            default:
                break
            }
        }
        // §3.3: the audit records each location deleted, and each image deleted, exactly once.
        let repeated = try await db.rows(
            """
            SELECT coalesce(CAST(location_id AS text), image_id), count(*) FROM scrub_events
            WHERE action IN ('deleted', 'not_found', 'image_deleted')
            GROUP BY action = 'image_deleted', coalesce(CAST(location_id AS text), image_id) HAVING count(*) > 1
            """
        ).map { "\($0[0]) × \($0[1])" }
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

    /// `id → status` from `sql`.
    func statuses(_ sql: String) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await db.rows(sql).map { ($0[0].string ?? "", $0[1].string ?? "") })
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
            try await advance(by: 0.25)
            for i in nodes.indices {
                try await heartbeat(i)
                try await lead(i)
                try await claim(i)
                while !nodes[i].work.isEmpty { try await deleteNext(i) }
                try await complete(i)
            }
            try await check()
            if !report.violations.isEmpty { return }
            let left =
                try await db.value(
                    "SELECT (SELECT count(*) FROM images WHERE status = 'pending_delete') + (SELECT count(*) FROM scrub_assignments)"
                ).int ?? 0
            if left == 0 { break }
        }
        let images = try await statuses("SELECT id, status FROM images")
        let assignments = try await db.rows(
            "SELECT image_id, node_id, state, attempts, last_error FROM scrub_assignments ORDER BY image_id"
        )
        .map { $0.map(\.description).joined(separator: " ") }
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
