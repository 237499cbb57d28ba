import Foundation
import GRDB
import ScrubberCore
import ScrubberSQLite
import TestSupport

extension WorkSimulation {
    /// What the generator picks each step, with its weight.
    enum Action: CaseIterable {
        case heartbeat, claim, delete, complete, lead, pause, crash, restorePlan, restoreCommit, replay, twin

        var weight: Int {
            switch self {
            case .heartbeat: 20
            case .claim: 12
            case .delete: 30
            case .complete: 12
            case .lead: 10
            case .pause: 2
            case .crash: 1
            case .restorePlan, .restoreCommit: 3
            case .replay: 3
            case .twin: 1
            }
        }
    }

    /// One simulation's state: the real catalog, the modelled nodes, the store's data.
    struct Run {
        let options: Options
        var rng: SplitMix64
        let clock: StoreClock
        let catalog: any ScrubCatalog
        let db: any SimDatabase
        var report = Report()
        var nodes: [Node]
        /// Each image's location ids.
        var locations: [String: [Int64]] = [:]
        var pendingIDs: [String] = []
        /// Locations whose data exists in the store.
        var data = Set<Int64>()
        var restored = Set<String>()
        /// Restores planned and checked against the store, not yet committed: they race scrubs.
        var restores: [RestoreRequest] = []
        var maxTerm: Int64 = 0
        var step = 0
        let start: Double
        let backoff = Backoff(base: 0.5, max: 4)

        init(options: Options, rng: SplitMix64, clock: StoreClock, catalog: any ScrubCatalog, db: any SimDatabase) {
            self.options = options
            self.rng = rng
            self.clock = clock
            self.catalog = catalog
            self.db = db
            start = clock.now
            nodes = (0..<options.nodes).map { Node(id: "n\($0)") }
        }

        var now: Double { clock.now }

        mutating func log(_ line: String) {
            report.log.append(String(format: "#%d t=%.3f ", step, now - start) + line)
        }

        mutating func violate(_ message: String) {
            log("VIOLATION " + message)
            report.violations.append("step \(step): " + message)
        }

        // MARK: Setup

        /// Pending images with 1–3 locations each (eligible at once: `scrub_time` 0), and active
        /// images that must never lose data. Ids are fixed so a seed replays exactly.
        mutating func seed() async throws {
            let pending = options.pendingImages
            let total = options.pendingImages + options.activeImages
            let stamp = SimValue.text("2026-01-01 00:00:00.000000")
            for i in 0..<total {
                let id = SimValue.text(String(format: "img-%03d", i))
                let isPending = i < pending
                try await db.execute(
                    """
                    INSERT INTO images (id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format,
                      container_format, owner, min_disk, min_ram, protected, visibility, os_hidden)
                    VALUES (?, ?, 1024, ?, CAST(? AS {timestamp}), CAST(? AS {timestamp}), CAST(? AS {timestamp}), ?, 'raw', 'bare',
                      'sim', 0, 0, {false}, 'shared', {false})
                    """,
                    [id, id, .text(isPending ? "pending_delete" : "active"), stamp, stamp, isPending ? stamp : .null, .bool(isPending)]
                )
                for j in 0...(i % 3) {
                    try await db.execute(
                        """
                        INSERT INTO image_locations (image_id, value, created_at, updated_at, deleted_at, deleted, meta_data, status)
                        VALUES (?, ?, CAST(? AS {timestamp}), CAST(? AS {timestamp}), CAST(? AS {timestamp}), ?, '{}', ?)
                        """,
                        [
                            id, .text("file:///sim/\(id.string ?? "")/\(j)"), stamp, stamp, isPending ? stamp : .null, .bool(isPending),
                            .text(isPending ? "pending_delete" : "active"),
                        ]
                    )
                }
            }
            let rows = try await db.rows("SELECT id, image_id FROM image_locations ORDER BY id").map {
                ($0[0].int ?? 0, $0[1].string ?? "")
            }
            for (location, image) in rows {
                locations[image, default: []].append(location)
                data.insert(location)
            }
            pendingIDs = (0..<pending).map { String(format: "img-%03d", $0) }
        }

        // MARK: The faulty phase

        mutating func simulate() async throws {
            let total = Action.allCases.reduce(0) { $0 + $1.weight }
            for s in 0..<options.steps {
                step = s
                try await advance(by: Double.random(in: 0...0.1, using: &rng))
                wake()
                var pick = Int.random(in: 0..<total, using: &rng)
                let action = Action.allCases.first { a in
                    defer { pick -= a.weight }
                    return pick < a.weight
                }!
                let i = Int.random(in: 0..<nodes.count, using: &rng)
                switch action {
                case .heartbeat: if isUp(i) { try await heartbeat(i) }
                case .claim: if isUp(i) { try await claim(i) }
                case .delete: if isUp(i) { try await deleteNext(i) }
                case .complete: if isUp(i) { try await complete(i) }
                case .lead: if isUp(i) { try await lead(i) }
                case .pause: pause(i)
                case .crash: crash(i)
                case .restorePlan: try await planRestore()
                case .restoreCommit: try await commitRestore()
                case .replay: if isUp(i) { try await replay(i) }
                case .twin: try await twin(i)
                }
                try await check()
                if !report.violations.isEmpty { return }
            }
        }

        /// Moves the store clock (and tells the database whose catalog reads it from a table).
        mutating func advance(by seconds: Double) async throws {
            clock.advance(by: seconds)
            try await db.setClock(clock.now)
        }

        func isUp(_ i: Int) -> Bool { nodes[i].pausedUntil == nil && nodes[i].downUntil == nil }

        mutating func wake() {
            for i in nodes.indices {
                if let until = nodes[i].pausedUntil, until <= now {
                    nodes[i].pausedUntil = nil
                    log("\(nodes[i].id) resumes (trusts membership until \(relative(nodes[i].trustedUntil)))")
                }
                if let until = nodes[i].downUntil, until <= now {
                    nodes[i].downUntil = nil
                    log("\(nodes[i].id) restarts")
                }
            }
        }

        func relative(_ t: Double?) -> String { t.map { String(format: "%.3f", $0 - start) } ?? "-" }

        mutating func pause(_ i: Int) {
            guard nodes[i].pausedUntil == nil, nodes[i].downUntil == nil else { return }
            let length = Double.random(in: 0...(3 * options.nodeTTL), using: &rng)
            nodes[i].pausedUntil = now + length
            report.pauses += 1
            log("\(nodes[i].id) pauses for \(String(format: "%.3f", length)) s")
        }

        mutating func crash(_ i: Int) {
            guard nodes[i].downUntil == nil else { return }
            var fresh = Node(id: nodes[i].id)
            fresh.downUntil = now + Double.random(in: 0...(2 * options.nodeTTL), using: &rng)
            nodes[i] = fresh
            report.crashes += 1
            log("\(fresh.id) crashes (claims and unrecorded outcomes lost)")
        }

        // MARK: Membership (MembershipService, NodeContext.join)

        mutating func join(_ i: Int) async throws {
            let epoch = nodes[i].epoch
            let begun = now
            let registration = NodeRegistration(
                nodeID: nodes[i].id,
                host: "sim",
                pid: i,
                version: "sim",
                capacity: 2 + i % 3,
                leaderEligible: true,
                incarnation: nodes[i].incarnation.isEmpty ? nil : nodes[i].incarnation
            )
            do {
                nodes[i].incarnation = try await catalog.join(registration, ttl: options.nodeTTL).incarnation
            } catch let error as CatalogError where error.code == .nodeIDInUse {
                // A restarted process while its predecessor's membership lives (NodeContext.join waits).
                log("\(nodes[i].id) join refused: the id is live under another incarnation")
                return
            }
            nodes[i].joined = true
            nodes[i].renewed(startedAt: begun, epoch: epoch, ttl: options.nodeTTL)
            log("\(nodes[i].id) joins in epoch \(epoch)")
        }

        /// A node-scoped call; a refusal of this process's incarnation ends it, as it ends the real
        /// node (CatalogError.wrongIncarnation is fatal): it restarts later as a new process.
        mutating func asNode<T>(_ i: Int, _ body: () async throws -> T) async throws -> T? {
            do {
                return try await body()
            } catch let error as CatalogError where error.code == .wrongIncarnation {
                log("\(nodes[i].id) refused: another incarnation holds its id; the process exits")
                var fresh = WorkSimulation.Node(id: nodes[i].id)
                fresh.downUntil = now + Double.random(in: 0...options.nodeTTL, using: &rng)
                nodes[i] = fresh
                return nil
            }
        }

        mutating func heartbeat(_ i: Int) async throws {
            guard nodes[i].joined else { return try await join(i) }
            let epoch = nodes[i].epoch
            let begun = now
            // A slow heartbeat: the store extends from its own later time; trust counts from `begun`.
            if rng.chance(0.1) { try await advance(by: Double.random(in: 0...1.5, using: &rng)) }
            let identity = nodes[i].identity
            guard let alive = try await asNode(i, { [catalog, ttl = options.nodeTTL] in try await catalog.heartbeat(identity, ttl: ttl) })
            else { return }
            if alive {
                nodes[i].renewed(startedAt: begun, epoch: epoch, ttl: options.nodeTTL)
                log("\(nodes[i].id) heartbeat ok, trusted until \(relative(nodes[i].trustedUntil))")
            } else {
                nodes[i].lost()
                report.expiries += 1
                log("\(nodes[i].id) heartbeat refused: membership expired, rejoining")
                try await join(i)
            }
        }

        // MARK: Work (ClaimQueue, WorkerService, Committer)

        mutating func claim(_ i: Int) async throws {
            let epoch = nodes[i].epoch
            guard nodes[i].joined, nodes[i].work.count < 2 * options.claimBatch, nodes[i].trusted(epoch: epoch, at: now) else { return }
            // Like the real node, it claims without first recording what earlier epochs left:
            // their outcomes arrive later and must be lost (DESIGN §3.3).
            let request = ClaimRequest(nodes[i].identity, limit: options.claimBatch)
            do {
                guard let claimed = try await asNode(i, { [catalog] in try await catalog.claim(request) }) else { return }
                nodes[i].work += claimed.map { Work(image: $0, epoch: epoch) }
                for image in claimed { nodes[i].newestClaim[image.imageID] = image.claimToken }
                if !claimed.isEmpty { log("\(nodes[i].id) claims \(claimed.map(\.imageID)) in epoch \(epoch)") }
            } catch let error as CatalogError where error.code == .membershipExpired {
                nodes[i].lost()
                log("\(nodes[i].id) claim refused: membership expired")
            }
        }

        /// Deletes the next location of the node's oldest claim, if it still trusts the claim's epoch.
        mutating func deleteNext(_ i: Int) async throws {
            guard var work = nodes[i].work.first else { return }
            let node = nodes[i].id
            if work.results.count < work.image.locations.count {
                let location = work.image.locations[work.results.count]
                let trusted = nodes[i].trusted(epoch: work.epoch, at: now)
                if trusted || options.breaking == .deleteWithoutTrust {
                    try await checkDeletePermitted(node: node, claim: work.image.claim, location: location.id)
                    let existed = data.remove(location.id) != nil
                    if existed { report.deletions += 1 }
                    work.results.append(LocationResult(locationID: location.id, store: nil, outcome: existed ? .deleted : .notFound))
                    log(
                        "\(node) deletes \(work.image.imageID) location \(location.id) (epoch \(work.epoch)): \(existed ? "deleted" : "not found")"
                    )
                } else {
                    work.results.append(LocationResult(locationID: location.id, store: nil, outcome: .failed("permit withdrawn")))
                    log("\(node) skips \(work.image.imageID) location \(location.id): epoch \(work.epoch) no longer trusted")
                }
            }
            if work.results.count == work.image.locations.count {
                nodes[i].work.removeFirst()
                nodes[i].outcomes.append(ScrubOutcome(work.image, locations: work.results))
            } else {
                nodes[i].work[0] = work
            }
        }

        mutating func complete(_ i: Int) async throws {
            guard !nodes[i].outcomes.isEmpty else { return }
            var outcomes = nodes[i].outcomes
            if options.breaking == .outcomesNameNewestClaim {
                for k in outcomes.indices { outcomes[k].claimToken = nodes[i].newestClaim[outcomes[k].imageID] }
            }
            let identity = nodes[i].identity
            let held = try await db.rows(
                "SELECT image_id, claim_token FROM scrub_assignments WHERE node_id = ? AND state = 'scrubbing'",
                [.text(identity.nodeID)]
            )
            let tokens = Dictionary(held.map { ($0[0].string ?? "", $0[1].string ?? "") }, uniquingKeysWith: { a, _ in a })
            report.staleBesideNewerClaim += outcomes.count { outcome in tokens[outcome.imageID].map { $0 != outcome.claimToken } ?? false }
            guard
                let result = try await asNode(
                    i,
                    { [catalog, backoff] in try await catalog.complete(outcomes, node: identity, backoff: backoff) }
                )
            else { return }
            nodes[i].outcomes = []
            nodes[i].sent.append(outcomes)
            report.lostOutcomes += result.claimsLost.count
            log(
                "\(nodes[i].id) completes \(outcomes.map(\.imageID)): deleted \(result.imagesDeleted), failed \(result.imagesFailed), lost \(result.claimsLost)"
            )
        }

        /// Sends one of the node's earlier batches again, as a retry whose first answer was lost
        /// does past the service's replay cache: it must change nothing but what is gone.
        mutating func replay(_ i: Int) async throws {
            guard nodes[i].joined, !nodes[i].sent.isEmpty else { return }
            // Doubled: a new request, so that no replay cache answers it from its first try.
            let sent = nodes[i].sent[Int.random(in: 0..<nodes[i].sent.count, using: &rng)]
            let batch = sent + sent
            let identity = nodes[i].identity
            guard
                let result = try await asNode(
                    i,
                    { [catalog, backoff] in try await catalog.complete(batch, node: identity, backoff: backoff) }
                )
            else { return }
            report.replays += 1
            report.lostOutcomes += result.claimsLost.count
            log(
                "\(nodes[i].id) re-sends \(batch.map(\.imageID)): deleted \(result.imagesDeleted), failed \(result.imagesFailed), lost \(result.claimsLost)"
            )
            if !result.imagesDeleted.isEmpty || !result.imagesFailed.isEmpty {
                violate("§3.3 a re-sent batch completed claims: deleted \(result.imagesDeleted), failed \(result.imagesFailed)")
            }
        }

        /// A second process starts under node i's id (same hostname and pid in two containers):
        /// its join must be refused while i's membership lives, and its calls under i's id with
        /// a made-up incarnation always. If i's membership had lapsed, the twin joins, and i's
        /// next call tells it another incarnation holds the id.
        mutating func twin(_ i: Int) async throws {
            let id = nodes[i].id
            let live = try await db.value(
                "SELECT state != 'left' AND expires_at > ? FROM scrub_nodes WHERE node_id = ?",
                [.real(now), .text(id)]
            ).isTrue
            let impostor = NodeIdentity(nodeID: id, incarnation: "impostor")
            do {
                _ = try await catalog.heartbeat(impostor, ttl: options.nodeTTL)
                if try await db.value("SELECT 1 FROM scrub_nodes WHERE node_id = ?", [.text(id)]).isTrue {
                    violate("§3.3 a heartbeat of \(id) under a made-up incarnation was accepted")
                }
            } catch let error as CatalogError where error.code == .wrongIncarnation {}
            let registration = NodeRegistration(nodeID: id, host: "twin", pid: 1, version: "sim", capacity: 1, leaderEligible: false)
            do {
                _ = try await catalog.join(registration, ttl: options.nodeTTL)
                if live { violate("§3.3 a second process joined as \(id) while its membership was live") }
                log("a second process joins as \(id) (its membership had lapsed), then stops heartbeating")
            } catch let error as CatalogError where error.code == .nodeIDInUse {
                if !live { violate("§3.3 a join of \(id) was refused though its membership had lapsed") }
                report.refusedTwins += 1
                log("a second process's join as \(id) is refused: the id is live")
            }
        }

        // MARK: Leader (ElectionService, LeaderService.round)

        mutating func lead(_ i: Int) async throws {
            guard nodes[i].joined else { return }
            let id = nodes[i].id
            let begun = now
            let margin = min(1.0, options.leaseTTL / 4)
            if let term = nodes[i].leaderTerm {
                if now >= nodes[i].leaderTrustedUntil {
                    nodes[i].leaderTerm = nil
                    log("\(id) stops leading term \(term): lease trust lapsed")
                } else if try await asNode(
                    i,
                    { [catalog, identity = nodes[i].identity, ttl = options.leaseTTL] in
                        try await catalog.renewLeadership(identity, term: term, ttl: ttl)
                    }
                ) == true {
                    nodes[i].leaderTrustedUntil = begun + options.leaseTTL - margin
                } else {
                    nodes[i].leaderTerm = nil
                    log("\(id) lost its lease for term \(term)")
                }
            }
            if nodes[i].leaderTerm == nil {
                guard nodes[i].trusted(epoch: nodes[i].epoch, at: now) else { return }
                let identity = nodes[i].identity
                guard
                    let lease = try await asNode(
                        i,
                        { [catalog, ttl = options.leaseTTL] in try await catalog.campaign(identity, ttl: ttl) }
                    ),
                    lease.holder == id, lease.remaining > 0
                else { return }
                nodes[i].leaderTerm = lease.term
                nodes[i].leaderTrustedUntil = begun + options.leaseTTL - margin
                log("\(id) elected, term \(lease.term)")
            }
            guard let term = nodes[i].leaderTerm else { return }
            try await round(i, term: term)
        }

        mutating func round(_ i: Int, term: Int64) async throws {
            let id = nodes[i].id
            let limit = options.window * options.nodes
            let view = try await catalog.leaderView(scrubTime: 0, limit: limit, scan: .full(after: nil))
            let targets = view.nodes.filter { $0.alive && !$0.draining }
                .map { Partitioner.Node(id: $0.id, capacity: $0.capacity, queued: $0.queued) }
            guard !targets.isEmpty else { return }
            let partitioner = Partitioner(window: options.window)
            let room = max(0, partitioner.room(targets) - view.orphans.count)
            let owners = Dictionary(view.orphans.map { ($0.imageID, $0.node) }, uniquingKeysWith: { a, _ in a })
            let placed = partitioner.assign(view.orphans.map(\.imageID) + view.unassigned.prefix(room), to: targets)
            var plan = LeaderPlan(leader: nodes[i].identity, term: term, assignments: [], moves: [])
            for (image, node) in placed {
                if let from = owners[image] {
                    plan.moves.append(.init(imageID: image, from: from, to: node))
                } else {
                    plan.assignments.append((image, node))
                }
            }
            if view.next == nil, view.orphans.isEmpty, plan.assignments.count == view.unassigned.count {
                var after = Dictionary(targets.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                for (_, node) in placed { after[node]?.queued += 1 }
                plan.rebalances = partitioner.rebalance(after.values.sorted { $0.id < $1.id }, batch: options.claimBatch)
                    .map { LeaderPlan.Rebalance(from: $0.from, to: $0.to, count: $0.count) }
            }
            guard !plan.isEmpty else { return }
            // A leader paused between its read and its write: the store's fence must refuse it.
            if rng.chance(0.05) { try await advance(by: Double.random(in: 0...options.leaseTTL, using: &rng)) }
            guard now < nodes[i].leaderTrustedUntil || rng.chance(0.5) else { return }
            if try await catalog.apply(plan) {
                log(
                    "\(id) term \(term) assigns \(plan.assignments.count), moves \(plan.moves.map { "\($0.imageID) \($0.from ?? "-")→\($0.to)" }), rebalances \(plan.rebalances.count)"
                )
            } else {
                nodes[i].leaderTerm = nil
                log("\(id) term \(term) round refused (stale term)")
            }
        }

        // MARK: Restore (Restorer)

        mutating func planRestore() async throws {
            let candidates = pendingIDs.filter { !restored.contains($0) }
            guard let image = candidates.randomElement(using: &rng) else { return }
            let plan = try await catalog.restorePlan(imageID: image)
            guard plan.status == .pendingDelete, plan.scrubbingNode == nil else {
                log(
                    "restore of \(image) refused at plan: \(plan.status.map(\.rawValue) ?? "none"), scrubbing by \(plan.scrubbingNode ?? "-")"
                )
                return
            }
            var gone = plan.scrubbedLocations
            gone += plan.locations.map(\.id).filter { !data.contains($0) }
            if options.breaking == .restoreWithoutDataCheck { gone = [] }
            guard gone.isEmpty else {
                log("restore of \(image) refused: data gone for \(gone)")
                return
            }
            restores.append(RestoreRequest(imageID: image, keep: plan.locations.map(\.id), lost: [], actor: "sim"))
            log("restore of \(image) planned: keep \(plan.locations.map(\.id))")
        }

        mutating func commitRestore() async throws {
            guard !restores.isEmpty else { return }
            let request = restores.remove(at: Int.random(in: 0..<restores.count, using: &rng))
            do {
                _ = try await catalog.commitRestore(request)
                restored.insert(request.imageID)
                report.restores += 1
                log("restore of \(request.imageID) committed")
            } catch let refusal as RestoreRefusal {
                log("restore of \(request.imageID) refused at commit: \(refusal)")
            }
        }
    }
}
