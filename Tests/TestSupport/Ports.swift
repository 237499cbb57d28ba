import Foundation
import Synchronization

/// Free loopback TCP ports for the servers tests start.
public enum Ports {
    /// A port no one listens on now, below the kernel's ephemeral range
    /// (`net.ipv4.ip_local_port_range`), never handed out twice in one process: for a server
    /// the test stops and starts again on the same port. An ephemeral port may be taken while
    /// the server is down, by any client's outgoing connection (seen: a PostgreSQL restart
    /// under a cluster of nodes failed to bind).
    public static func stable() throws -> Int {
        let low = ephemeralLow()
        let range = 10_000..<max(10_001, low)
        for _ in 0..<200 {
            let port = Int.random(in: range)
            let fresh = given.withLock { $0.insert(port).inserted }
            if fresh, try bindable(port) { return port }
        }
        throw TestServerError("no free port in \(range)")
    }

    /// A port no one listens on now (the kernel's choice for an ephemeral bind).
    public static func ephemeral() throws -> Int {
        try bound(0)
    }

    private static let given = Mutex<Set<Int>>([])

    private static func ephemeralLow() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    private static func bindable(_ port: Int) throws -> Bool {
        (try? bound(port)) != nil
    }

    /// Binds 127.0.0.1:`port` (0: the kernel's choice), closes it, and returns the port.
    private static func bound(_ port: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw TestServerError("cannot bind 127.0.0.1:\(port)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
