import ScrubberCore
import Testing

/// The dialect renders one query shape for each backend.
@Suite struct SQLDialectTests {
    let shape = "SELECT ? FROM t WHERE a = '?x' AND b {is} ? AND c = {true} AND d > {now} {lock FOR UPDATE SKIP LOCKED} LIMIT ?"

    @Test func sqliteKeepsQuestionMarksAndDropsRowLocks() {
        #expect(
            SQLDialect.sqlite.render(shape) == """
                SELECT ? FROM t WHERE a = '?x' AND b IS ? AND c = 1 AND d > \(SQLDialect.sqlite.now)  LIMIT ?
                """
        )
    }

    @Test func postgresqlNumbersParametersOutsideLiteralsAndKeepsRowLocks() {
        #expect(
            SQLDialect.postgresql.render(shape) == """
                SELECT $1 FROM t WHERE a = '?x' AND b IS NOT DISTINCT FROM $2 AND c = true AND d > \(SQLDialect.postgresql.now) \
                FOR UPDATE SKIP LOCKED LIMIT $3
                """
        )
    }

    @Test func everyTokenIsRenderedAndNoneIsLeftOver() {
        let queries = CatalogQueries(dialect: .postgresql)
        let all = [
            queries.claim, queries.remainingWork, queries.eligibleCount, queries.takeLease, queries.fence,
            queries.insertEvents(3), queries.recentUnassigned, queries.markImagesDeleted(2), queries.heldClaims(4),
            queries.storeBacklog, queries.history, queries.pause, queries.drainNode, queries.stepDown, queries.failAssignment,
        ]
        for sql in all {
            #expect(!sql.contains("{") && !sql.contains("?"), "\(sql)")
        }
        #expect(queries.insertEvents(2).contains("$16") && !queries.insertEvents(2).contains("$17"))
        #expect(queries.eligibleCount.contains("date_part('epoch', (clock_timestamp() AT TIME ZONE 'UTC') - (deleted_at))"))
    }
}
