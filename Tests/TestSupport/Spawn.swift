import Foundation

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
