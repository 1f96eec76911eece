import CSlirp
import Glibc
import Logging

/// The only code that talks to libslirp's C API (through `SlirpLibrary`'s
/// entry points), and with it the only unsafe
/// pointers of the user-mode network: one `Slirp` instance on the
/// 10.0.2.0/24 network (gateway and host 10.0.2.2, DNS 10.0.2.3, DHCP from
/// 10.0.2.15: libslirp's defaults), its callbacks, and the loop that polls
/// its sockets and a wake pipe.
///
/// libslirp is not thread-safe. The stack is used by one thread at a time:
/// its creator (init, `addHostForward`) until `SlirpBackend.start` hands it
/// to the slirp thread, which alone runs `run` and then `shutDown`; `close`
/// without a started thread calls `shutDown` itself. Only `wake` (a write(2)
/// to a pipe) may be called from any thread.
final class SlirpBackendStack: @unchecked Sendable {
    static let network: UInt32 = 0x0A00_0200     // 10.0.2.0
    static let netmask: UInt32 = 0xFFFF_FF00     // /24
    static let gateway: UInt32 = 0x0A00_0202     // 10.0.2.2, the host
    static let firstLease: UInt32 = 0x0A00_020F  // 10.0.2.15
    static let nameserver: UInt32 = 0x0A00_0203  // 10.0.2.3
    static let loopback: UInt32 = 0x7F00_0001    // 127.0.0.1
    static let headerSize = 12
    /// The longest the loop sleeps without a reason to wake (ms).
    static let longestPoll: UInt32 = 500

    private let library: SlirpLibrary
    private var slirp: OpaquePointer?
    private let callbacks: UnsafeMutablePointer<SlirpCb>
    private let context: SlirpStackContext
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(logger: Logger) throws(SlirpBackendError) {
        library = try SlirpLibrary.shared.get()
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .hostCall(call: "pipe", errno: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        context = SlirpStackContext(logger: logger)
        // libslirp keeps this pointer (not a copy) for its whole life; it is
        // freed in deinit, after slirp_cleanup.
        callbacks = .allocate(capacity: 1)
        callbacks.initialize(to: Self.makeCallbacks())

        var config = SlirpConfig()
        config.version = 1
        config.restricted = 0
        config.in_enabled = true
        config.vnetwork = Self.address(Self.network)
        config.vnetmask = Self.address(Self.netmask)
        config.vhost = Self.address(Self.gateway)
        config.in6_enabled = false
        config.vdhcp_start = Self.address(Self.firstLease)
        config.vnameserver = Self.address(Self.nameserver)
        config.disable_host_loopback = false
        // SAFETY: slirp_new copies what it needs from `config` (alive for the
        // call) and keeps `callbacks` and the context pointer, both alive
        // until shutDown/deinit. The context is unretained: `self` owns it.
        slirp = library.new(&config, callbacks, Unmanaged.passUnretained(context).toOpaque())
        guard slirp != nil else { throw .cannotCreate }
    }

    deinit {
        shutDown()
        callbacks.deinitialize(count: 1)
        callbacks.deallocate()
        close(wakeRead)
        close(wakeWrite)
    }

    /// Listens on 127.0.0.1:hostPort and forwards to 10.0.2.15:guestPort.
    func addHostForward(_ forward: HostForward) throws(SlirpBackendError) {
        guard let slirp else { throw .cannotCreate }
        errno = 0
        let result = library.addHostForward(slirp, forward.transport == .udp ? 1 : 0, Self.address(Self.loopback),
                                       Int32(forward.hostPort), Self.address(Self.firstLease),
                                       Int32(forward.guestPort))
        guard result == 0 else { throw .hostPortUnavailable(forward, errno: errno) }
    }

    /// The slirp thread's loop: hands the guest's frames to libslirp, runs
    /// due timers, sleeps in poll(2) on libslirp's sockets and the wake pipe
    /// for at most what libslirp and the timers allow, lets libslirp act on
    /// what is ready; until the inbox says stop, then shuts the stack down.
    func run(inbox: SlirpBackendInbox, deliver: @escaping @Sendable ([UInt8]) -> Void) {
        context.deliver = deliver
        defer {
            shutDown()
            // `deliver` may hold the device, which holds the backend and so
            // this stack: let go of it so that nothing keeps a cycle alive.
            context.deliver = nil
        }
        guard let slirp else { return }
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        while true {
            let (frames, isStopping) = inbox.take()
            if isStopping { return }
            for frame in frames {
                // SAFETY: slirp_input reads `count` bytes of the array, alive for the call.
                frame.withUnsafeBufferPointer { library.input(slirp, $0.baseAddress, Int32($0.count)) }
            }
            let now = Self.monotonicNanoseconds() / 1_000_000
            context.timers.fireExpired(now: now)
            var timeout = Self.longestPoll
            if let next = context.timers.millisecondsUntilNext(now: now) { timeout = UInt32(min(Int64(timeout), next)) }
            context.descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            // SAFETY: the callbacks get `opaque`, the context, alive for the call.
            library.pollfdsFill(slirp, &timeout, Self.addPollDescriptor, opaque)
            // SAFETY: poll(2) reads and writes the entries of the array.
            let ready = poll(&context.descriptors, nfds_t(context.descriptors.count), Int32(min(timeout, Self.longestPoll)))
            library.pollfdsPoll(slirp, ready < 0 ? 1 : 0, Self.readyEvents, opaque)
            if context.descriptors[0].revents != 0 { drainWakePipe() }
        }
    }

    /// Makes the loop go round now (a frame was queued, or stop asked).
    func wake() {
        var byte: UInt8 = 1
        // SAFETY: write(2) reads the one byte, alive for the call.
        _ = write(wakeWrite, &byte, 1)
    }

    /// slirp_cleanup: closes libslirp's sockets, host forwards included. Idempotent.
    func shutDown() {
        guard let slirp else { return }
        self.slirp = nil
        library.cleanup(slirp)
    }

    private func drainWakePipe() {
        var bytes = [UInt8](repeating: 0, count: 64)
        // SAFETY: read(2) writes at most `count` bytes into the array's buffer.
        while bytes.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    private static func address(_ value: UInt32) -> in_addr { in_addr(s_addr: value.bigEndian) }

    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    // SAFETY (every callback): `opaque` is the context pointer given to
    // slirp_new / slirp_pollfds_*, which the stack keeps alive while libslirp
    // exists; libslirp calls back only on the thread that called into it.
    private static func context(_ opaque: UnsafeMutableRawPointer?) -> SlirpStackContext {
        Unmanaged<SlirpStackContext>.fromOpaque(opaque!).takeUnretainedValue()
    }

    private static let addPollDescriptor: SlirpAddPollCb = { descriptor, events, opaque in
        let context = SlirpBackendStack.context(opaque)
        var wanted: Int16 = 0
        if events & Int32(SLIRP_POLL_IN) != 0 { wanted |= Int16(POLLIN) }
        if events & Int32(SLIRP_POLL_OUT) != 0 { wanted |= Int16(POLLOUT) }
        if events & Int32(SLIRP_POLL_PRI) != 0 { wanted |= Int16(POLLPRI) }
        context.descriptors.append(pollfd(fd: descriptor, events: wanted, revents: 0))
        return Int32(context.descriptors.count - 1)
    }

    private static let readyEvents: SlirpGetREventsCb = { index, opaque in
        let context = SlirpBackendStack.context(opaque)
        guard index >= 0, Int(index) < context.descriptors.count else { return 0 }
        let ready = Int32(context.descriptors[Int(index)].revents)
        var events: Int32 = 0
        if ready & Int32(POLLIN) != 0 { events |= Int32(SLIRP_POLL_IN) }
        if ready & Int32(POLLOUT) != 0 { events |= Int32(SLIRP_POLL_OUT) }
        if ready & Int32(POLLPRI) != 0 { events |= Int32(SLIRP_POLL_PRI) }
        if ready & Int32(POLLERR) != 0 { events |= Int32(SLIRP_POLL_ERR) }
        if ready & Int32(POLLHUP) != 0 { events |= Int32(SLIRP_POLL_HUP) }
        return events
    }

    private static func makeCallbacks() -> SlirpCb {
        var callbacks = SlirpCb()
        callbacks.send_packet = { buffer, length, opaque in
            let context = SlirpBackendStack.context(opaque)
            // SAFETY: libslirp's frame is `length` readable bytes for the call.
            let frame = UnsafeRawBufferPointer(start: buffer, count: length)
            context.deliver?([UInt8](repeating: 0, count: SlirpBackendStack.headerSize) + frame)
            return length
        }
        callbacks.guest_error = { message, opaque in
            let text = message.map { String(cString: $0) } ?? "?"
            SlirpBackendStack.context(opaque).logger.warning("user network: guest error: \(text)")
        }
        callbacks.clock_get_ns = { _ in SlirpBackendStack.monotonicNanoseconds() }
        callbacks.timer_new = { callback, callbackOpaque, opaque in
            // The timer's handle is its identifier as a pointer-sized integer,
            // never dereferenced: UnsafeMutableRawPointer(bitPattern:).
            let identifier = SlirpBackendStack.context(opaque).timers.add { callback?(callbackOpaque) }
            return UnsafeMutableRawPointer(bitPattern: identifier)
        }
        callbacks.timer_free = { timer, opaque in
            SlirpBackendStack.context(opaque).timers.remove(UInt(bitPattern: timer))
        }
        callbacks.timer_mod = { timer, deadline, opaque in
            SlirpBackendStack.context(opaque).timers.arm(UInt(bitPattern: timer), deadline: deadline)
        }
        // The loop asks for every descriptor on each round (slirp_pollfds_fill).
        callbacks.register_poll_fd = { _, _ in }
        callbacks.unregister_poll_fd = { _, _ in }
        // Only ever called on the slirp thread, whose loop is already awake.
        callbacks.notify = { _ in }
        return callbacks
    }
}

/// What libslirp's callbacks reach through their opaque pointer; used on
/// the slirp thread only (and by the creator before it starts).
final class SlirpStackContext {
    let logger: Logger
    let timers = SlirpTimerList()
    var descriptors: [pollfd] = []
    var deliver: (@Sendable ([UInt8]) -> Void)?

    init(logger: Logger) { self.logger = logger }
}
