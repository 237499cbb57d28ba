import Foundation

/// Starts `program` in the background with posix_spawn and returns its pid: stdin from
/// /dev/null, stdout and stderr both to `output` (appended; /dev/null when nil), and none of
/// the test process's other descriptors (a flood test holds a thousand, which would count
/// against a server's own limit: "insufficient file descriptors", seen), and no blocked signal.
/// `environment` is the whole environment the process gets.
/// - Parameters:
///   - errors: stderr to this file instead (appended), to read stdout apart from it.
///   - newSession: in a session of its own (what outlives the runner).
///   - newProcessGroup: in a process group of its own (pgid = pid), so that `kill(-pid, …)`
///     reaches the children it starts too.
func spawnProcess(
    _ program: String,
    _ arguments: [String],
    environment: [String: String],
    output: String?,
    errors: String? = nil,
    newSession: Bool = false,
    newProcessGroup: Bool = false
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if let errors {
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    } else {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    try closeInheritedDescriptors(&actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // The child starts with no signal blocked: the spawning thread may block some (Swift's and
    // NIO's threads block SIGTERM, among others), and a child that inherits that mask sleeps
    // through a polite stop (seen: a Python child ignoring SIGTERM).
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var flags = Int16(POSIX_SPAWN_SETSIGMASK)
    if newSession { flags |= 0x80 }  // POSIX_SPAWN_SETSID (glibc; hidden without _GNU_SOURCE)
    if newProcessGroup { flags |= Int16(POSIX_SPAWN_SETPGROUP) }  // the group 0: its own pid
    posix_spawnattr_setflags(&attributes, flags)
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0)=\($1)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
    guard spawned == 0 else { throw TestServerError("cannot start \(program): \(String(cString: strerror(spawned)))") }
    return pid
}

/// Adds a file action that closes every descriptor from 3 up in the spawned process: glibc's
/// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift does not see
/// (it is declared for `_GNU_SOURCE` only), looked up at run time.
func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        throw TestServerError("glibc has no posix_spawn_file_actions_addclosefrom_np (2.34 or later is needed)")
    }
    let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
    let status = addCloseFrom(&actions, 3)
    guard status == 0 else { throw TestServerError("posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(status)))") }
}
