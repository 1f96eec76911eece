import Glibc
import LKVMCore
import Logging
import Synchronization

/// A host TAP interface as a `NetBackend`: what the guest sends goes out of
/// the interface's host side, what the host routes to the interface comes to
/// the guest. Opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte
/// virtio-net header (TUNSETVNETHDRSZ) and no offloads (TUNSETOFFLOAD 0), so
/// a read is exactly one header + frame as `NetBackend` defines it.
///
/// An existing interface is attached to (a persistent one made with
/// `ip tuntap add NAME mode tap`, which a user without CAP_NET_ADMIN may
/// open if it was made for them); otherwise the kernel makes one that goes
/// away when lkvm closes it. Either way the host side must be configured
/// (address, `ip link set NAME up`) by someone else.
///
/// `start` runs one receive thread that polls the descriptor and a wake pipe;
/// `close` wakes and joins it.
public final class TapBackend: NetBackend {
    /// TUNSETVNETHDRSZ: struct virtio_net_hdr_v1 (VIRTIO_F_VERSION_1).
    public static let headerSize = 12
    /// A read buffer for the largest frame a tap can carry (MTU up to 65535,
    /// Ethernet and VLAN headers) after the header; longer reads are cut by
    /// the kernel, and the device drops what does not fit the guest's buffers.
    public static let readBufferSize = headerSize + 65536 + 64

    private struct State {
        var thread: HostThread?
        var isClosed = false
        var droppedSends = 0
        var warnedAboutSend = false
    }

    private let file: TapFile
    private let state = Mutex(State())
    private let logger = Logger(label: "lkvm.net.tap")

    public var name: String { file.interface }
    public var identity: String { "tap:\(file.interface)" }

    /// Opens (or makes) TAP interface `name`; every failure is one line
    /// naming the interface and the host's errno.
    public init(name: String) throws(NetBackendError) {
        file = try TapFile(name: name, headerSize: Int32(Self.headerSize))
    }

    /// Packets the tap refused because its queue was full.
    public var droppedSends: Int { state.withLock { $0.droppedSends } }

    public func send(_ packet: [UInt8]) throws(NetBackendError) {
        if state.withLock({ $0.isClosed }) { throw .closed(interface: name) }
        guard try !file.writePacket(packet) else { return }
        state.withLock { $0.droppedSends += 1 }
    }

    public func start(deliver: @escaping @Sendable ([UInt8]) -> Void) throws(NetBackendError) {
        try state.withLock { state throws(NetBackendError) in
            guard !state.isClosed else { throw .closed(interface: name) }
            guard state.thread == nil else { return }
            let file = self.file
            let logger = self.logger
            do throws(HypervisorError) {
                state.thread = try HostThread(name: "net-\(file.interface)") {
                    Self.receiveLoop(file, deliver: deliver, logger: logger)
                }
            } catch {
                throw .cannotStartThread(interface: file.interface, reason: error.description)
            }
        }
    }

    public func close() {
        let thread = state.withLock { state -> HostThread? in
            state.isClosed = true
            defer { state.thread = nil }
            return state.thread
        }
        file.wake()
        // The last reference may go on the receive thread itself (a device
        // dropped while delivering): it ends on the wake, never join it there.
        if let thread, pthread_equal(thread.id, pthread_self()) == 0 { thread.join() }
    }

    deinit {
        // A started thread holds `file`, not self; make sure it ends.
        close()
    }

    /// Reads every packet the tap has, then waits; ends when woken by
    /// `close`, or with one error line when the interface fails (deleted
    /// under lkvm: EBADFD/EIO).
    private static func receiveLoop(_ file: TapFile, deliver: @Sendable ([UInt8]) -> Void, logger: Logger) {
        var buffer = [UInt8](repeating: 0, count: readBufferSize)
        while true {
            switch file.waitReadable() {
            case .woken:
                return
            case .failed(let error):
                logger.error("\(NetBackendError.hostCall(call: "poll", interface: file.interface, errno: error)); no more packets for the guest")
                return
            case .readable:
                break
            }
            readAll: while true {
                switch file.readPacket(using: &buffer) {
                case .packet(let packet): deliver(packet)
                case .wouldBlock: break readAll
                case .failed(let error):
                    logger.error("\(NetBackendError.hostCall(call: "read", interface: file.interface, errno: error)); no more packets for the guest")
                    return
                }
            }
        }
    }
}
