import Foundation
import TestSupport

// bench-servers swift|ceph: the tests' own throwaway Swift All-In-One (tempauth, s3api, slo,
// dlo, the Keystone v3 stand-in) or one-node Ceph, started for a benchmark by hand (never for
// production). Prints `export NAME=VALUE` lines, then runs until SIGINT or SIGTERM and removes
// everything; if it is killed, the test watchdog stops the servers.

let usage = "usage: bench-servers swift|ceph   (prints export lines; SIGINT or SIGTERM stops and removes the servers)"
let stop: () -> Void
switch CommandLine.arguments.dropFirst().first {
case "swift":
    let server = try await SwiftTestServer.start()
    print(
        """
        export SAIO_PROXY_URL=\(server.proxyURL)
        export SAIO_KEYSTONE_URL=\(server.keystoneURL)
        export SAIO_SWIFT_USER=\(SwiftTestServer.glance.user) SAIO_SWIFT_KEY=\(SwiftTestServer.glance.key)
        export SAIO_S3_ACCESS_KEY=\(SwiftTestServer.s3.accessKey) SAIO_S3_SECRET_KEY=\(SwiftTestServer.s3.secretKey)
        """
    )
    stop = server.destroy
case "ceph":
    let server = try await CephTestServer.start()
    print(
        """
        export CEPH_CONF=\(server.conf)
        export CEPH_FSID=\(server.fsid)
        export CEPH_USER=\(CephTestServer.glanceUser)
        """
    )
    stop = server.destroy
default:
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
fflush(nil)  // every stream: the export lines reach a pipe before we wait
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let done = DispatchSemaphore(value: 0)
let sources = [SIGINT, SIGTERM].map { number in
    let source = DispatchSource.makeSignalSource(signal: number)
    source.setEventHandler { done.signal() }
    source.resume()
    return source
}
done.wait()
stop()
_ = sources
