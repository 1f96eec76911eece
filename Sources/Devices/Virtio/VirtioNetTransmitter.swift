import Logging

/// Counters of guest packets that never left, by reason.
public struct VirtioNetTransmitDrops: Equatable, Sendable {
    /// Fewer readable bytes than a header and an Ethernet header.
    public var malformed = 0
    /// More than `VirtioNet.maxPacketLength` readable bytes.
    public var tooLarge = 0
    /// The backend refused it (an error other than a full queue).
    public var backendFailed = 0

    public init() {}
}

/// The guest-to-host half of virtio-net: transmitq, whose chains each hold
/// one packet (header + frame) in their readable part. Guarded by the
/// device's transmit lock.
struct VirtioNetTransmitter {
    let backend: any NetBackend
    var queue: VirtQueue?
    var interrupt: (any VirtioInterrupt)?
    var isBroken = false
    var drops = VirtioNetTransmitDrops()
    var sent = 0
    private var warned: Set<String> = []

    init(backend: any NetBackend) {
        self.backend = backend
    }

    /// Sends every chain's packet to the backend, in ring order and each
    /// before its chain is returned with used length 0. Returns whether the
    /// driver wants an interrupt.
    mutating func drain(_ logger: Logger) throws(VirtQueueError) -> Bool {
        guard !isBroken, var queue else { return false }
        defer { self.queue = queue }
        return try queue.serveAvailable { chain throws(VirtQueueError) in
            try transmit(chain, logger)
            return 0
        }
    }

    private mutating func transmit(_ chain: DescriptorChain, _ logger: Logger) throws(VirtQueueError) {
        if !chain.writableSegments.isEmpty {
            warnOnce("writable", logger, "virtio-net: transmitq chain \(chain.head) has a device-writable buffer; ignored")
        }
        let length = chain.readableLength
        guard length >= UInt64(VirtioNetHeader.size + VirtioNet.ethernetHeaderSize) else {
            drops.malformed += 1
            warnOnce("short", logger, "virtio-net: transmitq chain \(chain.head) holds only \(length) bytes; dropped")
            chain.traceNote("tx dropped: \(length) bytes is no header and frame")
            return
        }
        guard length <= UInt64(VirtioNet.maxPacketLength) else {
            drops.tooLarge += 1
            warnOnce("long", logger, """
                virtio-net: transmitq chain \(chain.head) holds \(length) bytes, more than \
                \(VirtioNet.maxPacketLength); dropped
                """)
            chain.traceNote("tx dropped: \(length) bytes is too long")
            return
        }
        var packet = try chain.readReadableBytes(limit: VirtioNet.maxPacketLength)
        // No offload was negotiated, so the header can only mean "plain
        // packet"; send that rather than whatever the guest wrote.
        packet.replaceSubrange(0..<VirtioNetHeader.size, with: VirtioNetHeader.plain(numBuffers: 0))
        chain.traceNote("tx frame \(packet.count - VirtioNetHeader.size) bytes")
        do {
            try backend.send(packet)
            sent += 1
        } catch {
            drops.backendFailed += 1
            warnOnce("backend", logger, "virtio-net: \(error); packets from the guest are dropped")
        }
    }

    mutating func warnOnce(_ key: String, _ logger: Logger, _ message: @autoclosure () -> String) {
        guard warned.insert(key).inserted else { return }
        logger.warning("\(message())")
    }

    mutating func reset() {
        queue = nil
        interrupt = nil
        isBroken = false
    }
}
