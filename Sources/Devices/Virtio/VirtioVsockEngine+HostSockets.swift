import Glibc
import LKVMCore

/// VsockEngine's host side: the Unix socket's clients and their CONNECT
/// lines, and the host end of each stream, polled by the device's thread.
extension VsockEngine {
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
}
