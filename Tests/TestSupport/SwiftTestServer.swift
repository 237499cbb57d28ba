import Foundation
import Synchronization

/// A throwaway OpenStack Swift All-In-One for tests, from Debian's packages (`swift`,
/// `swift-proxy`, `swift-object`, `swift-container`, `swift-account`, `python3-swift`,
/// `memcached`), on 127.0.0.1 in a temp directory: memcached; account, container and object
/// servers on one device (`mount_check = false`, rings of 64 partitions, one replica); a
/// proxy with tempauth, s3api (region us-east-1), slo and dlo. Each server is one process
/// (`workers = 0`), marked for ``ChildWatchdog``, stopped when the test process exits.
///
/// Nothing outside its directory is written: Swift reads `/etc/swift/swift.conf` unless its
/// `SWIFT_CONF_FILE` is pointed elsewhere, so the servers start through a small launcher
/// that does that first.
///
/// Keystone v3 is a stand-in (`keystone.py`, written here, stdlib only): Debian's `keystone`
/// needs a WSGI server, a database and a bootstrap, and glance_store 5.7.0 speaks nothing but
/// v3 to Swift. It answers `POST /v3/auth/tokens` for the password method with a project
/// scope, exactly as Keystone shapes the answer (`X-Subject-Token`, `token.expires_at`, the
/// catalog), by logging in to tempauth as `PROJECT:USER` and handing out that token. The
/// catalog's object-store endpoint is tempauth's storage URL for `public` in `RegionOne`; the
/// `internal` and `admin` ones, and `RegionTwo`'s, point at a closed port, so a client that
/// ignores `swift_store_endpoint_type` or the region fails.
public final class SwiftTestServer: ThrowawayServer {
    /// tempauth accounts, `account:user` and key (all `.admin` of their account).
    public static let admin = (user: "admin:admin", key: "saio-admin-key")
    public static let glance = (user: "service:glance", key: "gl4nce-ref1-key")
    /// S3 through s3api: the access key is tempauth's `account:user`, the secret its key.
    public static let s3 = (accessKey: "s3acct:glance", secretKey: "s3cr3t-s3-key")
    /// The tempauth user behind the S3 keys: its account's containers are the S3 buckets.
    public static let s3User = (user: "s3acct:glance", key: "s3cr3t-s3-key")
    public static let s3Region = "us-east-1"

    public let directory: String
    public let proxyPort: Int
    /// The Keystone v3 stand-in (see `keystone.py`): `http://127.0.0.1:PORT/v3`.
    public let keystonePort: Int
    public var keystoneURL: String { "http://127.0.0.1:\(keystonePort)/v3" }
    /// tempauth's v1 auth URL.
    public var tempauthURL: String { "\(proxyURL)/auth/v1.0" }
    private let ports: (account: Int, container: Int, object: Int, memcached: Int, closed: Int)
    private let processes = ServerProcesses()

    /// `http://127.0.0.1:PORT`: Swift's API under `/v1/AUTH_<account>`, tempauth at
    /// `/auth/v1.0`, S3 at the root.
    public var proxyURL: String { "http://127.0.0.1:\(proxyPort)" }

    /// Starts a server of the caller's own and waits until every piece answers.
    public static func start() async throws -> SwiftTestServer {
        let server = try SwiftTestServer()
        ThrowawayServers.register(server)
        do {
            try await PostgresTestServer.offload { try server.startServers() }
            return server
        } catch {
            server.destroy()
            throw error
        }
    }

    private init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/memcached"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/swift-ring-builder")
        else {
            throw TestServerError(
                "Swift is not installed: apt-get install swift swift-proxy swift-object swift-container swift-account python3-swift memcached (./test does)"
            )
        }
        directory = "/tmp/scrubber-saio-\(getpid())-\(UUID().uuidString.prefix(8))"
        proxyPort = try Ports.stable()
        keystonePort = try Ports.stable()
        ports = (try Ports.stable(), try Ports.stable(), try Ports.stable(), try Ports.stable(), try Ports.stable())
        for sub in ["etc", "srv/node/sdb1", "log"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        try writeConfiguration()
    }

    /// Kills every server (a throwaway: nothing to shut down cleanly; the WSGI servers sit
    /// out a SIGTERM for seconds) and deletes the directory.
    public func destroy() {
        processes.killAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Set-up

    private var etc: String { directory + "/etc" }

    private func writeConfiguration() throws {
        let hash = UUID().uuidString
        try write(
            "swift.conf",
            """
            [swift-hash]
            swift_hash_path_prefix = p-\(hash)
            swift_hash_path_suffix = s-\(hash)

            [storage-policy:0]
            name = Policy-0
            default = yes
            """
        )
        for (kind, port) in [("account", ports.account), ("container", ports.container), ("object", ports.object)] {
            try write(
                "\(kind)-server.conf",
                """
                [DEFAULT]
                devices = \(directory)/srv/node
                mount_check = false
                disable_fallocate = true
                bind_ip = 127.0.0.1
                bind_port = \(port)
                workers = 0
                swift_dir = \(etc)
                log_name = \(kind)-server
                log_level = WARNING

                [pipeline:main]
                pipeline = healthcheck \(kind)-server

                [app:\(kind)-server]
                use = egg:swift#\(kind)

                [filter:healthcheck]
                use = egg:swift#healthcheck
                """
            )
        }
        let filters = [
            ("catch_errors", "catch_errors"), ("gatekeeper", "gatekeeper"), ("healthcheck", "healthcheck"),
            ("proxy-logging", "proxy_logging"), ("listing_formats", "listing_formats"), ("bulk", "bulk"),
            ("copy", "copy"), ("slo", "slo"), ("dlo", "dlo"), ("symlink", "symlink"),
        ]
        try write(
            "proxy-server.conf",
            """
            [DEFAULT]
            bind_ip = 127.0.0.1
            bind_port = \(proxyPort)
            workers = 0
            swift_dir = \(etc)
            log_name = proxy-server
            log_level = WARNING

            [pipeline:main]
            pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

            [app:proxy-server]
            use = egg:swift#proxy
            account_autocreate = true
            allow_account_management = true
            # One device per ring: never error-limit it (ten errors while a server is still
            # starting would bench it for 60 s, every request a 503).
            error_suppression_interval = 1
            error_suppression_limit = 1000000
            conn_timeout = 2
            node_timeout = 30

            [filter:tempauth]
            use = egg:swift#tempauth
            token_life = 3600
            user_admin_admin = \(Self.admin.key) .admin .reseller_admin
            user_service_glance = \(Self.glance.key) .admin
            user_s3acct_glance = \(Self.s3.secretKey) .admin

            [filter:s3api]
            use = egg:swift#s3api
            location = \(Self.s3Region)

            # Object versioning (X-Versions-Enabled; S3's bucket versioning through s3api).
            [filter:versioned_writes]
            use = egg:swift#versioned_writes
            allow_object_versioning = true

            [filter:cache]
            use = egg:swift#memcache
            memcache_servers = 127.0.0.1:\(ports.memcached)

            \(filters.map { "[filter:\($0.0)]\nuse = egg:swift#\($0.1)" }.joined(separator: "\n"))
            """
        )
        // Swift reads its hash settings and policies through the module global SWIFT_CONF_FILE.
        try write(
            "launch.py",
            """
            import sys
            from swift.common import utils
            utils.SWIFT_CONF_FILE = sys.argv[1]
            from swift.common.wsgi import run_wsgi
            sys.exit(run_wsgi(sys.argv[2], sys.argv[3], verbose=True))
            """
        )
        // What swift-ring-builder create / add / rebalance do, in one process.
        try write(
            "rings.py",
            """
            import sys
            from swift.common.ring import RingBuilder
            d = sys.argv[1]
            for kind, port in zip(('account', 'container', 'object'), map(int, sys.argv[2:5])):
                b = RingBuilder(6, 1, 1)
                b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'sdb1', 'weight': 1.0,
                           'replication_ip': '127.0.0.1', 'replication_port': port, 'meta': ''})
                b.rebalance()
                b.save('%s/%s.builder' % (d, kind))
                b.get_ring().save('%s/%s.ring.gz' % (d, kind))
            """
        )
        // Objects through Swift's API as a tempauth user (what the tests set up and check).
        try write(
            "objects.py",
            """
            import json, sys, urllib.parse, urllib.request, urllib.error
            port, user, key, command, container = sys.argv[1:6]
            def req(method, url, headers, data=None):
                r = urllib.request.Request(url, method=method, headers=headers, data=data)
                try:
                    with urllib.request.urlopen(r, timeout=60) as resp:
                        return resp.status, resp.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.read()
            r = urllib.request.Request('http://127.0.0.1:%s/auth/v1.0' % port, headers={'X-Auth-User': user, 'X-Auth-Key': key})
            with urllib.request.urlopen(r, timeout=60) as resp:
                t, url = {'X-Auth-Token': resp.headers['X-Auth-Token']}, resp.headers['X-Storage-Url']
            c = url + '/' + urllib.parse.quote(container)
            def segments(seg_container, prefix, n):
                assert req('PUT', url + '/' + seg_container, t)[0] in (201, 202)
                names = ['%s%05d' % (prefix, i + 1) for i in range(n)]
                for name in names:
                    assert req('PUT', url + '/' + seg_container + '/' + urllib.parse.quote(name), t, b'x' * 1024)[0] == 201
                return names
            if command in ('put', 'slo', 'dlo'):
                assert req('PUT', c, t)[0] in (201, 202)
            if command == 'put':
                for name in sys.argv[6:]:
                    st = req('PUT', c + '/' + urllib.parse.quote(name), t, name.encode())[0]
                    assert st == 201, (name, st)
            elif command == 'slo':  # NAME SEGMENT_CONTAINER N: N segments NAME/seg00001…, then the manifest
                name, seg_container, n = sys.argv[6], sys.argv[7], int(sys.argv[8])
                names = segments(seg_container, name + '/seg', n)
                manifest = json.dumps([{'path': '/%s/%s' % (seg_container, s)} for s in names]).encode()
                st = req('PUT', c + '/' + urllib.parse.quote(name) + '?multipart-manifest=put', t, manifest)[0]
                assert st == 201, st
            elif command == 'dlo':  # NAME SEGMENT_CONTAINER PREFIX N: N segments PREFIX00001…, then the manifest
                name, seg_container, prefix, n = sys.argv[6], sys.argv[7], sys.argv[8], int(sys.argv[9])
                segments(seg_container, prefix, n)
                h = dict(t, **{'X-Object-Manifest': seg_container + '/' + prefix})
                assert req('PUT', c + '/' + urllib.parse.quote(name), h, b'')[0] == 201
            elif command == 'delete':
                for name in sys.argv[6:]:
                    st = req('DELETE', c + '/' + urllib.parse.quote(name), t)[0]
                    assert st in (204, 404), (name, st)
            elif command == 'version':  # turn object versioning on for the container
                assert req('POST', c, dict(t, **{'X-Versions-Enabled': 'true'}))[0] == 204
            elif command == 'list':
                st, body = req('GET', c, t)
                assert st in (200, 204, 404), st
                sys.stdout.write(body.decode() if st == 200 else '')
            elif command == 'everything':  # {container: [object, …]} of the whole account
                st, body = req('GET', url + '?format=json', t)
                out = {}
                for item in (json.loads(body) if st == 200 else []):
                    st, body = req('GET', url + '/' + urllib.parse.quote(item['name']) + '?format=json', t)
                    out[item['name']] = sorted(o['name'] for o in json.loads(body)) if st == 200 else []
                sys.stdout.write(json.dumps(out))
            """
        )
        try write(
            "keystone.py",
            """
            import json, sys, threading, urllib.request, urllib.error, uuid, datetime, http.server, socketserver
            port, tempauth, closed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
            stats = {'tokens': 0, 'refused': 0, 'invalid_next': 0}
            lock = threading.Lock()
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def log_message(self, *a): pass
                def reply(self, code, body, headers={}):
                    data = json.dumps(body).encode()
                    self.send_response(code)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    for k, v in headers.items(): self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                def refuse(self):
                    with lock: stats['refused'] += 1
                    self.reply(401, {'error': {'code': 401, 'title': 'Unauthorized', 'message': 'The request you have made requires authentication.'}})
                def do_GET(self):
                    if self.path == '/_stats':
                        with lock: return self.reply(200, stats)
                    self.reply(404, {'error': {'code': 404, 'title': 'Not Found', 'message': 'The resource could not be found.'}})
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                    if self.path == '/_invalid_next':
                        with lock: stats['invalid_next'] += 1
                        return self.reply(200, stats)
                    if self.path != '/v3/auth/tokens':
                        return self.reply(404, {'error': {'code': 404, 'title': 'Not Found', 'message': 'The resource could not be found.'}})
                    try:
                        auth = json.loads(body)['auth']
                        assert auth['identity']['methods'] == ['password']
                        user = auth['identity']['password']['user']
                        project = auth['scope']['project']
                        name, password, account = user['name'], user['password'], project['name']
                        for d in (user['domain'], project['domain']):
                            assert d.get('id') == 'default' or d.get('name') == 'Default', d
                    except Exception:
                        return self.refuse()
                    r = urllib.request.Request(tempauth, headers={'X-Auth-User': account + ':' + name, 'X-Auth-Key': password})
                    try:
                        with urllib.request.urlopen(r, timeout=30) as resp:
                            token, storage = resp.headers['X-Auth-Token'], resp.headers['X-Storage-Url']
                            life = int(resp.headers.get('X-Auth-Token-Expires') or 3600)
                    except urllib.error.HTTPError as e:
                        if e.code == 401: return self.refuse()
                        return self.reply(503, {'error': {'code': 503, 'title': 'Service Unavailable', 'message': str(e)}})
                    with lock:
                        stats['tokens'] += 1
                        if stats['invalid_next'] > 0:
                            stats['invalid_next'] -= 1
                            token = 'AUTH_tk' + uuid.uuid4().hex
                    closed_url = storage.replace(storage.split('/')[2], '127.0.0.1:%d' % closed)
                    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                    iso = lambda t: t.strftime('%Y-%m-%dT%H:%M:%S.%f') + 'Z'
                    ep = lambda i, u, region='RegionOne': {'id': uuid.uuid4().hex, 'interface': i, 'region': region, 'region_id': region, 'url': u}
                    me = 'http://127.0.0.1:%d/v3' % port
                    self.reply(201, {'token': {
                        'methods': ['password'], 'issued_at': iso(now), 'expires_at': iso(now + datetime.timedelta(seconds=life)),
                        'user': {'id': uuid.uuid5(uuid.NAMESPACE_URL, name).hex, 'name': name, 'domain': {'id': 'default', 'name': 'Default'}},
                        'project': {'id': uuid.uuid5(uuid.NAMESPACE_URL, account).hex, 'name': account, 'domain': {'id': 'default', 'name': 'Default'}},
                        'roles': [{'id': 'r1', 'name': 'admin'}], 'audit_ids': [uuid.uuid4().hex[:22]],
                        'catalog': [
                            {'id': 'k', 'type': 'identity', 'name': 'keystone', 'endpoints': [ep(i, me) for i in ('public', 'internal', 'admin')]},
                            {'id': 's', 'type': 'object-store', 'name': 'swift', 'endpoints': [
                                ep('public', storage), ep('internal', closed_url), ep('admin', closed_url), ep('public', closed_url, 'RegionTwo')]},
                        ]}}, {'X-Subject-Token': token})
            class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
                daemon_threads = True
                allow_reuse_address = True
            S(('127.0.0.1', port), H).serve_forever()
            """
        )
        // Every piece answers: the servers' healthchecks, tempauth, and a container round trip.
        try write(
            "probe.py",
            """
            import sys, urllib.request, urllib.error
            ports, user, key, keystone = sys.argv[1:5], sys.argv[5], sys.argv[6], sys.argv[7]
            assert urllib.request.urlopen('http://127.0.0.1:%s/_stats' % keystone, timeout=5).status == 200
            def req(method, url, headers={}, data=None):
                r = urllib.request.Request(url, method=method, headers=headers, data=data)
                try:
                    with urllib.request.urlopen(r, timeout=5) as resp:
                        return resp.status, resp.headers
                except urllib.error.HTTPError as e:
                    return e.code, e.headers
            for port in ports:
                assert req('GET', 'http://127.0.0.1:%s/healthcheck' % port)[0] == 200, port
            proxy = 'http://127.0.0.1:%s' % ports[0]
            st, h = req('GET', proxy + '/auth/v1.0', {'X-Auth-User': user, 'X-Auth-Key': key})
            assert st == 200, ('tempauth', st)
            t, url = {'X-Auth-Token': h['X-Auth-Token']}, h['X-Storage-Url']
            assert req('PUT', url + '/probe', t)[0] in (201, 202)
            assert req('PUT', url + '/probe/o', t, b'probe')[0] == 201
            assert req('DELETE', url + '/probe/o', t)[0] == 204
            assert req('DELETE', url + '/probe', t)[0] == 204
            """
        )
    }

    // MARK: Objects, through Swift's own API (tempauth)

    /// Runs `objects.py` as `user`: `put CONTAINER NAME…` (creating the container; each object's
    /// data is its name), or `list CONTAINER` (one name a line).
    private func objects(_ user: (user: String, key: String), _ arguments: [String]) throws -> String {
        try PostgresTestServer.exec("/usr/bin/python3", ["-s", etc + "/objects.py", "\(proxyPort)", user.user, user.key] + arguments)
    }

    /// Puts objects named `names` into `container` of `user`'s account (created if need be).
    public func put(_ names: [String], in container: String, as user: (user: String, key: String)) async throws {
        _ = try await PostgresTestServer.offload { try self.objects(user, ["put", container] + names) }
    }

    /// The object names in `container` of `user`'s account, sorted.
    public func list(_ container: String, as user: (user: String, key: String)) async throws -> [String] {
        let text = try await PostgresTestServer.offload { try self.objects(user, ["list", container]) }
        return text.split(separator: "\n").map(String.init).sorted()
    }

    /// Deletes objects `names` from `container` (plain DELETEs; an absent one is fine).
    public func remove(_ names: [String], from container: String, as user: (user: String, key: String)) async throws {
        _ = try await PostgresTestServer.offload { try self.objects(user, ["delete", container] + names) }
    }

    /// Turns object versioning on for `container` (for S3, the bucket of that name).
    public func enableVersioning(_ container: String, as user: (user: String, key: String)) async throws {
        _ = try await PostgresTestServer.offload { try self.objects(user, ["version", container]) }
    }

    /// Puts a static large object `name` into `container`: `count` segments of 1 KiB named
    /// `NAME/seg00001…` in `segments`, then its manifest.
    public func putStaticLargeObject(
        _ name: String,
        in container: String,
        segments: String,
        count: Int,
        as user: (user: String, key: String)
    ) async throws {
        _ = try await PostgresTestServer.offload { try self.objects(user, ["slo", container, name, segments, "\(count)"]) }
    }

    /// Puts a dynamic large object `name` into `container`: `count` segments of 1 KiB named
    /// `PREFIX00001…` in `segments`, then the manifest (`X-Object-Manifest: SEGMENTS/PREFIX`).
    public func putDynamicLargeObject(
        _ name: String,
        in container: String,
        segments: String,
        prefix: String,
        count: Int,
        as user: (user: String, key: String)
    ) async throws {
        _ = try await PostgresTestServer.offload { try self.objects(user, ["dlo", container, name, segments, prefix, "\(count)"]) }
    }

    /// Every container of `user`'s account with its objects' names, sorted.
    public func everything(as user: (user: String, key: String)) async throws -> [String: [String]] {
        let text = try await PostgresTestServer.offload { try self.objects(user, ["everything", "-"]) }
        return try JSONDecoder().decode([String: [String]].self, from: Data(text.utf8))
    }

    /// The Keystone stand-in's counts: tokens issued, logins refused.
    public func keystoneStats() async throws -> (tokens: Int, refused: Int) {
        let text = try await PostgresTestServer.offload {
            try PostgresTestServer.exec(
                "/usr/bin/python3",
                [
                    "-s", "-c",
                    "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:\(self.keystonePort)/_stats').read().decode())",
                ]
            )
        }
        let stats = try JSONDecoder().decode([String: Int].self, from: Data(text.utf8))
        return (stats["tokens"] ?? -1, stats["refused"] ?? -1)
    }

    /// Makes the stand-in's next token one Swift does not know (as an expired or revoked one).
    public func invalidateNextToken() async throws {
        _ = try await PostgresTestServer.offload {
            try PostgresTestServer.exec(
                "/usr/bin/python3",
                [
                    "-s", "-c",
                    "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:\(self.keystonePort)/_invalid_next', data=b''))",
                ]
            )
        }
    }

    /// Kills the proxy (connections are refused until ``startProxy()``).
    public func stopProxy() {
        processes.kill(named: "proxy")
    }

    /// Starts the proxy again and waits until it answers.
    public func startProxy() async throws {
        try await PostgresTestServer.offload {
            try self.spawn(
                "proxy",
                "/usr/bin/python3",
                ["-s", self.etc + "/launch.py", self.etc + "/swift.conf", self.etc + "/proxy-server.conf", "proxy-server"]
            )
            try self.waitUntilReady()
        }
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: etc + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Blocking: rings, then the processes, then the probe until it passes.
    private func startServers() throws {
        try PostgresTestServer.exec(
            "/usr/bin/python3",
            ["-s", etc + "/rings.py", etc, "\(ports.account)", "\(ports.container)", "\(ports.object)"]
        )
        try spawn(
            "memcached",
            "/usr/bin/memcached",
            ["-l", "127.0.0.1", "-p", "\(ports.memcached)", "-U", "0", "-m", "64", "-c", "1024", "-u", "nobody"]
        )
        for kind in ["account", "container", "object", "proxy"] {
            try spawn(
                kind,
                "/usr/bin/python3",
                ["-s", etc + "/launch.py", etc + "/swift.conf", etc + "/\(kind)-server.conf", "\(kind)-server"]
            )
        }
        try spawn("keystone", "/usr/bin/python3", ["-s", etc + "/keystone.py", "\(keystonePort)", tempauthURL, "\(ports.closed)"])
        try waitUntilReady()
    }

    /// Blocking: the probe until it passes (or a server exits).
    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(patienceSeconds)
        var last = ""
        while Date() < deadline {
            do {
                try PostgresTestServer.exec(
                    "/usr/bin/python3",
                    [
                        "-s", etc + "/probe.py", "\(proxyPort)", "\(ports.account)", "\(ports.container)",
                        "\(ports.object)", Self.admin.user, Self.admin.key, "\(keystonePort)",
                    ]
                )
                return
            } catch {
                last = "\(error)"
            }
            let exited = processes.exited
            if !exited.isEmpty {
                throw TestServerError("Swift's \(exited.joined(separator: ", ")) exited: \(log(exited[0]))")
            }
            usleep(300_000)
        }
        throw TestServerError("Swift did not answer within \(patienceSeconds) s: \(last)")
    }

    /// The tail of a server's log.
    public func log(_ name: String) -> String {
        String(((try? String(contentsOfFile: directory + "/log/\(name).log", encoding: .utf8)) ?? "").suffix(2000))
    }

    /// Starts `program` in the background, output to `log/NAME.log`, marked for the watchdog.
    private func spawn(_ name: String, _ program: String, _ arguments: [String]) throws {
        try processes.spawn(name, program, arguments, environment: ["PYTHONPATH": nil], output: directory + "/log/\(name).log")
    }
}
