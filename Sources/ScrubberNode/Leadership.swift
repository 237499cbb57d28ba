import ScrubberCore
import Synchronization

/// The node's ``Elector``, shared by the election loop (which drives it) and the leader loop
/// (which asks it, before every write, whether it may still act and under which term).
final class Leadership: Sendable {
    private let elector: Mutex<Elector>
    /// Woken when the elector's role changes (elected, renewed, stepped down).
    private let roleChanged = AsyncCondition()

    init(_ elector: Elector) {
        self.elector = Mutex(elector)
    }

    func withElector<T>(_ body: (inout Elector) -> T) -> T {
        let (result, changed) = elector.withLock { elector in
            let before = elector.role
            let result = body(&elector)
            return (result, elector.role != before)
        }
        if changed { roleChanged.wakeAll() }
        return result
    }

    /// The term this node may lead under at local time `now`, if any.
    func term(at now: Double) -> Int64? {
        elector.withLock { $0.leaderTerm(at: now) }
    }

    /// Returns once this node may lead at local time `now()` (checked whenever the role
    /// changes), or when the task is cancelled.
    func untilLeading(at now: () -> Double) async {
        await roleChanged.wait { term(at: now()) != nil }
    }

    /// How many tasks wait for a term now (for tests).
    var waitingForTerm: Int { roleChanged.parkedCount }
}
