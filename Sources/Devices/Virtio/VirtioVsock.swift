import Glibc
import LKVMCore
import Logging
import Synchronization

/// virtio-vsock (virtio 1.2 section 5.10) without vhost: guest AF_VSOCK
/// streams become host Unix stream sockets, as Firecracker's vsock does.
///
/// - The host reaches guest port P by connecting to `socketPath` and
///   writing `CONNECT P\n`; once the guest accepts, it reads `OK HOSTPORT\n`
///   and the stream follows. A refused or reset stream closes the socket.
/// - The guest reaching host (CID 2) port P connects to `socketPath_P`.
///
/// Queues: rx (0), tx (1), event (2, whose buffers are held: lkvm never
/// migrates, so it never sends TRANSPORT_RESET). Only streams: SEQPACKET is
/// not offered and its packets are answered with RST. Credit flows both
/// ways per stream: nothing beyond the guest's credit goes to it, no host
/// socket is read while the guest has none, and a guest that sends beyond
/// the credit we advertise loses that stream.
///
/// Threads: guest notifications arrive on the transport's queue worker; host
/// sockets are served by this device's own poll thread, running from
/// DRIVER_OK to reset. Both work under one lock and never block in it.
public final class VirtioVsock: VirtioDevice {
    public static let queueSize: UInt16 = 128
    enum Queue {
        static let receive = 0, transmit = 1, event = 2
    }

    public let guestCID: UInt64
    public let socketPath: String
    private let listener: Int32
    private let listenerInode: UInt64
    /// Wakes the poll thread to look again (new work, or stop).
    private let wake: HostEventFD
    private let engine: Mutex<VsockEngine>
    private let loop = Mutex(LoopState())
    private let runsHostThread: Bool
    private let logger = Logger(label: "lkvm.virtio.vsock")

    private struct LoopState {
        var thread: HostThread?
        var stopping = false
        var closed = false
    }

    /// Listens on `socketPath` at once, so a taken path fails before the
    /// guest starts. `hostThread: false` leaves host sockets to
    /// `serveHostSockets(timeout:)` calls (tests).
    public init(guestCID: UInt64, socketPath: String, limits: VsockLimits = VsockLimits(),
                hostThread: Bool = true) throws(VsockSocketError) {
        self.guestCID = guestCID
        self.socketPath = socketPath
        do throws(HypervisorError) {
            wake = try HostEventFD()
        } catch {
            guard case .request(_, let errno) = error else { throw .hostCall(call: "eventfd", path: socketPath, errno: EIO) }
            throw .hostCall(call: "eventfd", path: socketPath, errno: errno.rawValue)
        }
        (listener, listenerInode) = try VsockHostSockets.listen(path: socketPath)
        engine = Mutex(VsockEngine(guestCID: guestCID, socketPath: socketPath, limits: limits))
        runsHostThread = hostThread
    }

    deinit { stop() }

    public var deviceType: VirtioDeviceType { .socket }
    public var deviceFeatures: UInt64 { 0 }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize, Self.queueSize] }
    /// struct virtio_vsock_config: le64 guest_cid.
    public var configSize: Int { 8 }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        configSpaceValue((0..<8).map { UInt8(truncatingIfNeeded: guestCID >> (8 * $0)) }, offset: offset, size: size)
    }

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        engine.withLock { engine in
            engine.receiveQueue = queues.count > Queue.receive ? queues[Queue.receive] : nil
            engine.transmitQueue = queues.count > Queue.transmit ? queues[Queue.transmit] : nil
            engine.interrupt = interrupt
            engine.isActive = true
        }
        if runsHostThread { startThread() }
        // Packets queued before DRIVER_OK got no attention.
        do throws(VirtQueueError) {
            try queueNotified(Queue.transmit)
        } catch {
            interrupt.signalDeviceNeedsReset(error)
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        try engine.withLock { engine throws(VirtQueueError) in
            if index == Queue.transmit {
                do throws(VirtQueueError) {
                    if try engine.transmit() { engine.interrupt?.signalUsedBuffer(queue: Queue.transmit) }
                } catch {
                    engine.transmitBroken = true
                    throw error
                }
            }
            guard index == Queue.transmit || index == Queue.receive else { return }
            do throws(VirtQueueError) {
                if try engine.deliver() { engine.interrupt?.signalUsedBuffer(queue: Queue.receive) }
            } catch {
                engine.receiveBroken = true
                throw error
            }
        }
        // Streams, credit or buffers changed: the poll thread must look again.
        wake.signal()
    }

    /// Back to the state before `activate`: the poll thread ends, every
    /// stream and half-connected host client is closed. The listening
    /// socket stays; host clients wait in its backlog for the next driver.
    public func reset() {
        stopThread()
        engine.withLock { $0.closeAll() }
    }

    /// At VM exit: reset, and the listening socket closed and removed.
    public func stop() {
        reset()
        let wasClosed = loop.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !wasClosed else { return }
        close(listener)
        VsockHostSockets.unlinkIfOurs(path: socketPath, inode: listenerInode)
    }

    public var counters: VsockCounters { engine.withLock { $0.counters } }
    /// Open streams (established or waiting for the guest's answer).
    public var connectionCount: Int { engine.withLock { $0.connections.count } }
    /// Packets waiting for guest receive buffers.
    var outboxCount: Int { engine.withLock { $0.outbox.count } }
    /// Guest bytes held for host sockets, over all streams.
    public var bufferedToHost: Int { engine.withLock { $0.connections.values.reduce(0) { $0 + $1.toHost.count } } }

    /// One turn of the host side: waits up to `timeout` ms for a socket,
    /// serves what is ready and delivers to the guest. False once stopping
    /// or when poll fails.
    @discardableResult
    public func serveHostSockets(timeout: Int32) -> Bool {
        let (set, deadline) = engine.withLock { ($0.pollSet(listener: listener), $0.nextResponseDeadline) }
        var fds = set.map { pollfd(fd: $0.descriptor, events: $0.events, revents: 0) }
        fds.append(pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0))
        // Wake for the oldest unanswered CONNECT's deadline, at the latest.
        var wait = timeout
        if let deadline {
            let milliseconds = Int32(clamping: Int(max(0, (deadline - VsockClock.now()) * 1000)) + 1)
            wait = timeout < 0 ? milliseconds : min(timeout, milliseconds)
        }
        let ready = poll(&fds, nfds_t(fds.count), wait)
        if ready < 0 {
            if errno == EINTR { return true }
            logger.error("virtio-vsock: poll failed (errno \(errno)); host sockets are no longer served")
            return false
        }
        if fds[set.count].revents != 0 { wake.drain() }
        if loop.withLock({ $0.stopping }) { return false }
        engine.withLock { engine in
            for (index, entry) in set.enumerated() where fds[index].revents != 0 {
                engine.handle(entry.target, events: fds[index].revents, listener: listener)
            }
            _ = engine.expireUnansweredRequests(now: VsockClock.now())
            do throws(VirtQueueError) {
                if try engine.deliver() { engine.interrupt?.signalUsedBuffer(queue: Queue.receive) }
            } catch {
                // No transport to throw to: reported under the lock, so a
                // reset cannot come between the error and the report.
                engine.receiveBroken = true
                engine.interrupt?.signalDeviceNeedsReset(error)
            }
        }
        return true
    }

    private func startThread() {
        loop.withLock { state in
            guard state.thread == nil, !state.closed else { return }
            state.stopping = false
            do throws(HypervisorError) {
                state.thread = try HostThread(name: "lkvm-vsock") { [self] in
                    while serveHostSockets(timeout: -1) {}
                }
            } catch {
                logger.error("virtio-vsock: no host socket thread (\(error)); host sockets are not served")
            }
        }
    }

    private func stopThread() {
        let thread = loop.withLock { state -> HostThread? in
            state.stopping = true
            defer { state.thread = nil }
            return state.thread
        }
        wake.signal()
        if let thread, pthread_equal(thread.id, pthread_self()) == 0 { thread.join() }
        loop.withLock { $0.stopping = false }
    }
}

extension VirtioVsock {
    /// The catalog's "vsock": `CID,socket=PATH`. The command line fills in
    /// socket= (the run directory's NAME.vsock) when the user gave none.
    public static let catalogEntry = VirtioCatalogEntry(
        name: "vsock", type: .socket,
        summary: "AF_VSOCK streams to host Unix sockets: CID,socket=PATH (host connects to PATH, guest to PATH_PORT)",
        make: { argument throws(VirtioCatalogError) in
            let text = argument ?? ""
            let options = try VsockOptions(parsing: text)
            guard let path = options.socketPath else {
                throw .badArgument(device: "vsock", argument: text, reason: "needs socket=PATH")
            }
            do throws(VsockSocketError) {
                return try VirtioVsock(guestCID: options.guestCID, socketPath: path)
            } catch {
                throw .badArgument(device: "vsock", argument: text, reason: error.description)
            }
        })
}
