import Glibc
import LKVMCore
import Logging

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
    var connections: [VsockConnectionKey: VsockConnection] = [:]
    /// Host clients still writing their CONNECT line: descriptor → bytes so far.
    var clients: [Int32: [UInt8]] = [:]
    var outbox: [VsockOutboxEntry] = []
    private var queuedResets = 0
    private var nextSerial: UInt64 = 0
    var nextHostPort = firstHostPort
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

    var openCount: Int { connections.count + clients.count }

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
    mutating func flushToHost(_ key: VsockConnectionKey) {
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

    mutating func takeSerial() -> UInt64 {
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

    mutating func warnOnce(_ key: String, _ message: String) {
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
