import LKVMCore
import Logging
import Synchronization

/// virtio-net (virtio 1.2 section 5.1), one queue pair and no control queue,
/// in front of a `NetBackend` (a host TAP interface). Features: MAC (the
/// address in the configuration space) and STATUS (link always up). No
/// offloads and no MRG_RXBUF: every packet is a plain, fully checksummed
/// frame behind a 12-byte header, and each receive buffer takes one whole
/// packet (Linux then posts buffers of 1518 + 12 bytes).
///
/// Guest packets (transmitq) go to the backend on the queue worker thread,
/// each before its chain is returned with used length 0. Host packets come
/// through `receive(_:)` from the backend's thread (`start()` hooks them up):
/// they wait in a backlog bounded in bytes until the driver posts receive
/// buffers; packets that find it full, or arrive while the driver is not
/// running, are dropped and counted, as on a wire. A packet too large for
/// the buffer at the head of receiveq is dropped and counted, and the buffer
/// kept for the next packet.
///
/// Locks: one per direction, never held together. Order:
///   transport lock → transmit lock → backend `send`, interrupt
///   transport lock or backend thread → receive lock → interrupt
/// The backend and the interrupt are leaves: they never call this device.
public final class VirtioNet: VirtioDevice {
    public static let queueSize: UInt16 = 256
    public static let ethernetHeaderSize = 14
    /// The largest packet (header + frame) taken from transmitq: a 64 KiB
    /// frame, far above any MTU without GSO.
    public static let maxPacketLength = VirtioNetHeader.size + 64 * 1024
    public static let defaultBacklogCapacity = 1024 * 1024

    public let mac: MACAddress
    public let backend: any NetBackend
    private let receiver: Mutex<VirtioNetReceiver>
    private let transmitter: Mutex<VirtioNetTransmitter>
    private let logger = Logger(label: "lkvm.virtio.net")

    /// - Parameters:
    ///   - mac: the guest's address; nil derives one from the backend's identity.
    ///   - backlogCapacity: bytes of host packets held while the guest posts no buffers.
    public init(backend: any NetBackend, mac: MACAddress? = nil,
                backlogCapacity: Int = VirtioNet.defaultBacklogCapacity) {
        self.backend = backend
        self.mac = mac ?? MACAddress.derived(from: backend.identity)
        receiver = Mutex(VirtioNetReceiver(capacity: backlogCapacity))
        transmitter = Mutex(VirtioNetTransmitter(backend: backend))
    }

    /// Starts the backend's delivery of host packets into this device (its
    /// receive thread). Call once, before or after the guest starts.
    public func start() throws(NetBackendError) {
        try backend.start { [weak self] packet in self?.receive(packet) }
    }

    /// Stops the backend (joining its thread) and closes it.
    public func stop() {
        backend.close()
    }

    public var deviceType: VirtioDeviceType { .network }
    public var deviceFeatures: UInt64 { VirtioNetFeature.mac | VirtioNetFeature.status }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize] }
    public var configSize: Int { VirtioNetConfigLayout.size }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        var bytes = mac.bytes + [0, 0]
        bytes[VirtioNetConfigLayout.status] = UInt8(VirtioNetConfigLayout.linkUp)
        return configSpaceValue(bytes, offset: offset, size: size)
    }

    // The driver must not write the MAC with VERSION_1 (5.1.4.2): writes are ignored.

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        transmitter.withLock { transmitter in
            transmitter.queue = queues.count > VirtioNetQueue.transmit ? queues[VirtioNetQueue.transmit] : nil
            transmitter.interrupt = interrupt
        }
        receiver.withLock { receiver in
            receiver.queue = queues.first ?? nil
            receiver.interrupt = interrupt
            receiver.isActive = true
        }
        // Packets the driver queued before DRIVER_OK got no attention.
        do throws(VirtQueueError) {
            try transmitPending()
        } catch {
            interrupt.signalDeviceNeedsReset(error)
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        switch index {
        case VirtioNetQueue.receive:
            try receiver.withLock { receiver throws(VirtQueueError) in try deliver(&receiver) }
        case VirtioNetQueue.transmit:
            try transmitPending()
        default:
            break
        }
    }

    /// A packet from the host (header + frame, as `NetBackend` defines it),
    /// from any thread: queued and delivered to what buffers the guest has
    /// posted. Returns false when it was dropped (counted in `receiveDrops`).
    @discardableResult
    public func receive(_ packet: [UInt8]) -> Bool {
        receiver.withLock { receiver in
            guard receiver.enqueue(packet) else { return false }
            do throws(VirtQueueError) {
                try deliver(&receiver)
            } catch {
                // No transport to throw to; signalled under the lock so a
                // reset cannot come between the error and the report.
                receiver.interrupt?.signalDeviceNeedsReset(error)
            }
            return true
        }
    }

    public var receiveDrops: VirtioNetReceiveDrops { receiver.withLock { $0.drops } }
    public var transmitDrops: VirtioNetTransmitDrops { transmitter.withLock { $0.drops } }
    /// Packets put into guest receive buffers.
    public var deliveredPackets: Int { receiver.withLock { $0.delivered } }
    /// Packets handed to the backend.
    public var sentPackets: Int { transmitter.withLock { $0.sent } }
    /// Host packets waiting for receive buffers.
    public var backlogCount: Int { receiver.withLock { $0.backlogCount } }

    /// Back to the state before `activate`; waiting host packets are dropped.
    public func reset() {
        transmitter.withLock { $0.reset() }
        receiver.withLock { $0.reset() }
    }

    /// Delivery under the receive lock. A queue error stops receiveq until reset.
    private func deliver(_ receiver: inout VirtioNetReceiver) throws(VirtQueueError) {
        try receiver.pump(queue: VirtioNetQueue.receive) { receiver throws(VirtQueueError) in try receiver.deliver(logger) }
    }

    /// Transmission under the transmit lock. A queue error stops transmitq until reset.
    private func transmitPending() throws(VirtQueueError) {
        try transmitter.withLock { transmitter throws(VirtQueueError) in
            try transmitter.pump(queue: VirtioNetQueue.transmit) { transmitter throws(VirtQueueError) in
                try transmitter.drain(logger)
            }
        }
    }
}
