import ScrubberCore

/// The limited stores of a node, and which of them an image needs.
struct StoreLimits: Sendable {
    private let gates: [String: StoreGate]
    /// Per paced store, the earliest next start as deletes actually started.
    private let started = SharedMutex<[String: NodeClock.Instant]>([:])
    private let clock: NodeClock

    init(_ stores: StoresConfiguration, clock: NodeClock) {
        self.clock = clock
        gates = Dictionary(uniqueKeysWithValues: stores.backends.compactMap { StoreGate($0, clock: clock) }.map { ($0.store, $0) })
    }

    var isEmpty: Bool { gates.isEmpty }

    /// The limited stores `stores` (each location's store name) go to, with how many deletes
    /// each, in name order (the order they are entered in, so two images never wait on each other).
    func needs(_ stores: some Sequence<String>) -> [(gate: StoreGate, deletes: Int)] {
        guard !gates.isEmpty else { return [] }
        var counts: [String: Int] = [:]
        for name in stores where gates[name] != nil { counts[name, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { (gates[$0.key]!, $0.value) }
    }

    /// Enters every gate of `needs`, in order.
    /// - Throws: `CancellationError` when cancelled first; the gates entered so far are left.
    static func enter(_ needs: [(gate: StoreGate, deletes: Int)]) async throws {
        for (index, need) in needs.enumerated() {
            do {
                try await need.gate.enter(deletes: need.deletes)
            } catch {
                for entered in needs[..<index] { entered.gate.leave() }
                throw error
            }
        }
    }

    /// Counts `needs`' deletes as starting now if every paced store among them allows a start
    /// (`1 / rate` since the last delete that actually started there, times its deletes).
    /// - Returns: nil when counted; else when to try again (nothing counted).
    func tryStart(_ needs: [(gate: StoreGate, deletes: Int)]) -> NodeClock.Instant? {
        // One lock for every store: an image on several paced stores starts on all or waits.
        started.withLock { started in
            let now = clock.now
            let blocked = needs.compactMap { need in started[need.gate.store].flatMap { $0 > now ? $0 : nil } }.max()
            if let blocked { return blocked }
            for need in needs {
                if let interval = need.gate.interval { started[need.gate.store] = now + interval * need.deletes }
            }
            return nil
        }
    }

    static func leave(_ needs: [(gate: StoreGate, deletes: Int)]) {
        for need in needs { need.gate.leave() }
    }
}
