import Logging

/// The host-to-guest half of virtio-console: host input waiting in a bounded
/// queue, and the receiveq whose device-writable buffers it goes into.
/// Guarded by the console's receive lock; the queue lives on across device
/// resets so that input typed before the driver is ready still arrives.
struct VirtioConsoleReceiver {
    var pending: ByteQueue
    var droppedBytes = 0
    var queue: VirtQueue?
    var interrupt: (any VirtioInterrupt)?
    /// The size offered with VIRTIO_CONSOLE_F_SIZE, if any.
    var size: VirtioConsoleSize?
    /// A queue error was seen: nothing moves until the driver resets the device.
    var isBroken = false
    var warnedAboutUnwritableBuffer = false

    init(capacity: Int, size: VirtioConsoleSize?) {
        pending = ByteQueue(capacity: capacity)
        self.size = size
    }

    /// Queues host input; returns how many bytes fitted. The rest are counted as dropped.
    mutating func enqueue(_ bytes: [UInt8]) -> Int {
        let accepted = pending.append(contentsOf: bytes)
        droppedBytes += bytes.count - accepted
        return accepted
    }

    /// Moves pending input into the buffers the driver has posted, one chain
    /// at a time, each filled as far as input and room allow. Returns whether
    /// the driver wants a used-buffer interrupt.
    ///
    /// Chains are taken only while input waits, so posted buffers stay with
    /// the device until there is something to put in them. When input remains
    /// and the ring is empty, `nextChain()` has asked (with EVENT_IDX) to be
    /// notified of the next buffer.
    mutating func deliver(_ logger: Logger) throws(VirtQueueError) -> Bool {
        guard !isBroken, var queue else { return false }
        defer { self.queue = queue }
        while !pending.isEmpty, let chain = try queue.nextChain() {
            let room = Int(min(chain.writableLength, UInt64(pending.count)))
            if room == 0 { warnAboutUnwritableBuffer(head: chain.head, logger) }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(room)
            while bytes.count < room, let byte = pending.popFirst() { bytes.append(byte) }
            let written = try chain.writeWritable(bytes, at: 0)
            try queue.addUsed(head: chain.head, writtenLength: UInt32(written))
        }
        return try queue.needsNotification()
    }

    /// A receiveq buffer the device cannot write (virtio 1.2 5.3.6.1 forbids
    /// it): returned empty, logged once.
    private mutating func warnAboutUnwritableBuffer(head: UInt16, _ logger: Logger) {
        guard !warnedAboutUnwritableBuffer else { return }
        warnedAboutUnwritableBuffer = true
        logger.warning("virtio-console: receiveq chain \(head) has no device-writable buffer; returned with 0 bytes")
    }

    /// Device reset: the queue and interrupt go; pending input and counters stay.
    mutating func reset() {
        queue = nil
        interrupt = nil
        isBroken = false
    }
}
