import LKVMCore
import Logging
import Synchronization

/// virtio-console (virtio 1.2 section 5.3), one port and no MULTIPORT: the
/// guest's `hvc0`. Queue 0 (receiveq) carries host input to the guest, queue 1
/// (transmitq) guest output to the attached `ConsoleOutput`. With a size given
/// at init, the device offers VIRTIO_CONSOLE_F_SIZE and `cols`/`rows` in its
/// configuration space.
///
/// Host input comes through `receive(_:)`, from any thread. It waits in a
/// bounded queue (bytes beyond it are dropped and counted) until the driver
/// posts receive buffers, and survives device resets: Linux resets the device
/// when its driver probes, and input typed before that must still arrive.
///
/// Locks: the two directions have their own, never held together, so a sink
/// blocked on a slow stdout never holds up `receive`. Order:
///   transport lock → transmit lock → `output.write`, interrupt
///   transport lock or `receive` → receive lock → interrupt
/// The sink and the interrupt are leaves: they must never call this device.
/// Guest output reaches the sink in ring order, before its chain is returned.
///
/// A malformed chain (a `VirtQueueError`) stops its queue until reset: from a
/// notification the error is thrown to the transport, from `receive` it is
/// reported with `signalDeviceNeedsReset`; either way the transport sets
/// DEVICE_NEEDS_RESET and then ignores notifications, so the other queue
/// goes quiet too (host input may still fill a healthy receiveq). Buffers
/// in the wrong direction (readable on receiveq, writable on transmitq) are
/// no `VirtQueueError`: they are returned with used length 0 and logged once.
public final class VirtioConsole: VirtioDevice {
    public static let queueSize: UInt16 = 64
    public static let defaultReceiveCapacity = 64 * 1024
    /// The most guest output taken from one transmitq chain; the rest is
    /// dropped and counted. Linux's hvc writes are far smaller.
    public static let maxBytesPerTransmit = 64 * 1024

    private let offersSize: Bool
    private let receiver: Mutex<VirtioConsoleReceiver>
    private let transmitter: Mutex<VirtioConsoleTransmitter>
    private let logger = Logger(label: "lkvm.virtio.console")

    /// - Parameters:
    ///   - output: where guest output goes (stdout for `--console virtio`);
    ///     nil drops and counts it until `attach(output:)`.
    ///   - receiveCapacity: host input bytes held while the guest is not reading.
    ///   - size: offer VIRTIO_CONSOLE_F_SIZE with this size; nil offers no features.
    public init(output: (any ConsoleOutput)? = nil, receiveCapacity: Int = VirtioConsole.defaultReceiveCapacity,
                size: VirtioConsoleSize? = nil) {
        transmitter = Mutex(VirtioConsoleTransmitter(output: output))
        offersSize = size != nil
        receiver = Mutex(VirtioConsoleReceiver(capacity: receiveCapacity, size: size))
    }

    /// Sets (or replaces) where guest output goes; meant for before the guest runs.
    public func attach(output: any ConsoleOutput) {
        transmitter.withLock { $0.output = output }
    }

    public var deviceType: VirtioDeviceType { .console }
    public var deviceFeatures: UInt64 { offersSize ? VirtioConsoleFeature.size : 0 }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize] }
    public var configSize: Int { offersSize ? VirtioConsoleConfigLayout.sizeFieldsEnd : 0 }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        guard let consoleSize = receiver.withLock({ $0.size }) else { return 0 }
        var bytes = [UInt8](repeating: 0, count: VirtioConsoleConfigLayout.sizeFieldsEnd)
        for (field, value) in [(VirtioConsoleConfigLayout.columns, consoleSize.columns),
                               (VirtioConsoleConfigLayout.rows, consoleSize.rows)] {
            bytes[field] = UInt8(truncatingIfNeeded: value)
            bytes[field + 1] = UInt8(truncatingIfNeeded: value >> 8)
        }
        return configSpaceValue(bytes, offset: offset, size: size)
    }

    // The configuration space is read-only: writes are ignored (the default).

    /// Tells the guest the console's new size (a host SIGWINCH), with a
    /// configuration-change interrupt. Ignored unless a size was offered at init.
    public func resize(to size: VirtioConsoleSize) {
        guard offersSize else { return }
        receiver.withLock { receiver in
            guard receiver.size != size else { return }
            receiver.size = size
            receiver.interrupt?.signalConfigChange()
        }
    }

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        transmitter.withLock { transmitter in
            transmitter.queue = queues.count > VirtioConsoleQueue.transmit ? queues[VirtioConsoleQueue.transmit] : nil
            transmitter.interrupt = interrupt
        }
        receiver.withLock { receiver in
            receiver.queue = queues.first ?? nil
            receiver.interrupt = interrupt
        }
        // Buffers posted (and notified) before DRIVER_OK got no attention.
        do throws(VirtQueueError) {
            try transmitPending()
            try deliverPending()
        } catch {
            interrupt.signalDeviceNeedsReset(error)
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        switch index {
        case VirtioConsoleQueue.receive: try deliverPending()
        case VirtioConsoleQueue.transmit: try transmitPending()
        default: break
        }
    }

    /// Queues host input for the guest and delivers what the posted buffers
    /// can take; returns how many bytes fitted in the queue. Call from any
    /// thread (lkvm's stdin thread); bytes that do not fit are dropped and counted.
    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        return receiver.withLock { receiver in
            let accepted = receiver.enqueue(bytes)
            do throws(VirtQueueError) {
                try deliver(&receiver)
            } catch {
                // No transport to throw to. Signalled under the lock, so a
                // reset cannot come between the error and the report.
                receiver.interrupt?.signalDeviceNeedsReset(error)
            }
            return accepted
        }
    }

    /// Free room in the input queue, so an input thread can wait rather than drop.
    public var receiveRoom: Int { receiver.withLock { $0.pending.room } }
    /// Host input bytes dropped because the queue was full.
    public var droppedInputBytes: Int { receiver.withLock { $0.droppedBytes } }
    /// Host input bytes waiting for the guest to post buffers.
    public var pendingInputBytes: Int { receiver.withLock { $0.pending.count } }
    /// Guest output dropped: beyond `maxBytesPerTransmit` in a chain, or with no output attached.
    public var droppedOutputBytes: Int { transmitter.withLock { $0.droppedBytes } }

    /// Back to the state before `activate`. Pending host input is kept (see the type's comment).
    public func reset() {
        transmitter.withLock { $0.reset() }
        receiver.withLock { $0.reset() }
    }

    private func deliverPending() throws(VirtQueueError) {
        try receiver.withLock { receiver throws(VirtQueueError) in try deliver(&receiver) }
    }

    /// Delivery under the receive lock. A queue error stops receiveq until reset.
    private func deliver(_ receiver: inout VirtioConsoleReceiver) throws(VirtQueueError) {
        try receiver.pump(queue: VirtioConsoleQueue.receive) { receiver throws(VirtQueueError) in try receiver.deliver(logger) }
    }

    /// Transmission under the transmit lock. A queue error stops transmitq until reset.
    private func transmitPending() throws(VirtQueueError) {
        try transmitter.withLock { transmitter throws(VirtQueueError) in
            try transmitter.pump(queue: VirtioConsoleQueue.transmit) { transmitter throws(VirtQueueError) in
                try transmitter.drain(logger)
            }
        }
    }
}
