import CSlirp
import Glibc

/// libslirp's entry points, loaded with dlopen the first time a user-mode
/// network is made. lkvm does not link libslirp: loading it and glib at
/// every start kept 0.8 MiB resident in runs that have no such network
/// (docs/performance.md). A host without the library gets a clear error for
/// `-n mode=user` only.
struct SlirpLibrary: @unchecked Sendable {
    /// Debian's libslirp0 (the soname of libslirp 4.x).
    static let soname = "libslirp.so.0"

    let new: lkvm_slirp_new_fn
    let cleanup: lkvm_slirp_cleanup_fn
    let input: lkvm_slirp_input_fn
    let pollfdsFill: lkvm_slirp_pollfds_fill_fn
    let pollfdsPoll: lkvm_slirp_pollfds_poll_fn
    let addHostForward: lkvm_slirp_add_hostfwd_fn

    /// Loaded once per process; the handle is never closed.
    static let shared: Result<SlirpLibrary, SlirpBackendError> = load()

    static func load(_ name: String = soname) -> Result<SlirpLibrary, SlirpBackendError> {
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(.libraryUnavailable(dlerror().map { String(cString: $0) } ?? name))
        }
        // SAFETY: each symbol is looked up by the name of the declaration its
        // type was taken from (CSlirp.h), so the cast gives the function its
        // own C signature.
        func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let new = symbol("slirp_new", as: lkvm_slirp_new_fn.self),
              let cleanup = symbol("slirp_cleanup", as: lkvm_slirp_cleanup_fn.self),
              let input = symbol("slirp_input", as: lkvm_slirp_input_fn.self),
              let pollfdsFill = symbol("slirp_pollfds_fill", as: lkvm_slirp_pollfds_fill_fn.self),
              let pollfdsPoll = symbol("slirp_pollfds_poll", as: lkvm_slirp_pollfds_poll_fn.self),
              let addHostForward = symbol("slirp_add_hostfwd", as: lkvm_slirp_add_hostfwd_fn.self) else {
            return .failure(.libraryUnavailable("\(name) lacks a libslirp 4 entry point: "
                + (dlerror().map { String(cString: $0) } ?? "?")))
        }
        return .success(SlirpLibrary(new: new, cleanup: cleanup, input: input, pollfdsFill: pollfdsFill,
                                     pollfdsPoll: pollfdsPoll, addHostForward: addHostForward))
    }
}
