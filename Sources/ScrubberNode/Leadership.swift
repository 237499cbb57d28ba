import ScrubberCore
import Synchronization

/// The node's ``Elector``, shared by the election loop (which drives it) and the leader loop
/// (which asks it, before every write, whether it may still act and under which term).
final class Leadership: Sendable {
    private let elector: Mutex<Elector>

    init(_ elector: Elector) {
        self.elector = Mutex(elector)
    }

    func withElector<T>(_ body: (inout Elector) -> T) -> T {
        elector.withLock { body(&$0) }
    }

    /// The term this node may lead under at local time `now`, if any.
    func term(at now: Double) -> Int64? {
        elector.withLock { $0.leaderTerm(at: now) }
    }
}
