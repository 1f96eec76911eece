import LKVMCore

/// How a device tells the guest something happened. The transport implements
/// it (one interrupt line for MMIO; MSI-X vectors per queue for PCI). Callable
/// from any thread, with the device's lock held: it never calls the device.
public protocol VirtioInterrupt: Sendable {
    /// Used buffers were added to queue `queue` and the queue wants to know.
    func signalUsedBuffer(queue: Int)
    /// The device configuration space changed.
    func signalConfigChange()
    /// A queue is broken beyond use: the transport logs it once, sets
    /// DEVICE_NEEDS_RESET and tells the driver with a config-change interrupt.
    /// For work outside `queueNotified` (host input, backends); `queueNotified` throws instead.
    func signalDeviceNeedsReset(_ error: VirtQueueError)
}

/// A virtio device, independent of its transport. The transport owns the
/// status state machine, feature negotiation and queue registers; the device
/// declares what it is and does the work once activated.
///
/// Calls come with the transport's lock held (queue notifications on the
/// device's queue worker thread, the rest on vCPU threads), so they never
/// overlap for one device, but a device running work on its own threads must
/// guard its state.
public protocol VirtioDevice: AnyObject, Sendable {
    var deviceType: VirtioDeviceType { get }
    /// The device's own feature bits; the transport adds `VirtioFeature.transportOffered`.
    var deviceFeatures: UInt64 { get }
    /// One entry per queue: the largest size the device accepts (a power of two).
    var queueMaxSizes: [UInt16] { get }
    /// Bytes of device-specific configuration space.
    var configSize: Int { get }
    /// Reads `size` bytes (1, 2, 4 or 8) at `offset`; the transport has checked
    /// that they lie inside `configSize`. Little-endian in the result.
    func readConfig(offset: Int, size: Int) -> UInt64
    /// Writes to the configuration space, range checked like `readConfig`.
    func writeConfig(offset: Int, size: Int, value: UInt64)
    /// The driver set DRIVER_OK. `queues` has one entry per `queueMaxSizes`
    /// entry, nil for a queue the driver did not enable; `features` are the
    /// ones negotiated.
    func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64, interrupt: any VirtioInterrupt)
    /// The driver notified queue `index` (only after `activate`). A thrown
    /// error makes the transport set DEVICE_NEEDS_RESET.
    func queueNotified(_ index: Int) throws(VirtQueueError)
    /// Back to the state before `activate`: drop queues and pending work.
    func reset()
}

extension VirtioDevice {
    public var configSize: Int { 0 }
    public func readConfig(offset: Int, size: Int) -> UInt64 { 0 }
    public func writeConfig(offset: Int, size: Int, value: UInt64) {}
}

/// Reads a little-endian field of `size` bytes at `offset` from a device's
/// configuration space bytes; outside them it reads 0.
public func configSpaceValue(_ bytes: [UInt8], offset: Int, size: Int) -> UInt64 {
    guard offset >= 0, size > 0, size <= 8, offset <= bytes.count - size else { return 0 }
    return bytes[offset..<(offset + size)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
}
