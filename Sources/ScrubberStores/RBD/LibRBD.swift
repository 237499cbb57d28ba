import Foundation

/// librados and librbd (Ceph's C API), loaded with `dlopen` the first time an rbd store is
/// used: a file-only or object-store-only install needs no Ceph libraries, and the build needs
/// no Ceph headers. Only the calls the scrubber makes are bound, with the C signatures of
/// `rados/librados.h` and `rbd/librbd.h` (Ceph 16, "Pacific"; stable since 14).
///
/// Every handle (`rados_t`, `rados_ioctx_t`, `rbd_image_t`) is a `void *`. Every call blocks:
/// callers run them on threads of their own (``RBDStore``), never on Swift's cooperative pool.
/// Errors are negative errno values.
struct LibRBD: Sendable {
    typealias Handle = UnsafeMutableRawPointer
    typealias CString = UnsafePointer<CChar>

    let radosCreate: @convention(c) (UnsafeMutablePointer<Handle?>, CString?) -> Int32
    let radosConfReadFile: @convention(c) (Handle?, CString?) -> Int32
    let radosConfSet: @convention(c) (Handle?, CString?, CString?) -> Int32
    let radosConnect: @convention(c) (Handle?) -> Int32
    let radosShutdown: @convention(c) (Handle?) -> Void
    let radosIoctxCreate: @convention(c) (Handle?, CString?, UnsafeMutablePointer<Handle?>) -> Int32
    let radosIoctxDestroy: @convention(c) (Handle?) -> Void
    let radosGetFSID: @convention(c) (Handle?, UnsafeMutablePointer<CChar>?, Int) -> Int32

    let open: @convention(c) (Handle?, CString?, UnsafeMutablePointer<Handle?>, CString?) -> Int32
    let openReadOnly: @convention(c) (Handle?, CString?, UnsafeMutablePointer<Handle?>, CString?) -> Int32
    let close: @convention(c) (Handle?) -> Int32
    let getSize: @convention(c) (Handle?, UnsafeMutablePointer<UInt64>) -> Int32
    let snapUnprotect: @convention(c) (Handle?, CString?) -> Int32
    let snapRemove: @convention(c) (Handle?, CString?) -> Int32
    let remove: @convention(c) (Handle?, CString?) -> Int32
    let trashMove: @convention(c) (Handle?, CString?, UInt64) -> Int32
    /// `rbd_list_children3(image, rbd_linked_image_spec_t *images, size_t *max)`.
    let listChildren: @convention(c) (Handle?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>) -> Int32
    let listChildrenCleanup: @convention(c) (UnsafeMutableRawPointer?, Int) -> Void
    /// `rbd_watchers_list(image, rbd_image_watcher_t *watchers, size_t *max)`.
    let listWatchers: @convention(c) (Handle?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>) -> Int32
    let listWatchersCleanup: @convention(c) (UnsafeMutableRawPointer?, Int) -> Void

    // For writing images (tests and `scrubber bench`): what glance_store's add does.
    let create: @convention(c) (Handle?, CString?, UInt64, UnsafeMutablePointer<Int32>) -> Int32
    let snapCreate: @convention(c) (Handle?, CString?) -> Int32
    let snapProtect: @convention(c) (Handle?, CString?) -> Int32
    /// `rbd_clone(p_ioctx, p_name, p_snap, c_ioctx, c_name, features, int *c_order)`: the order
    /// pointer must not be NULL (librbd writes through it).
    let clone: @convention(c) (Handle?, CString?, CString?, Handle?, CString?, UInt64, UnsafeMutablePointer<Int32>) -> Int32

    /// Layouts of the two structs the list calls fill (LP64: every pointer 8 bytes).
    /// `rbd_linked_image_spec_t { int64_t pool_id; char *pool_name; char *pool_namespace;
    /// char *image_id; char *image_name; bool trash; }`
    static let linkedImageSpecSize = 48
    static let linkedImageSpecPoolName = 8
    static let linkedImageSpecImageName = 32
    static let linkedImageSpecTrash = 40
    /// `rbd_image_watcher_t { char *addr; int64_t id; uint64_t cookie; }`
    static let watcherSize = 24

    /// The libraries, loaded once; the error says what to install.
    static let shared: Result<LibRBD, StoreError> = Result { () throws(StoreError) -> LibRBD in try LibRBD() }

    private init() throws(StoreError) {
        guard let rados = dlopen("librados.so.2", RTLD_NOW | RTLD_GLOBAL), let rbd = dlopen("librbd.so.1", RTLD_NOW | RTLD_GLOBAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "not found"
            throw StoreError(
                .misconfigured,
                "an rbd store needs Ceph's librados.so.2 and librbd.so.1 (Debian: librados2 librbd1): \(why); not deleted"
            )
        }
        func bind<T>(_ library: UnsafeMutableRawPointer, _ name: String) throws(StoreError) -> T {
            guard let symbol = dlsym(library, name) else {
                throw StoreError(.misconfigured, "this librbd/librados has no \(name) (Ceph 14 or later is needed); not deleted")
            }
            return unsafeBitCast(symbol, to: T.self)
        }
        radosCreate = try bind(rados, "rados_create")
        radosConfReadFile = try bind(rados, "rados_conf_read_file")
        radosConfSet = try bind(rados, "rados_conf_set")
        radosConnect = try bind(rados, "rados_connect")
        radosShutdown = try bind(rados, "rados_shutdown")
        radosIoctxCreate = try bind(rados, "rados_ioctx_create")
        radosIoctxDestroy = try bind(rados, "rados_ioctx_destroy")
        radosGetFSID = try bind(rados, "rados_cluster_fsid")
        open = try bind(rbd, "rbd_open")
        openReadOnly = try bind(rbd, "rbd_open_read_only")
        close = try bind(rbd, "rbd_close")
        getSize = try bind(rbd, "rbd_get_size")
        snapUnprotect = try bind(rbd, "rbd_snap_unprotect")
        snapRemove = try bind(rbd, "rbd_snap_remove")
        remove = try bind(rbd, "rbd_remove")
        trashMove = try bind(rbd, "rbd_trash_move")
        listChildren = try bind(rbd, "rbd_list_children3")
        listChildrenCleanup = try bind(rbd, "rbd_linked_image_spec_list_cleanup")
        listWatchers = try bind(rbd, "rbd_watchers_list")
        listWatchersCleanup = try bind(rbd, "rbd_watchers_list_cleanup")
        create = try bind(rbd, "rbd_create")
        snapCreate = try bind(rbd, "rbd_snap_create")
        snapProtect = try bind(rbd, "rbd_snap_protect")
        clone = try bind(rbd, "rbd_clone")
    }

    /// `strerror` of a negative errno return.
    static func describe(_ code: Int32) -> String {
        "\(String(cString: strerror(-code))) (\(code))"
    }
}
