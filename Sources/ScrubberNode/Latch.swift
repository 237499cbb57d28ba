import Synchronization

/// A gate that opens once and stays open, and the tasks waiting for it: the node's services wait
/// on one for the first join before they claim, campaign or lead.
final class Latch: Sendable {
    private let isOpen = Atomic<Bool>(false)
    private let opened = AsyncCondition()

    init() {}

    /// Opens the gate, waking every waiter; later waits return at once.
    func open() {
        isOpen.store(true, ordering: .sequentiallyConsistent)
        opened.wakeAll()
    }

    /// Waits until the gate is open.
    /// - Returns: whether it is open: false when the task was cancelled first.
    func wait() async -> Bool {
        await opened.wait { isOpen.load(ordering: .sequentiallyConsistent) }
        return isOpen.load(ordering: .sequentiallyConsistent)
    }
}
