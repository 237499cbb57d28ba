import ScrubberCore

extension SQLCatalog {
    public func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        let q = queries
        return try await read { c in
            let eligible = try await c.row(q.eligibleCount, [scrubTime])
            let waiting: Int = try await c.scalar(q.waitingCount, [scrubTime]) ?? 0
            let failing: Int = try await c.scalar(q.failingCount) ?? 0
            let failures = try await c.rows(q.failures, [failureLimit]).map { row in
                BacklogSnapshot.Failure(
                    imageID: try row[0],
                    attempts: try row[1],
                    lastError: try row[2],
                    failureClass: (try row[3] as String?).flatMap(FailureClass.init(rawValue:)),
                    store: try row[4],
                    dependents: DependentsColumn.list(try row[5])
                )
            }
            let groups = try await c.rows(q.failingGroups).map { row in
                FailingGroup(
                    failureClass: (try row[0] as String?).flatMap(FailureClass.init(rawValue:)) ?? .transient,
                    store: try row[1],
                    images: try row[2]
                )
            }
            let stores = try await c.rows(q.storeBacklog, [scrubTime]).map { row in
                StoreBacklog(store: try row[0], images: try row[1], bytes: try row[2])
            }
            return BacklogSnapshot(
                eligible: try eligible?[0] ?? 0,
                waiting: waiting,
                oldestAgeSeconds: try eligible?[1],
                failing: failing,
                failures: failures,
                stores: stores,
                failingGroups: groups
            )
        }
    }

    public func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        let q = queries
        let backlog = try await backlog(scrubTime: scrubTime, failureLimit: failureLimit)
        return try await read { c in
            let assignments = try await c.rows(q.assignmentCounts).map { row in
                (node: try row[0] as String?, state: try row[1] as String, count: try row[2] as Int)
            }
            let nodes = try await c.rows(q.statusNodes).map { row in
                ClusterStatus.NodeRow(
                    nodeID: try row[0],
                    host: try row[1],
                    pid: try row[2],
                    state: try row[3],
                    heartbeatAgeSeconds: try row[4],
                    alive: try row[5],
                    capacity: try row[6],
                    done: try row[7],
                    failed: try row[8],
                    leaderEligible: try row[9],
                    uptimeSeconds: try row[10],
                    drainedBy: try row[11]
                )
            }
            let minutes = try await c.rows(q.history).map { row in
                (ago: try row[0] as Int, images: try row[1] as Int, bytes: try row[2] as Int64)
            }
            let changes: Int = try await c.scalar(q.leaderChanges) ?? 0
            return ClusterStatus(
                lease: try await Self.lease(c, q),
                nodes: nodes,
                assignments: assignments,
                backlog: backlog,
                paused: try await Self.pauseState(c, q),
                history: .init(rows: minutes, leaderChanges: changes)
            )
        }
    }

    static func pauseState(_ c: Connection, _ q: CatalogQueries) async throws -> PauseState? {
        guard let row = try await c.row(q.pauseState), let since = try row[0] as Double? else { return nil }
        return PauseState(since: since, by: Operator(host: try row[1] ?? "", user: try row[2] ?? ""))
    }
}
