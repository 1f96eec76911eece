import Glibc
import LKVMCore
import Logging
import Synchronization

/// User-mode networking through libslirp as a `NetBackend`: the guest sits
/// alone on 10.0.2.0/24 behind a NAT made of the host's ordinary sockets, so
/// lkvm needs no privilege. libslirp answers DHCP (10.0.2.15 onwards), DNS
/// at 10.0.2.3 (relayed to the host's resolver), turns the guest's TCP and
/// UDP into host sockets, and reaches the host's own loopback at 10.0.2.2.
/// `hostFwd` items listen on 127.0.0.1 and forward to the guest.
///
/// libslirp is not thread-safe, so one slirp thread does everything with it:
/// `send` only queues the frame (`SlirpBackendInbox`, bounded) and wakes that
/// thread, which hands it to libslirp and delivers libslirp's frames.
/// Host forwards are bound in `init`, so a taken port fails before the guest
/// starts.
public final class SlirpBackend: NetBackend {
    private struct State {
        var thread: HostThread?
        var isStarted = false
        var isClosed = false
    }

    /// How many user backends this process made: the second and later get
    /// identities (so default MAC addresses) of their own.
    private static let made = Atomic<Int>(0)

    private let stack: SlirpBackendStack
    private let inbox = SlirpBackendInbox()
    private let state = Mutex(State())
    public let hostForwards: [HostForward]
    public let identity: String
    public var name: String { "user" }

    public init(hostForwards: [HostForward] = []) throws(SlirpBackendError) {
        let stack = try SlirpBackendStack(logger: Logger(label: "lkvm.net.user"))
        for forward in hostForwards { try stack.addHostForward(forward) }
        self.stack = stack
        self.hostForwards = hostForwards
        let index = Self.made.wrappingAdd(1, ordering: .relaxed).oldValue
        identity = index == 0 ? "user" : "user:\(index)"
    }

    /// Frames the guest sent that were dropped because the queue to the
    /// slirp thread was full.
    public var droppedSends: Int { inbox.droppedFrames }

    public func send(_ packet: [UInt8]) throws(NetBackendError) {
        if state.withLock({ $0.isClosed }) { throw .closed(interface: name) }
        guard packet.count > SlirpBackendStack.headerSize else { return }
        if inbox.push(Array(packet[SlirpBackendStack.headerSize...])) { stack.wake() }
    }

    public func start(deliver: @escaping @Sendable ([UInt8]) -> Void) throws(NetBackendError) {
        try state.withLock { state throws(NetBackendError) in
            guard !state.isClosed else { throw .closed(interface: name) }
            guard !state.isStarted else { return }
            let stack = self.stack
            let inbox = self.inbox
            do throws(HypervisorError) {
                state.thread = try HostThread(name: "net-user") { stack.run(inbox: inbox, deliver: deliver) }
            } catch {
                throw .cannotStartThread(interface: name, reason: error.description)
            }
            state.isStarted = true
        }
    }

    public func close() {
        let (thread, wasStarted) = state.withLock { state -> (HostThread?, Bool) in
            state.isClosed = true
            defer { state.thread = nil }
            return (state.thread, state.isStarted)
        }
        inbox.stop()
        stack.wake()
        guard wasStarted else {
            // No slirp thread ever ran: this one may use the stack.
            stack.shutDown()
            return
        }
        // The slirp thread shuts the stack down as it ends. The last
        // reference may go on that thread itself (a device dropped while
        // delivering): it ends on the wake, never join it there.
        if let thread, pthread_equal(thread.id, pthread_self()) == 0 { thread.join() }
    }

    deinit {
        close()
    }
}
