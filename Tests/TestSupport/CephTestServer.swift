import Foundation
import Synchronization

/// A throwaway one-node Ceph cluster for tests, from Debian's `ceph-mon ceph-osd ceph-common`,
/// on 127.0.0.1 in a temp directory: one monitor and one OSD on the in-memory object store
/// (`osd objectstore = memstore`: nothing on disk but the monitor's database and logs), no
/// manager (librados and librbd need none), pool size 1, cephx with keys made here:
/// `client.admin` (everything) and `client.glance` (`profile rbd`, what a Glance deployment
/// gives its store user). Pools `images` and `vms`, `rbd pool init`ed. `paxos propose interval
/// = 0.05` brings the start to about 2 s (14 s with the default). Every daemon is marked for
/// ``ChildWatchdog`` and killed when the test process exits.
public final class CephTestServer: ThrowawayServer {
    public let directory: String
    public let fsid: String
    /// `ceph.conf`: the monitor's address and `keyring = DIR/$cluster.$name.keyring`, so a
    /// client finds its key from the conf alone.
    public var conf: String { directory + "/ceph.conf" }
    public static let glanceUser = "glance"
    public static let pools = ["images", "vms"]
    private let ports: (v2: Int, v1: Int)
    private let processes = ServerProcesses()

    public static func start() async throws -> CephTestServer {
        let server = try CephTestServer()
        ThrowawayServers.register(server)
        do {
            try await PostgresTestServer.offload { try server.startDaemons() }
            return server
        } catch {
            server.destroy()
            throw error
        }
    }

    private init() throws {
        for tool in ["ceph-mon", "ceph-osd", "ceph-authtool", "monmaptool", "rbd"]
        where !FileManager.default.isExecutableFile(atPath: "/usr/bin/" + tool) {
            throw TestServerError(
                "Ceph is not installed (no /usr/bin/\(tool)): apt-get install ceph-mon ceph-osd ceph-common (./test does)"
            )
        }
        directory = "/tmp/scrubber-ceph-\(getpid())-\(UUID().uuidString.prefix(8))"
        fsid = UUID().uuidString.lowercased()
        ports = (try Ports.stable(), try Ports.stable())
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Kills the daemons and deletes the directory.
    public func destroy() {
        processes.killAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills the monitor (a client that connects now times out).
    public func killMonitor() {
        processes.kill(named: "mon.a")
    }

    /// Runs the `rbd` CLI as client.admin (`rbd create`, `snap create`, `clone`, `ls`, …) and
    /// returns its output.
    @discardableResult
    public func rbd(_ arguments: [String]) async throws -> String {
        try await PostgresTestServer.offload {
            try PostgresTestServer.exec("/usr/bin/rbd", ["--conf", self.conf, "--id", "admin"] + arguments)
        }
    }

    /// Makes an image as glance_store's `add` does: `POOL/NAME` (1 MiB unless told), a snapshot
    /// `snap`, protected.
    public func glanceImage(_ name: String, pool: String = "images", megabytes: Int = 1) async throws {
        try await rbd(["create", "--size", "\(megabytes)M", "\(pool)/\(name)"])
        try await rbd(["snap", "create", "\(pool)/\(name)@snap"])
        try await rbd(["snap", "protect", "\(pool)/\(name)@snap"])
    }

    /// The images in `pool`, sorted.
    public func images(in pool: String) async throws -> [String] {
        try await rbd(["ls", pool]).split(separator: "\n").map(String.init).sorted()
    }

    /// The images in `pool`'s trash, by name, sorted.
    public func trash(in pool: String) async throws -> [String] {
        try await rbd(["trash", "ls", "--format", "json", pool]).data(using: .utf8)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [[String: Any]] }?
            .compactMap { $0["name"] as? String }.sorted() ?? []
    }

    /// The snapshots of `pool/image`, by name.
    public func snapshots(of image: String, in pool: String = "images") async throws -> [String] {
        try await rbd(["snap", "ls", "--format", "json", "\(pool)/\(image)"]).data(using: .utf8)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [[String: Any]] }?
            .compactMap { $0["name"] as? String }.sorted() ?? []
    }

    /// Holds `pool/image` open in another client (librbd through Debian's python3-rbd) until
    /// ``release(_:)``: the image has a watcher.
    public func holdOpen(_ image: String, pool: String = "images") throws -> pid_t {
        let script = """
            import rados, rbd, signal, sys, time
            c = rados.Rados(conffile=sys.argv[1], rados_id='admin')
            c.connect()
            image = rbd.Image(c.open_ioctx(sys.argv[2]), sys.argv[3])
            def close(*_):
                image.close()
                c.shutdown()
                sys.exit(0)
            signal.signal(signal.SIGTERM, close)
            print('open', flush=True)
            time.sleep(3600)
            """
        return try processes.spawn(
            "hold",
            "/usr/bin/python3",
            ["-s", "-c", script, conf, pool, image],
            output: directory + "/hold-\(image).out"
        )
    }

    /// Closes the image ``holdOpen(_:pool:)`` holds (its watch ends at once, not after the
    /// OSD's 30 s watch timeout as when a client dies).
    public func release(_ holder: pid_t) {
        kill(holder, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<300 where waitpid(holder, &status, WNOHANG) == 0 { usleep(20_000) }
        if kill(holder, 0) == 0 {  // still there after 6 s: the watch lapses on the OSD's timeout instead
            kill(holder, SIGKILL)
            waitpid(holder, &status, 0)
        }
        processes.forget(holder)
    }

    // MARK: Set-up

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }

    private func startDaemons() throws {
        let d = directory
        let monitors = "[v2:127.0.0.1:\(ports.v2),v1:127.0.0.1:\(ports.v1)]"
        try write(
            "ceph.conf",
            """
            [global]
            fsid = \(fsid)
            mon host = \(monitors)
            public addr = 127.0.0.1
            cluster addr = 127.0.0.1
            ms bind ipv4 = true
            ms bind ipv6 = false
            auth cluster required = cephx
            auth service required = cephx
            auth client required = cephx
            auth allow insecure global id reclaim = false
            keyring = \(d)/$cluster.$name.keyring
            log file = \(d)/$name.log
            log to stderr = false
            err to stderr = false
            mon cluster log file = \(d)/cluster.log
            admin socket = \(d)/$name.$pid.asok
            pid file = \(d)/$name.pid
            run dir = \(d)
            crash dir = \(d)/crash
            mon data = \(d)/$name
            osd data = \(d)/$name
            osd objectstore = memstore
            memstore device bytes = 1073741824
            osd pool default size = 1
            osd pool default min size = 1
            osd pool default pg num = 8
            osd pool default pgp num = 8
            osd pool default pg autoscale mode = off
            osd crush chooseleaf type = 0
            mon allow pool size one = true
            paxos propose interval = 0.05
            paxos min wait = 0.01
            mon allow pool delete = true
            mon warn on pool no redundancy = false
            mon data avail warn = 1
            mon data avail crit = 0
            osd op num shards = 2
            osd op num threads per shard = 1
            ms async op threads = 2

            [mon]
            keyring = \(d)/$name/keyring

            """
        )  // Ceph's parser wants the last line ended
        func tool(_ program: String, _ arguments: [String]) throws {
            try PostgresTestServer.exec("/usr/bin/" + program, arguments, environment: ["CEPH_CONF": conf])
        }
        let monitorKeyring = d + "/mon.keyring"
        try tool("ceph-authtool", ["--create-keyring", monitorKeyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"])
        try tool(
            "ceph-authtool",
            [
                "--create-keyring", d + "/ceph.client.admin.keyring", "--gen-key", "-n", "client.admin",
                "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *",
            ]
        )
        try tool(
            "ceph-authtool",
            [
                "--create-keyring", d + "/ceph.client.glance.keyring", "--gen-key", "-n", "client.glance",
                "--cap", "mon", "profile rbd", "--cap", "osd", "profile rbd", "--cap", "mgr", "profile rbd",
            ]
        )
        try tool(
            "ceph-authtool",
            [
                "--create-keyring", d + "/ceph.osd.0.keyring", "--gen-key", "-n", "osd.0",
                "--cap", "mon", "allow profile osd", "--cap", "mgr", "allow profile osd", "--cap", "osd", "allow *",
            ]
        )
        for name in ["client.admin", "client.glance", "osd.0"] {
            try tool("ceph-authtool", [monitorKeyring, "--import-keyring", d + "/ceph.\(name).keyring"])
        }
        try tool("monmaptool", ["--create", "--fsid", fsid, "--addv", "a", monitors, d + "/monmap"])
        try tool("ceph-mon", ["--conf", conf, "--mkfs", "-i", "a", "--monmap", d + "/monmap", "--keyring", monitorKeyring])
        try spawn("mon.a", "/usr/bin/ceph-mon", ["--conf", conf, "-f", "-i", "a"])
        try FileManager.default.createDirectory(atPath: d + "/osd.0", withIntermediateDirectories: true)
        let osdUUID = UUID().uuidString.lowercased()
        try tool("ceph-osd", ["--conf", conf, "--mkfs", "-i", "0", "--osd-uuid", osdUUID, "--no-mon-config"])
        // Register osd.0 (with the monitor up), start it, then the pools and a probe.
        try write("setup.py", Self.setup)
        try tool("python3", ["-s", d + "/setup.py", conf, "osd", "\(patienceSeconds)", osdUUID])
        try spawn("osd.0", "/usr/bin/ceph-osd", ["--conf", conf, "-f", "-i", "0"])
        try tool("python3", ["-s", d + "/setup.py", conf, "pools", "\(patienceSeconds)"] + Self.pools)
    }

    /// Registers the OSD (`osd`), or makes the pools and waits until RBD works in them (`pools`),
    /// through Debian's python3-rados and python3-rbd (they come with ceph-common).
    private static let setup = """
        import json, sys, time
        import rados, rbd
        conf, phase, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
        args = sys.argv[4:]
        def connect():
            last = None
            while time.monotonic() < deadline:
                c = rados.Rados(conffile=conf, rados_id='admin')
                for k in ('client_mount_timeout', 'rados_mon_op_timeout', 'rados_osd_op_timeout'):
                    c.conf_set(k, '10')
                try:
                    c.connect(timeout=5)
                    return c
                except rados.Error as e:
                    last = e
                    c.shutdown()
                    time.sleep(0.2)
            sys.exit('cannot connect to the monitor: %s' % last)
        def mon(c, prefix, **kw):
            kw.update(prefix=prefix, format='json')
            ret, out, err = c.mon_command(json.dumps(kw), b'', timeout=10)
            if ret != 0:
                raise RuntimeError('%s: %s (%d)' % (prefix, err, ret))
            return json.loads(out) if out.strip() else None
        def until(what, check):
            last = None
            while time.monotonic() < deadline:
                try:
                    if check():
                        return
                except Exception as e:
                    last = e
                time.sleep(0.1)
            sys.exit('timed out waiting for %s (%s)' % (what, last))
        c = connect()
        if phase == 'osd':
            mon(c, 'osd new', uuid=args[0], id=0)
            sys.exit(0)
        until('osd.0 up', lambda: any(o['osd'] == 0 and o['up'] for o in mon(c, 'osd dump')['osds']))
        for pool in args:
            mon(c, 'osd pool create', pool=pool, pg_num=8, pgp_num=8, pool_type='replicated')
        c.wait_for_latest_osdmap()
        def write(pool):
            with c.open_ioctx(pool) as io:
                io.write_full('probe', b'x')
                io.remove_object('probe')
            return True
        for pool in args:
            until('a write to ' + pool, lambda: write(pool))
            with c.open_ioctx(pool) as io:
                rbd.RBD().pool_init(io, True)
        def image():
            with c.open_ioctx(args[0]) as io:
                rbd.RBD().create(io, 'probe', 4096)
                rbd.RBD().remove(io, 'probe')
            return True
        until('an RBD image in ' + args[0], image)
        c.shutdown()
        """

    private func spawn(_ name: String, _ program: String, _ arguments: [String]) throws {
        try processes.spawn(name, program, arguments, environment: ["CEPH_CONF": conf], output: directory + "/\(name).out")
    }
}
