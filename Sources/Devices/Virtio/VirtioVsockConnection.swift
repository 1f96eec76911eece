/// A stream's address: the host's port and the guest's port.
struct VsockConnectionKey: Hashable, Sendable {
    let hostPort: UInt32
    let guestPort: UInt32
}

/// One stream between a guest port and a host Unix socket, and the credit
/// each side advertises (virtio 1.2 section 5.10.6.3). Counters are the
/// spec's wrapping 32-bit ones. Guarded by the device's lock.
struct VsockConnection {
    enum Phase {
        /// The host asked (CONNECT line): our REQUEST waits for the guest's RESPONSE.
        case awaitingResponse
        case established
    }

    let key: VsockConnectionKey
    /// Tells a connection from a later one with the same ports, for queued packets.
    let serial: UInt64
    let descriptor: Int32
    var phase: Phase
    /// When our REQUEST went out (monotonic seconds), for host-initiated streams.
    var requestedAt: Double = 0

    // Host → guest.
    var peerBufferAllocation: UInt32 = 0
    var peerForwardCount: UInt32 = 0
    /// tx_cnt: payload bytes put into the guest's buffers.
    var sentToGuest: UInt32 = 0
    /// Read from the socket within the guest's credit, not yet in its buffers.
    var toGuest: [UInt8] = []
    /// The socket said EOF: SHUTDOWN(SEND) queued, no more reading.
    var hostFinished = false

    // Guest → host.
    /// buf_alloc we advertise: the most guest bytes we hold for this stream.
    let bufferAllocation: UInt32
    /// rx_cnt: payload bytes the guest sent.
    var receivedFromGuest: UInt32 = 0
    /// fwd_cnt: of those, bytes the socket took.
    var forwarded: UInt32 = 0
    /// The fwd_cnt the guest last heard from us.
    var advertisedForwardCount: UInt32 = 0
    /// Guest bytes the socket has not taken yet; never above `bufferAllocation`.
    var toHost: [UInt8] = []
    /// Our own line for the host client ("OK PORT\n"), written before guest bytes.
    var hostLine: [UInt8] = []
    /// SHUTDOWN flags the guest sent.
    var guestShutdown: UInt32 = 0
    var hostWriteClosed = false
    /// A credit update or a data packet waits in the outbox (one of each at most).
    var creditUpdateQueued = false
    var dataQueued = false

    init(key: VsockConnectionKey, serial: UInt64, descriptor: Int32, phase: Phase, bufferAllocation: UInt32) {
        self.key = key
        self.serial = serial
        self.descriptor = descriptor
        self.phase = phase
        self.bufferAllocation = bufferAllocation
    }

    /// Bytes the guest can still take: buf_alloc - (tx_cnt - fwd_cnt), never
    /// negative however the guest's figures lie.
    var peerCredit: UInt32 {
        let inFlight = sentToGuest &- peerForwardCount
        return inFlight >= peerBufferAllocation ? 0 : peerBufferAllocation - inFlight
    }

    /// Credit not yet spoken for by bytes already read from the socket.
    var unreservedPeerCredit: Int { max(0, Int(peerCredit) - toGuest.count) }

    /// The room the guest may still fill: what we advertise minus what we hold.
    var ownFreeSpace: Int { Int(bufferAllocation) - toHost.count }

    /// Takes the guest's view of our buffer from any packet it sends.
    mutating func notePeerCredit(_ header: VsockHeader) {
        peerBufferAllocation = header.bufferAllocation
        peerForwardCount = header.forwardCount
    }

    /// Whether the guest should hear our fwd_cnt now: it has forwarded bytes
    /// it does not know of and believes less than half our buffer is free.
    var wantsCreditUpdate: Bool {
        guard forwarded != advertisedForwardCount else { return false }
        let guestBelievesUsed = receivedFromGuest &- advertisedForwardCount
        return guestBelievesUsed > bufferAllocation / 2
    }

    /// The header of a packet from the host to the guest on this stream;
    /// records the fwd_cnt it tells.
    mutating func header(op: VsockOp, guestCID: UInt64, flags: UInt32 = 0, length: UInt32 = 0) -> VsockHeader {
        advertisedForwardCount = forwarded
        return VsockHeader(sourceCID: VsockCID.host, destinationCID: guestCID, sourcePort: key.hostPort,
                           destinationPort: key.guestPort, length: length, op: op.rawValue, flags: flags,
                           bufferAllocation: bufferAllocation, forwardCount: forwarded)
    }
}
