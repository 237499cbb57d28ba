/// A `HOST:PORT` to listen on (`serve --listen`, `metrics_listen`). `[::1]:9180` for IPv6; an
/// empty host is loopback; port 0 asks for any free port.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// - Returns: nil unless `text` is `HOST:PORT` with a port in 0…65535.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // What is left must be one name or address, not a URL or a list.
        guard !host.contains(where: { $0 == "/" || $0 == " " || $0 == "," }) else { return nil }
        self.init(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach it: `localhost`, 127.0.0.0/8 or `::1`. A name that
    /// merely resolves to loopback does not count: what it resolves to can change.
    public var isLoopback: Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
