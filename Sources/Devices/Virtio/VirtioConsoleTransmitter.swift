import Logging

/// The guest-to-host half of virtio-console: the transmitq, whose
/// device-readable buffers go to the console's output sink. Guarded by the
/// console's transmit lock.
struct VirtioConsoleTransmitter {
    var output: (any ConsoleOutput)?
    var queue: VirtQueue?
    var interrupt: (any VirtioInterrupt)?
    /// Guest output beyond `VirtioConsole.maxBytesPerTransmit` in one chain,
    /// or sent while no output was attached.
    var droppedBytes = 0
    var isBroken = false
    var warnedAboutOversizedChain = false
    var warnedAboutWritableBuffer = false
    var warnedAboutMissingOutput = false

    /// Sends every chain's readable bytes to `output`, in ring order and each
    /// before its chain is returned, with used length 0 (nothing written).
    /// Returns whether the driver wants a used-buffer interrupt.
    mutating func drain(_ logger: Logger) throws(VirtQueueError) -> Bool {
        guard !isBroken, var queue else { return false }
        defer { self.queue = queue }
        return try queue.serveAvailable { chain throws(VirtQueueError) in
            let bytes = try chain.readReadableBytes(limit: VirtioConsole.maxBytesPerTransmit)
            noteOddities(of: chain, sent: bytes.count, logger)
            if !bytes.isEmpty { send(bytes, logger) }
            return 0
        }
    }

    private mutating func send(_ bytes: [UInt8], _ logger: Logger) {
        if let output {
            output.write(bytes)
            return
        }
        droppedBytes += bytes.count
        if !warnedAboutMissingOutput {
            warnedAboutMissingOutput = true
            logger.warning("virtio-console: guest output with no output attached; dropped")
        }
    }

    /// Too long a chain loses its tail; a device-writable buffer (forbidden
    /// on transmitq by 5.3.6.1) is ignored. Each is logged once.
    private mutating func noteOddities(of chain: DescriptorChain, sent: Int, _ logger: Logger) {
        let readable = chain.readableLength
        if readable > UInt64(sent) {
            droppedBytes += Int(readable - UInt64(sent))
            if !warnedAboutOversizedChain {
                warnedAboutOversizedChain = true
                logger.warning("""
                    virtio-console: transmitq chain \(chain.head) holds \(readable) bytes; \
                    only the first \(sent) were written
                    """)
            }
        }
        if !chain.writableSegments.isEmpty, !warnedAboutWritableBuffer {
            warnedAboutWritableBuffer = true
            logger.warning("virtio-console: transmitq chain \(chain.head) has a device-writable buffer; ignored")
        }
    }

    mutating func reset() {
        queue = nil
        interrupt = nil
        isBroken = false
    }
}
