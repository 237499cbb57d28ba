/// How the leader shares the backlog among live nodes: weighted rendezvous hashing, so an
/// image's preferred node is stable and a join or leave moves only about 1/N of new work,
/// with a bounded window of unclaimed work per node, so no node idles while another has a
/// backlog.
///
/// A pure function of its inputs: the leader loop, the simulation tests and the benchmarks all
/// call the same code.
public struct Partitioner: Sendable {
    /// A node the leader may assign to.
    public struct Node: Sendable, Hashable {
        public var id: String
        /// `scrub_pool_size`: the node's weight.
        public var capacity: Int
        /// Images assigned to it and not yet claimed.
        public var queued: Int

        public init(id: String, capacity: Int, queued: Int) {
            self.id = id
            self.capacity = capacity
            self.queued = queued
        }
    }

    /// Unclaimed images a node may hold at most.
    public var window: Int

    public init(window: Int) {
        precondition(window > 0, "window must be positive")
        self.window = window
    }

    /// Weighted rendezvous score of `image` on `node` (higher wins): `capacity / −ln(u)` with
    /// `u` a stable hash of both ids in (0, 1). Stable across processes and machines.
    public static func score(node: String, image: String, capacity: Int) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64
        for byte in node.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x0000_0100_0000_01b3
        for byte in image.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        // splitmix64 finaliser: FNV alone is weak in its high bits.
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        let unit = (Double(hash >> 11) + 0.5) / 9_007_199_254_740_992.0  // (0, 1)
        return Double(max(capacity, 1)) / -log(unit)
    }

    /// The node `image` belongs to when windows are ignored: its rendezvous winner.
    public static func preferredNode(for image: String, among nodes: [Node]) -> String? {
        nodes.max { score(node: $0.id, image: image, capacity: $0.capacity) < score(node: $1.id, image: image, capacity: $1.capacity) }?.id
    }

    /// Assigns `images` (oldest first) to `nodes`: each goes to the highest-scoring node that
    /// still has room in its window. Images that fit nowhere are left for a later round.
    /// - Returns: `(image, node)` pairs, in the order of `images`.
    public func assign(_ images: [String], to nodes: [Node]) -> [(image: String, node: String)] {
        var room = nodes.map { max(0, window - $0.queued) }
        var result: [(image: String, node: String)] = []
        result.reserveCapacity(images.count)
        for image in images {
            guard room.contains(where: { $0 > 0 }) else { break }
            var best = -1
            var bestScore = -Double.infinity
            for (i, node) in nodes.enumerated() where room[i] > 0 {
                let s = Self.score(node: node.id, image: image, capacity: node.capacity)
                if s > bestScore {
                    bestScore = s
                    best = i
                }
            }
            room[best] -= 1
            result.append((image, nodes[best].id))
        }
        return result
    }

    /// When nothing is left to assign: moves from the fullest queues to empty ones, so no node
    /// idles while another has a backlog. Each idle node gets half the difference, at most
    /// `batch`; queues of `batch` or fewer are left alone (moving them would not pay).
    public func rebalance(_ nodes: [Node], batch: Int) -> [(from: String, to: String, count: Int)] {
        var queued = Dictionary(nodes.map { ($0.id, $0.queued) }, uniquingKeysWith: { a, _ in a })
        var result: [(from: String, to: String, count: Int)] = []
        for idle in nodes where idle.queued == 0 {
            guard let busiest = nodes.filter({ $0.id != idle.id }).max(by: { queued[$0.id]! < queued[$1.id]! }),
                queued[busiest.id]! > batch
            else { break }
            let count = min(batch, queued[busiest.id]! / 2)
            queued[busiest.id]! -= count
            queued[idle.id]! += count
            result.append((busiest.id, idle.id, count))
        }
        return result
    }

    /// Free room over all nodes: how many eligible images the leader should fetch this round.
    public func room(_ nodes: [Node]) -> Int {
        nodes.reduce(0) { $0 + max(0, window - $1.queued) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
