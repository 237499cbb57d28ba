import ScrubberCore

extension SQLCatalog {
    public func control(_ request: ControlRequest) async throws -> ControlAnswer {
        let q = queries
        return try await write { c in
            // The lease row first, locked (PostgreSQL): a campaign or renewal waits for the command.
            _ = try await c.rows(q.lockLeaderRow)
            var control = ControlStep(request, lease: try await Self.lease(c, q), paused: try await Self.pauseState(c, q), queries: q)
            while let statement = control.next() {
                control.ran(changes: try await c.execute(statement.sql, statement.arguments.map { $0 as any SQLBindable }))
            }
            let answer = control.answer(paused: try await Self.pauseState(c, q))
            try await Self.insert(control.events, c, q)
            return answer
        }
    }
}
