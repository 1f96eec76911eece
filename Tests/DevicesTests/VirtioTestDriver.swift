import LKVMCore
@testable import LKVMDevices
import Synchronization
import XCTest

/// Descriptor flags as a driver writes them.
enum Desc {
    static let next: UInt16 = 1, write: UInt16 = 2, indirect: UInt16 = 4
}

/// The driver's half of a split virtqueue laid out in heap-backed guest RAM:
/// what Linux's virtio_ring does, plus ways to break every rule.
struct FakeGuestRing {
    let memory: GuestMemory
    let size: UInt16
    let addresses: VirtQueueAddresses
    private(set) var availableIndex: UInt16 = 0

    /// Places the descriptor table at `base`, then the available and used
    /// rings, each aligned as the spec asks.
    init(memory: GuestMemory, size: UInt16, base: UInt64 = 0x1000) {
        self.memory = memory
        self.size = size
        let count = UInt64(size)
        let available = base + 16 * count
        let used = (available + 6 + 2 * count + 3) & ~3
        addresses = VirtQueueAddresses(descriptorTable: GuestAddress(base),
                                       availableRing: GuestAddress(available),
                                       usedRing: GuestAddress(used))
    }

    /// First byte after the rings: where tests may put buffers.
    var end: UInt64 { addresses.usedRing.raw + 6 + 8 * UInt64(size) }

    func setDescriptor(_ index: UInt16, address: UInt64, length: UInt32, flags: UInt16 = 0, next: UInt16 = 0,
                       table: UInt64? = nil) {
        let entry = (table ?? addresses.descriptorTable.raw) + 16 * UInt64(index)
        try! memory.store(address, at: GuestAddress(entry))
        try! memory.store(length, at: GuestAddress(entry + 8))
        try! memory.store(flags, at: GuestAddress(entry + 12))
        try! memory.store(next, at: GuestAddress(entry + 14))
    }

    /// Puts `head` in the next available slot and publishes it.
    mutating func makeAvailable(_ head: UInt16) {
        let slot = UInt64(availableIndex % size)
        try! memory.store(head, at: GuestAddress(addresses.availableRing.raw + 4 + 2 * slot))
        availableIndex &+= 1
        publishAvailableIndex(availableIndex)
    }

    /// Writes the available index as is, to lie about it.
    mutating func publishAvailableIndex(_ index: UInt16) {
        availableIndex = index
        try! memory.store(index, at: GuestAddress(addresses.availableRing.raw + 2))
    }

    func setAvailableFlags(_ flags: UInt16) {
        try! memory.store(flags, at: addresses.availableRing)
    }

    /// used_event: the used index at which the driver wants an interrupt.
    func setUsedEvent(_ index: UInt16) {
        try! memory.store(index, at: GuestAddress(addresses.availableRing.raw + 4 + 2 * UInt64(size)))
    }

    var usedIndex: UInt16 { try! memory.load(UInt16.self, at: GuestAddress(addresses.usedRing.raw + 2)) }

    /// avail_event: the device's request for the next notification.
    var availableEvent: UInt16 {
        try! memory.load(UInt16.self, at: GuestAddress(addresses.usedRing.raw + 4 + 8 * UInt64(size)))
    }

    /// (id, len) of used entry number `index` (taken modulo the size).
    func usedEntry(_ index: UInt16) -> (head: UInt32, length: UInt32) {
        let entry = addresses.usedRing.raw + 4 + 8 * UInt64(index % size)
        return (try! memory.load(UInt32.self, at: GuestAddress(entry)),
                try! memory.load(UInt32.self, at: GuestAddress(entry + 4)))
    }
}

func makeGuestMemory(size: UInt64 = 0x10_0000) -> GuestMemory {
    try! GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: size)!])
}

/// virtio-mmio register offsets, as Linux's virtio_mmio.h names them.
enum MMIO {
    static let magic: UInt64 = 0x000, version: UInt64 = 0x004, deviceID: UInt64 = 0x008
    static let vendorID: UInt64 = 0x00C, deviceFeatures: UInt64 = 0x010, deviceFeaturesSel: UInt64 = 0x014
    static let driverFeatures: UInt64 = 0x020, driverFeaturesSel: UInt64 = 0x024
    static let queueSel: UInt64 = 0x030, queueNumMax: UInt64 = 0x034, queueNum: UInt64 = 0x038
    static let queueReady: UInt64 = 0x044, queueNotify: UInt64 = 0x050
    static let interruptStatus: UInt64 = 0x060, interruptACK: UInt64 = 0x064, status: UInt64 = 0x070
    static let queueDescLow: UInt64 = 0x080, queueDescHigh: UInt64 = 0x084
    static let queueDriverLow: UInt64 = 0x090, queueDriverHigh: UInt64 = 0x094
    static let queueDeviceLow: UInt64 = 0x0A0, queueDeviceHigh: UInt64 = 0x0A4
    static let shmSel: UInt64 = 0x0AC, shmLenLow: UInt64 = 0x0B0
    static let configGeneration: UInt64 = 0x0FC, config: UInt64 = 0x100
}

enum Status {
    static let acknowledge: UInt32 = 1, driver: UInt32 = 2, driverOK: UInt32 = 4
    static let featuresOK: UInt32 = 8, needsReset: UInt32 = 0x40, failed: UInt32 = 0x80
}

enum Feature {
    static let indirect: UInt64 = 1 << 28, eventIndex: UInt64 = 1 << 29, version1: UInt64 = 1 << 32
}

/// A guest driver that programs a virtio-mmio transport through its registers
/// in the order Linux's virtio_mmio and virtio core do.
final class FakeMMIODriver {
    let memory: GuestMemory
    let line = RecordingInterruptLine()
    let transport: VirtioMMIOTransport
    var ring: FakeGuestRing

    init(device: any VirtioDevice, queueSize: UInt16 = 8, memory: GuestMemory = makeGuestMemory()) {
        self.memory = memory
        transport = VirtioMMIOTransport(device: device, memory: memory, line: line, name: "virtio-test")
        ring = FakeGuestRing(memory: memory, size: queueSize)
    }

    func read(_ offset: UInt64) -> UInt32 { UInt32(transport.read(offset: offset, size: 4)) }
    func write(_ offset: UInt64, _ value: UInt32) { transport.write(offset: offset, size: 4, value: UInt64(value)) }

    var status: UInt32 { read(MMIO.status) }
    var needsReset: Bool { status & Status.needsReset != 0 }

    /// virtio_mmio_probe: magic, version, then a non-zero device ID.
    func probe() -> UInt32? {
        guard read(MMIO.magic) == 0x7472_6976, read(MMIO.version) == 2 else { return nil }
        let id = read(MMIO.deviceID)
        return id == 0 ? nil : id
    }

    /// vm_get_features: high word first, as Linux reads it.
    func deviceFeatures() -> UInt64 {
        write(MMIO.deviceFeaturesSel, 1)
        let high = UInt64(read(MMIO.deviceFeatures)) << 32
        write(MMIO.deviceFeaturesSel, 0)
        return high | UInt64(read(MMIO.deviceFeatures))
    }

    func writeDriverFeatures(_ features: UInt64) {
        write(MMIO.driverFeaturesSel, 1)
        write(MMIO.driverFeatures, UInt32(truncatingIfNeeded: features >> 32))
        write(MMIO.driverFeaturesSel, 0)
        write(MMIO.driverFeatures, UInt32(truncatingIfNeeded: features))
    }

    /// Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (re-read): true when
    /// the device kept FEATURES_OK.
    @discardableResult
    func negotiate(_ wanted: UInt64) -> Bool {
        write(MMIO.status, 0)
        write(MMIO.status, Status.acknowledge)
        write(MMIO.status, Status.acknowledge | Status.driver)
        writeDriverFeatures(wanted)
        write(MMIO.status, Status.acknowledge | Status.driver | Status.featuresOK)
        return status & Status.featuresOK != 0
    }

    /// vm_setup_vq for queue 0 with the fake ring's layout.
    func setUpQueue(index: UInt32 = 0, size: UInt32? = nil) {
        write(MMIO.queueSel, index)
        XCTAssertEqual(read(MMIO.queueReady), 0, "a queue is not ready before setup")
        XCTAssertGreaterThan(read(MMIO.queueNumMax), 0)
        write(MMIO.queueNum, size ?? UInt32(ring.size))
        let addresses = ring.addresses
        for (low, value) in [(MMIO.queueDescLow, addresses.descriptorTable), (MMIO.queueDriverLow, addresses.availableRing),
                             (MMIO.queueDeviceLow, addresses.usedRing)] {
            write(low, UInt32(truncatingIfNeeded: value.raw))
            write(low + 4, UInt32(truncatingIfNeeded: value.raw >> 32))
        }
        write(MMIO.queueReady, 1)
    }

    func driverOK() {
        write(MMIO.status, Status.acknowledge | Status.driver | Status.featuresOK | Status.driverOK)
    }

    /// The whole bring-up; `features` defaults to everything offered.
    func bringUp(features: UInt64? = nil) {
        XCTAssertNotNil(probe())
        XCTAssertTrue(negotiate(features ?? deviceFeatures()))
        setUpQueue()
        driverOK()
        XCTAssertEqual(status & Status.driverOK, Status.driverOK)
    }

    func notify(_ queue: UInt32 = 0) { write(MMIO.queueNotify, queue) }

    /// vm_interrupt: read InterruptStatus, acknowledge it, return it.
    @discardableResult
    func handleInterrupt() -> UInt32 {
        let pending = read(MMIO.interruptStatus)
        write(MMIO.interruptACK, pending)
        return pending
    }
}

/// A device with a configuration space and two queues, that records calls
/// and answers each chain by echoing its readable bytes into its writable part.
final class EchoDevice: VirtioDevice {
    struct Record {
        var config: [UInt8] = Array(0..<12)
        var activations: [(queues: [VirtQueue?], features: UInt64)] = []
        var notifications: [Int] = []
        var resets = 0
        var queues: [VirtQueue?] = []
        var interrupt: (any VirtioInterrupt)?
    }

    let record = Mutex(Record())
    var deviceType: VirtioDeviceType { .console }
    var deviceFeatures: UInt64 { 1 << 0 | 1 << 40 }
    var queueMaxSizes: [UInt16] { [16, 8] }
    var configSize: Int { 12 }

    func readConfig(offset: Int, size: Int) -> UInt64 {
        record.withLock { record in
            record.config[offset..<(offset + size)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    func writeConfig(offset: Int, size: Int, value: UInt64) {
        record.withLock { record in
            for byte in 0..<size { record.config[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
        }
    }

    func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64, interrupt: any VirtioInterrupt) {
        record.withLock {
            $0.activations.append((queues, features))
            $0.queues = queues
            $0.interrupt = interrupt
        }
    }

    func queueNotified(_ index: Int) throws(VirtQueueError) {
        try record.withLock { record throws(VirtQueueError) in
            record.notifications.append(index)
            guard var queue = record.queues[index] else { return }
            defer { record.queues[index] = queue }
            while let chain = try queue.nextChain() {
                let input = try chain.readReadableBytes(limit: 4096)
                let written = try chain.writeWritable(input, at: 0)
                try queue.addUsed(head: chain.head, writtenLength: UInt32(written))
            }
            if try queue.needsNotification() { record.interrupt?.signalUsedBuffer(queue: index) }
        }
    }

    func reset() {
        record.withLock {
            $0.resets += 1
            $0.queues = []
        }
    }

    var notificationCount: Int { record.withLock { $0.notifications.count } }
    var activationCount: Int { record.withLock { $0.activations.count } }
}

/// Predictable "random" bytes: 1, 2, 3, ... wrapping.
struct CountingEntropy: EntropySource {
    func randomBytes(_ count: Int) throws(EntropyError) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 + 1) }
    }
}

struct FailingEntropy: EntropySource {
    func randomBytes(_ count: Int) throws(EntropyError) -> [UInt8] { throw .hostFailed(errno: 5) }
}
