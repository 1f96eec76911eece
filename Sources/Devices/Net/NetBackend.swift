import Glibc

/// Why a network backend could not be opened, or failed while in use.
public enum NetBackendError: Error, Equatable, CustomStringConvertible {
    /// open(2) of the clone device failed.
    case cannotOpen(path: String, errno: Int32)
    /// An ioctl on an interface failed (`request` is its name, e.g. TUNSETIFF).
    case ioctlFailed(request: String, interface: String, errno: Int32)
    /// A host call (`call`: read, write, poll, pipe) failed.
    case hostCall(call: String, interface: String, errno: Int32)
    /// The backend's receive thread could not be started.
    case cannotStartThread(interface: String, reason: String)
    /// `send` or `start` after `close`.
    case closed(interface: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno):
            "cannot open \(path): \(Self.text(errno))"
                + (errno == EACCES || errno == EPERM ? " (need CAP_NET_ADMIN or read-write access)" : "")
                + (errno == ENOENT ? " (load the tun module: modprobe tun)" : "")
        case .ioctlFailed(let request, let interface, let errno):
            "\(request) \(interface): \(Self.text(errno))" + Self.hint(request: request, errno: errno)
        case .hostCall(let call, let interface, let errno):
            "\(call) on \(interface): \(Self.text(errno))"
        case .cannotStartThread(let interface, let reason):
            "cannot start the receive thread of \(interface): \(reason)"
        case .closed(let interface):
            "\(interface) is closed"
        }
    }

    private static func hint(request: String, errno: Int32) -> String {
        guard request == "TUNSETIFF" else { return "" }
        switch errno {
        case EPERM: return " (need CAP_NET_ADMIN, or a tap made for this user: ip tuntap add NAME mode tap user USER)"
        case EBUSY: return " (another process has it open)"
        case EINVAL: return " (the name is taken by an interface that is not a tap)"
        default: return ""
        }
    }

    static func text(_ errno: Int32) -> String { String(cString: strerror(errno)) }
}

/// Where a virtio-net device's frames go and come from: a host TAP interface
/// today, libslirp's user-mode stack later.
///
/// Every packet crossing this protocol, in both directions, is a 12-byte
/// virtio-net header (`VirtioNetHeader`, the VIRTIO_F_VERSION_1 layout) then
/// one Ethernet frame without FCS, in one array. A TAP interface with
/// IFF_VNET_HDR and a header size of 12 speaks exactly this; a backend without
/// headers (slirp) adds a zeroed one on receive and drops it on send. With no
/// offloads negotiated the device sends an all-zero header and expects one
/// (flags 0, gso_type NONE) back.
///
/// Threads: `send` is called from the queue worker (or a vCPU at DRIVER_OK) with the transmit lock
/// held; it must not block for long and must never call the device. `start`
/// makes the backend call `deliver` from a thread of its own for each packet
/// the host has for the guest, until `close`. `deliver` may block briefly on
/// the device's receive lock; the backend must not hold a lock the device
/// could want while calling it.
public protocol NetBackend: AnyObject, Sendable {
    /// Names the backend in messages: the TAP interface, or "user".
    var name: String { get }
    /// A stable text the default MAC address is derived from ("tap:tap0").
    var identity: String { get }
    /// Hands one packet (header + frame) from the guest to the host. A full
    /// host queue drops the packet silently, as a wire would; other failures
    /// throw.
    func send(_ packet: [UInt8]) throws(NetBackendError)
    /// Starts delivering host packets (header + frame) to `deliver`. Once only.
    func start(deliver: @escaping @Sendable ([UInt8]) -> Void) throws(NetBackendError)
    /// Stops delivery (waiting for the backend's thread to finish) and
    /// releases host resources. Idempotent; never call it from `deliver`.
    func close()
}
