import Logging

/// Counters of packets that never reached the guest, by reason.
public struct VirtioNetReceiveDrops: Equatable, Sendable {
    /// The backlog was full: the guest was not posting buffers fast enough.
    public var backlogFull = 0
    /// Larger than the receive buffer they were meant for (no MRG_RXBUF).
    public var tooLarge = 0
    /// Arrived while the driver was not running (before DRIVER_OK, after a reset).
    public var inactive = 0
    /// Shorter than a header and an Ethernet header.
    public var malformed = 0
    /// The backend's header asked for a checksum or segmentation offload the
    /// guest did not negotiate.
    public var offloaded = 0

    public init() {}
}

/// The host-to-guest half of virtio-net: packets from the backend waiting in
/// a bounded backlog, and receiveq, each of whose chains takes one packet.
/// Guarded by the device's receive lock.
struct VirtioNetReceiver {
    let capacity: Int
    /// Packets ready for the guest, header already rewritten; `backlogHead`
    /// is the first one still waiting.
    private var backlog: [[UInt8]] = []
    private var backlogHead = 0
    private(set) var backlogBytes = 0
    var queue: VirtQueue?
    var interrupt: (any VirtioInterrupt)?
    /// A chain taken for a packet that did not fit: kept for the next one.
    var heldChain: DescriptorChain?
    var isActive = false
    var isBroken = false
    var drops = VirtioNetReceiveDrops()
    var delivered = 0
    private var warned: Set<String> = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    var backlogCount: Int { backlog.count - backlogHead }

    /// Checks a backend packet and queues it for the guest; false when dropped.
    mutating func enqueue(_ packet: [UInt8]) -> Bool {
        guard isActive, !isBroken else {
            drops.inactive += 1
            return false
        }
        guard packet.count >= VirtioNetHeader.size + VirtioNet.ethernetHeaderSize else {
            drops.malformed += 1
            return false
        }
        guard !VirtioNetHeader.needsOffload(packet) else {
            drops.offloaded += 1
            return false
        }
        guard packet.count <= capacity - backlogBytes else {
            drops.backlogFull += 1
            return false
        }
        // The backend's flags (DATA_VALID, say) mean nothing without GUEST_CSUM,
        // and a tap leaves num_buffers as it found it: write both afresh.
        var ready = packet
        ready.replaceSubrange(0..<VirtioNetHeader.size, with: VirtioNetHeader.plain(numBuffers: 1))
        backlog.append(ready)
        backlogBytes += ready.count
        return true
    }

    private mutating func popPacket() -> [UInt8] {
        let packet = backlog[backlogHead]
        backlog[backlogHead] = []
        backlogHead += 1
        backlogBytes -= packet.count
        if backlogHead == backlog.count {
            backlog.removeAll(keepingCapacity: true)
            backlogHead = 0
        } else if backlogHead >= 64, backlogHead * 2 >= backlog.count {
            backlog.removeFirst(backlogHead)
            backlogHead = 0
        }
        return packet
    }

    /// Moves waiting packets into the buffers the driver has posted, one
    /// packet per chain. Returns whether the driver wants an interrupt.
    ///
    /// Chains are taken only while packets wait, so posted buffers stay with
    /// the device until needed; when packets remain and the ring is empty,
    /// `nextChain()` has asked (with EVENT_IDX) to hear of the next buffer.
    mutating func deliver(_ logger: Logger) throws(VirtQueueError) -> Bool {
        guard isActive, !isBroken, var queue else { return false }
        defer { self.queue = queue }
        while backlogCount > 0 {
            let chain: DescriptorChain
            if let held = heldChain {
                chain = held
                heldChain = nil
            } else if let next = try queue.nextChain() {
                chain = next
            } else {
                break
            }
            let room = chain.writableLength
            guard room >= UInt64(VirtioNetHeader.size) else {
                // Not even a header fits (5.1.6.3.1 forbids such buffers): back empty.
                warnOnce("unusable", logger, """
                    virtio-net: receiveq chain \(chain.head) has \(room) device-writable bytes, \
                    less than the \(VirtioNetHeader.size)-byte header; returned with 0 bytes
                    """)
                chain.traceNote("rx buffer of \(room) bytes is too small for a header")
                try queue.addUsed(head: chain.head, writtenLength: 0)
                continue
            }
            let packet = popPacket()
            guard UInt64(packet.count) <= room else {
                drops.tooLarge += 1
                warnOnce("tooLarge", logger, """
                    virtio-net: a \(packet.count - VirtioNetHeader.size)-byte frame does not fit a \
                    \(room)-byte receive buffer; dropped (is the host MTU above the guest's?)
                    """)
                heldChain = chain
                continue
            }
            let written = try chain.writeWritable(packet, at: 0)
            chain.traceNote("rx frame \(packet.count - VirtioNetHeader.size) bytes")
            try queue.addUsed(head: chain.head, writtenLength: UInt32(written))
            delivered += 1
        }
        return try queue.needsNotification()
    }

    mutating func warnOnce(_ key: String, _ logger: Logger, _ message: @autoclosure () -> String) {
        guard warned.insert(key).inserted else { return }
        logger.warning("\(message())")
    }

    /// Device reset: queue, interrupt, held chain and waiting packets go
    /// (they were for a driver that no longer exists); counters stay.
    mutating func reset() {
        queue = nil
        interrupt = nil
        heldChain = nil
        isActive = false
        isBroken = false
        backlog = []
        backlogHead = 0
        backlogBytes = 0
    }
}
