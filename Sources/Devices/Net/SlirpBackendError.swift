import Glibc

/// Why libslirp's user-mode network could not be set up: one line each.
public enum SlirpBackendError: Error, Equatable, CustomStringConvertible {
    /// slirp_new refused the configuration.
    case cannotCreate
    /// libslirp could not be loaded (dlopen's or dlsym's words).
    case libraryUnavailable(String)
    /// A host call (`call`: pipe) failed.
    case hostCall(call: String, errno: Int32)
    /// libslirp could not listen on the forward's host port (taken, or
    /// privileged); errno 0 when libslirp did not say why.
    case hostPortUnavailable(HostForward, errno: Int32)

    public var description: String {
        switch self {
        case .cannotCreate:
            "user network: libslirp refused its configuration (slirp_new failed)"
        case .libraryUnavailable(let why):
            "user network: cannot load libslirp (apt-get install libslirp0): \(why)"
        case .hostCall(let call, let errno):
            "user network: \(call): \(NetBackendError.text(errno))"
        case .hostPortUnavailable(let forward, let errno):
            "hostfwd=\(forward): cannot listen on 127.0.0.1 port \(forward.hostPort)"
                + (errno == 0 ? " (in use?)" : ": \(NetBackendError.text(errno))")
        }
    }
}
