import Glibc
import LKVMCore
import Logging

/// How much virtio-vsock holds, per stream and in all.
public struct VsockLimits: Sendable {
    /// Streams (and host clients still writing their CONNECT line) at once.
    public var maxConnections = 64
    /// buf_alloc we advertise per stream: the most guest bytes held for it.
    public var bufferAllocation: UInt32 = 128 * 1024
    /// The most bytes read from a host socket at a time (still within the guest's credit).
    public var readChunk = 16 * 1024
    /// RSTs answering packets with no stream, waiting at once; more are
    /// dropped. RSTs of streams lkvm ends may add `maxConnections` more.
    public var maxQueuedResets = 64
    /// A host client's CONNECT the guest has not answered (RESPONSE or RST)
    /// in this long is reset: a silent guest cannot hold the client, and a
    /// stream slot, forever.
    public var responseTimeoutSeconds: Double = 10

    public init() {}
}

/// Packets and streams refused or dropped, by reason.
public struct VsockCounters: Equatable, Sendable {
    /// Shorter than a header, or a length beyond the chain or 64 KiB.
    public var malformed = 0
    /// Host CONNECTs the guest left unanswered past `responseTimeoutSeconds`.
    public var unansweredRequests = 0
    /// From a source CID that is not the guest's: dropped unanswered.
    public var wrongSource = 0
    /// Answered with RST: wrong destination, SEQPACKET, unknown op, no stream.
    public var refusedPackets = 0
    /// Guest connections to the host that found no listener (or the limit).
    public var refusedConnections = 0
    /// Streams reset because the guest sent beyond the credit we gave.
    public var creditOverruns = 0
    /// RSTs not sent because too many waited.
    public var droppedResets = 0

    public init() {}
}

/// A packet waiting for a guest receive buffer.
enum VsockOutboxEntry {
    /// A control packet on a stream; its header (and credit) is made when delivered.
    case control(VsockConnectionKey, serial: UInt64, op: VsockOp, flags: UInt32)
    /// The stream's `toGuest` bytes.
    case data(VsockConnectionKey, serial: UInt64)
    /// An RST for a stream that is gone or never was.
    case reset(VsockHeader)
}

/// What one pollfd of the host poll loop stands for.
enum VsockPollTarget: Equatable {
    case listener
    case client(Int32)
    case connection(VsockConnectionKey)
}

/// virtio-vsock's streams, the packets waiting for the guest and both
/// queues, under the device's one lock. Host socket calls here never block.
struct VsockEngine {
    static let maxPayload = 64 * 1024
    /// "CONNECT 4294967295\n" is 19 bytes; anything this long is not a CONNECT line.
    static let maxConnectLine = 32
    /// Host ports for streams the host starts; the guest's own ports are below.
    static let firstHostPort: UInt32 = 1 << 30

    let guestCID: UInt64
    let socketPath: String
    let limits: VsockLimits
    private(set) var connections: [VsockConnectionKey: VsockConnection] = [:]
    /// Host clients still writing their CONNECT line: descriptor → bytes so far.
    private(set) var clients: [Int32: [UInt8]] = [:]
    private(set) var outbox: [VsockOutboxEntry] = []
    private var queuedResets = 0
    private var nextSerial: UInt64 = 0
    private var nextHostPort = firstHostPort
    var receiveQueue: VirtQueue?
    var transmitQueue: VirtQueue?
    var interrupt: (any VirtioInterrupt)?
    var isActive = false
    var receiveBroken = false
    var transmitBroken = false
    var counters = VsockCounters()
    private var warned: Set<String> = []
    private let logger = Logger(label: "lkvm.virtio.vsock")

    init(guestCID: UInt64, socketPath: String, limits: VsockLimits) {
        self.guestCID = guestCID
        self.socketPath = socketPath
        self.limits = limits
    }

    private var openCount: Int { connections.count + clients.count }

    // MARK: Guest → host

    /// Takes every packet the guest queued on transmitq. Returns whether the
    /// driver wants an interrupt.
    mutating func transmit() throws(VirtQueueError) -> Bool {
        guard isActive, !transmitBroken, var queue = transmitQueue else { return false }
        defer { transmitQueue = queue }
        while let chain = try queue.nextChain() {
            let bytes = try chain.readReadableBytes(limit: VsockHeader.size + Self.maxPayload)
            handleGuestPacket(bytes)
            try queue.addUsed(head: chain.head, writtenLength: 0)
        }
        return try queue.needsNotification()
    }

    mutating func handleGuestPacket(_ bytes: [UInt8]) {
        guard let header = VsockHeader(decoding: bytes) else {
            counters.malformed += 1
            warnOnce("short", "a transmitq packet of \(bytes.count) bytes is shorter than a header; dropped")
            return
        }
        guard header.sourceCID == guestCID else {
            counters.wrongSource += 1
            warnOnce("source", "a packet from CID \(header.sourceCID), not the guest's \(guestCID); dropped")
            return
        }
        let key = VsockConnectionKey(hostPort: header.destinationPort, guestPort: header.sourcePort)
        guard Int(header.length) <= min(Self.maxPayload, bytes.count - VsockHeader.size) else {
            counters.malformed += 1
            warnOnce("length", "a packet claims \(header.length) payload bytes, more than it carries; stream reset")
            if connections[key] != nil { abort(key) } else { refuse(header) }
            return
        }
        guard header.destinationCID == VsockCID.host, header.type == VsockType.stream,
              let op = header.knownOp else {
            refuse(header)
            return
        }
        if op == .rst {
            _ = forget(key)
            return
        }
        guard var connection = connections[key] else {
            if op == .request { connectToHost(header, key) } else { refuse(header) }
            return
        }
        connection.notePeerCredit(header)
        connections[key] = connection
        switch op {
        case .request:
            abort(key)
        case .response:
            guard connection.phase == .awaitingResponse else { return abort(key) }
            connection.phase = .established
            connection.hostLine = Array("OK \(key.hostPort)\n".utf8)
            connections[key] = connection
            flushToHost(key)
        case .rw:
            guard connection.phase == .established, connection.guestShutdown & VsockShutdown.send == 0 else {
                return abort(key)
            }
            guard Int(header.length) <= connection.ownFreeSpace else {
                counters.creditOverruns += 1
                warnOnce("overrun", "the guest sent beyond the \(connection.bufferAllocation)-byte credit it was given; stream reset")
                return abort(key)
            }
            connection.toHost += bytes[VsockHeader.size..<(VsockHeader.size + Int(header.length))]
            connection.receivedFromGuest &+= header.length
            connections[key] = connection
            flushToHost(key)
        case .creditUpdate:
            break
        case .creditRequest:
            queueCreditUpdate(key)
        case .shutdown:
            connection.guestShutdown |= header.flags & VsockShutdown.both
            connections[key] = connection
            flushToHost(key)
        case .rst:
            break
        }
    }

    /// The guest connects to host port P: `<socket>_P` must be listening.
    private mutating func connectToHost(_ header: VsockHeader, _ key: VsockConnectionKey) {
        guard openCount < limits.maxConnections else {
            counters.refusedConnections += 1
            warnOnce("limit", "more than \(limits.maxConnections) vsock streams; new ones are refused")
            return refuse(header)
        }
        switch VsockHostSockets.connect(path: "\(socketPath)_\(header.destinationPort)") {
        case .failure:
            counters.refusedConnections += 1
            refuse(header)
        case .success(let descriptor):
            var connection = VsockConnection(key: key, serial: takeSerial(), descriptor: descriptor,
                                             phase: .established, bufferAllocation: limits.bufferAllocation)
            connection.notePeerCredit(header)
            connections[key] = connection
            outbox.append(.control(key, serial: connection.serial, op: .response, flags: 0))
        }
    }

    /// Writes what the host socket takes of our line and the guest's bytes,
    /// then acts on the guest's shutdown once everything is out.
    private mutating func flushToHost(_ key: VsockConnectionKey) {
        guard var connection = connections[key] else { return }
        if !connection.hostLine.isEmpty {
            guard let written = VsockHostSockets.write(connection.descriptor, connection.hostLine) else { return abort(key) }
            connection.hostLine.removeFirst(written)
        }
        if connection.hostLine.isEmpty, !connection.toHost.isEmpty {
            guard let written = VsockHostSockets.write(connection.descriptor, connection.toHost) else { return abort(key) }
            connection.toHost.removeFirst(written)
            connection.forwarded &+= UInt32(written)
        }
        if connection.hostLine.isEmpty, connection.toHost.isEmpty {
            if connection.guestShutdown == VsockShutdown.both {
                // Both directions are done: close, and RST tells the guest it is over.
                connections[key] = connection
                return abort(key)
            }
            if connection.guestShutdown & VsockShutdown.send != 0, !connection.hostWriteClosed {
                shutdown(connection.descriptor, Int32(SHUT_WR))
                connection.hostWriteClosed = true
            }
        }
        connections[key] = connection
        if connection.wantsCreditUpdate { queueCreditUpdate(key) }
    }

    private mutating func queueCreditUpdate(_ key: VsockConnectionKey) {
        guard var connection = connections[key], !connection.creditUpdateQueued else { return }
        connection.creditUpdateQueued = true
        connections[key] = connection
        outbox.append(.control(key, serial: connection.serial, op: .creditUpdate, flags: 0))
    }

    /// Ends a stream: its socket closed, an RST queued for the guest.
    mutating func abort(_ key: VsockConnectionKey) {
        guard var connection = forget(key) else { return }
        // Bounded even for a guest that opens and overruns streams without
        // ever posting rx buffers; beyond, its socket just hears nothing.
        guard queuedResets < limits.maxQueuedResets + limits.maxConnections else {
            counters.droppedResets += 1
            return
        }
        queuedResets += 1
        outbox.append(.reset(connection.header(op: .rst, guestCID: guestCID)))
    }

    /// Removes a stream: socket closed, its waiting packets dropped.
    private mutating func forget(_ key: VsockConnectionKey) -> VsockConnection? {
        guard let connection = connections.removeValue(forKey: key) else { return nil }
        close(connection.descriptor)
        outbox.removeAll { entry in
            switch entry {
            case .control(_, let serial, _, _), .data(_, let serial): serial == connection.serial
            case .reset: false
            }
        }
        return connection
    }

    /// Answers a guest packet that has no stream with RST (never an RST with an RST).
    private mutating func refuse(_ header: VsockHeader) {
        counters.refusedPackets += 1
        guard header.op != VsockOp.rst.rawValue else { return }
        guard queuedResets < limits.maxQueuedResets else {
            counters.droppedResets += 1
            return
        }
        queuedResets += 1
        var reply = header.resetReply
        reply.type = VsockType.stream
        outbox.append(.reset(reply))
    }

    private mutating func takeSerial() -> UInt64 {
        nextSerial += 1
        return nextSerial
    }

    // MARK: Host → guest

    /// Puts waiting packets into the receive buffers the driver posted, in
    /// order, skipping streams whose guest has no credit. Returns whether
    /// the driver wants an interrupt.
    mutating func deliver() throws(VirtQueueError) -> Bool {
        guard isActive, !receiveBroken, var queue = receiveQueue, !outbox.isEmpty else { return false }
        defer { receiveQueue = queue }
        var kept: [VsockOutboxEntry] = []
        var stalled: Set<VsockConnectionKey> = []
        var index = 0
        var delivered = false
        entries: while index < outbox.count {
            let entry = outbox[index]
            switch entry {
            case .reset:
                break
            case .control(let key, let serial, _, _), .data(let key, let serial):
                if stalled.contains(key) {
                    kept.append(entry)
                    index += 1
                    continue
                }
                guard let connection = connections[key], connection.serial == serial else {
                    index += 1  // for a stream that has ended since
                    continue
                }
                if case .data = entry, connection.peerCredit == 0 {
                    // Wait for credit; the stream's later packets wait behind it.
                    stalled.insert(key)
                    kept.append(entry)
                    index += 1
                    continue
                }
            }
            guard let chain = try queue.nextChain() else { break entries }
            let room = chain.writableLength
            guard room >= UInt64(VsockHeader.size) else {
                warnOnce("smallrx", "a receive buffer of \(room) bytes cannot hold a header; returned empty")
                try queue.addUsed(head: chain.head, writtenLength: 0)
                continue
            }
            var written = 0
            var finished = true
            switch entry {
            case .reset(let header):
                queuedResets -= 1
                written = try chain.writeWritable(header.encoded, at: 0)
            case .control(let key, _, let op, let flags):
                var connection = connections[key]!
                if op == .creditUpdate { connection.creditUpdateQueued = false }
                let header = connection.header(op: op, guestCID: guestCID, flags: flags)
                connections[key] = connection
                written = try chain.writeWritable(header.encoded, at: 0)
            case .data(let key, _):
                var connection = connections[key]!
                let count = min(Int(room) - VsockHeader.size, connection.toGuest.count, Int(connection.peerCredit))
                let header = connection.header(op: .rw, guestCID: guestCID, length: UInt32(count))
                written = try chain.writeWritable(header.encoded + connection.toGuest.prefix(count), at: 0)
                connection.toGuest.removeFirst(count)
                connection.sentToGuest &+= UInt32(count)
                if connection.toGuest.isEmpty { connection.dataQueued = false } else { finished = false }
                connections[key] = connection
            }
            try queue.addUsed(head: chain.head, writtenLength: UInt32(written))
            delivered = true
            if finished { index += 1 }
        }
        outbox = kept + outbox[index...]
        return delivered ? try queue.needsNotification() : false
    }

    // MARK: Host sockets

    /// The descriptors the poll loop should watch, and for what.
    func pollSet(listener: Int32) -> [(descriptor: Int32, events: Int16, target: VsockPollTarget)] {
        var set: [(descriptor: Int32, events: Int16, target: VsockPollTarget)] = []
        let readable = Int16(POLLIN), writable = Int16(POLLOUT)
        if openCount < limits.maxConnections { set.append((listener, readable, .listener)) }
        for descriptor in clients.keys { set.append((descriptor, readable, .client(descriptor))) }
        for (key, connection) in connections {
            switch connection.phase {
            case .awaitingResponse:
                // Only to hear of a client that hangs up before the guest answers.
                set.append((connection.descriptor, 0, .connection(key)))
            case .established:
                var events: Int16 = 0
                if wantsHostBytes(connection) { events |= readable }
                if !connection.hostLine.isEmpty || !connection.toHost.isEmpty { events |= writable }
                // Nothing wanted: left out, or a hung-up peer would wake the loop forever.
                if events != 0 { set.append((connection.descriptor, events, .connection(key))) }
            }
        }
        return set
    }

    private func wantsHostBytes(_ connection: VsockConnection) -> Bool {
        !connection.hostFinished && connection.guestShutdown & VsockShutdown.receive == 0
            && !connection.dataQueued && connection.unreservedPeerCredit > 0
    }

    /// Acts on what poll reported for one descriptor.
    mutating func handle(_ target: VsockPollTarget, events: Int16, listener: Int32) {
        switch target {
        case .listener:
            while openCount < limits.maxConnections, let client = VsockHostSockets.accept(listener) {
                clients[client] = []
            }
        case .client(let descriptor):
            readConnectLine(descriptor)
        case .connection(let key):
            guard let connection = connections[key] else { return }
            if connection.phase == .awaitingResponse {
                if events & Int16(POLLHUP | POLLERR) != 0 { abort(key) }
                return
            }
            if !connection.hostLine.isEmpty || !connection.toHost.isEmpty { flushToHost(key) }
            if let connection = connections[key], wantsHostBytes(connection) { readFromHost(key) }
        }
    }

    private mutating func readFromHost(_ key: VsockConnectionKey) {
        guard var connection = connections[key] else { return }
        let limit = min(connection.unreservedPeerCredit, limits.readChunk)
        guard limit > 0 else { return }
        switch VsockHostSockets.read(connection.descriptor, limit: limit) {
        case .bytes(let bytes):
            connection.toGuest = bytes
            connection.dataQueued = true
            outbox.append(.data(key, serial: connection.serial))
        case .wouldBlock:
            return
        case .endOfStream:
            connection.hostFinished = true
            outbox.append(.control(key, serial: connection.serial, op: .shutdown, flags: VsockShutdown.send))
        case .failed:
            return abort(key)
        }
        connections[key] = connection
    }

    /// Takes the bytes of a host client's CONNECT line, and no more: what
    /// follows the newline is the stream's first data.
    private mutating func readConnectLine(_ descriptor: Int32) {
        guard let sofar = clients[descriptor] else { return }
        guard case .bytes(let peeked) = VsockHostSockets.read(descriptor, limit: Self.maxConnectLine - sofar.count, peek: true)
        else {
            if case .wouldBlock = VsockHostSockets.read(descriptor, limit: 1, peek: true) { return }
            return dropClient(descriptor)
        }
        let end = peeked.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? peeked.count
        guard case .bytes(let taken) = VsockHostSockets.read(descriptor, limit: end), taken.count == end else {
            return dropClient(descriptor)
        }
        let line = sofar + taken
        guard line.last == UInt8(ascii: "\n") else {
            if line.count >= Self.maxConnectLine { dropClient(descriptor) } else { clients[descriptor] = line }
            return
        }
        clients.removeValue(forKey: descriptor)
        guard let port = Self.parseConnectLine(line.dropLast()) else {
            warnOnce("connectline", "a host client sent something other than 'CONNECT PORT'; closed")
            close(descriptor)
            return
        }
        connectToGuest(descriptor, port: port)
    }

    private mutating func dropClient(_ descriptor: Int32) {
        clients.removeValue(forKey: descriptor)
        close(descriptor)
    }

    /// The port of "CONNECT PORT" (decimal, a 32-bit value), or nil.
    static func parseConnectLine(_ line: ArraySlice<UInt8>) -> UInt32? {
        let prefix = Array("CONNECT ".utf8)
        guard line.starts(with: prefix) else { return nil }
        let digits = line.dropFirst(prefix.count)
        guard (1...10).contains(digits.count), digits.allSatisfy({ (48...57).contains($0) }),
              let port = UInt32(String(decoding: digits, as: UTF8.self)) else { return nil }
        return port
    }

    /// A host client asked for guest port `port`: REQUEST from an unused host port.
    private mutating func connectToGuest(_ descriptor: Int32, port: UInt32) {
        var hostPort = nextHostPort
        while connections.keys.contains(where: { $0.hostPort == hostPort }) { hostPort = Self.followingHostPort(hostPort) }
        nextHostPort = Self.followingHostPort(hostPort)
        let key = VsockConnectionKey(hostPort: hostPort, guestPort: port)
        var connection = VsockConnection(key: key, serial: takeSerial(), descriptor: descriptor,
                                         phase: .awaitingResponse, bufferAllocation: limits.bufferAllocation)
        connection.requestedAt = VsockClock.now()
        connections[key] = connection
        outbox.append(.control(key, serial: connection.serial, op: .request, flags: 0))
    }

    private static func followingHostPort(_ port: UInt32) -> UInt32 {
        port == UInt32.max - 1 ? firstHostPort : port + 1
    }

    /// When the oldest unanswered host CONNECT runs out of time, if any waits.
    var nextResponseDeadline: Double? {
        connections.values.lazy.filter { $0.phase == .awaitingResponse }
            .map { $0.requestedAt + limits.responseTimeoutSeconds }.min()
    }

    /// Resets host CONNECTs the guest has not answered in time (the client
    /// sees its socket close); true when any was.
    mutating func expireUnansweredRequests(now: Double) -> Bool {
        let expired = connections.values.filter {
            $0.phase == .awaitingResponse && now - $0.requestedAt >= limits.responseTimeoutSeconds
        }.map(\.key)
        for key in expired {
            counters.unansweredRequests += 1
            abort(key)
        }
        return !expired.isEmpty
    }

    /// Device reset or exit: every stream and client closed, nothing waiting.
    mutating func closeAll() {
        for connection in connections.values { close(connection.descriptor) }
        for descriptor in clients.keys { close(descriptor) }
        connections = [:]
        clients = [:]
        outbox = []
        queuedResets = 0
        receiveQueue = nil
        transmitQueue = nil
        interrupt = nil
        isActive = false
        receiveBroken = false
        transmitBroken = false
    }

    private mutating func warnOnce(_ key: String, _ message: String) {
        guard warned.insert(key).inserted else { return }
        logger.warning("virtio-vsock: \(message)")
    }
}

/// Monotonic seconds, for the response timeout.
enum VsockClock {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
