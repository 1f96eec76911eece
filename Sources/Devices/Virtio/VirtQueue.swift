import LKVMCore
import Synchronization

/// Where the driver put a queue's three areas (the transport's QueueDesc,
/// QueueDriver and QueueDevice registers).
public struct VirtQueueAddresses: Equatable, Sendable {
    public var descriptorTable: GuestAddress
    public var availableRing: GuestAddress
    public var usedRing: GuestAddress

    public init(descriptorTable: GuestAddress, availableRing: GuestAddress, usedRing: GuestAddress) {
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
    }
}

/// The device side of a split virtqueue (virtio 1.2 section 2.7). Guest RAM
/// is shared with a driver that may be hostile: every address, index and
/// length read from it is checked, and a violation is a `VirtQueueError`.
///
/// Devices drain a queue on each notification: call `nextChain()` until it
/// returns nil, `addUsed` for each chain, then `needsNotification()`. With
/// VIRTIO_F_EVENT_IDX, finding the ring empty is what asks the driver for the
/// next notification, so stopping before nil means none may come.
public struct VirtQueue: Sendable {
    public static let maxSize: UInt16 = 32768
    static let availableNoInterrupt: UInt16 = 1  // VIRTQ_AVAIL_F_NO_INTERRUPT

    public let size: UInt16
    public let addresses: VirtQueueAddresses
    public let usesEventIndex: Bool
    public let allowsIndirect: Bool
    private let memory: GuestMemory

    /// The driver's available index up to which chains were taken.
    public private(set) var nextAvailableIndex: UInt16 = 0
    /// Our copy of the used index; never read back from guest memory.
    public private(set) var nextUsedIndex: UInt16 = 0
    private var usedIndexAtLastCheck: UInt16 = 0
    private var usedSinceLastCheck = 0
    /// Set by the transport when the device's traffic is traced; nil otherwise.
    var trace: VirtQueueTrace?

    /// Checks the size and that the three areas lie in guest RAM, aligned as
    /// the spec's table in 2.7 requires.
    public init(size: UInt16, deviceMaxSize: UInt16, addresses: VirtQueueAddresses,
                features: UInt64, memory: GuestMemory) throws(VirtQueueError) {
        let limit = min(deviceMaxSize, Self.maxSize)
        guard size > 0, size <= limit, size & (size - 1) == 0 else { throw .badSize(UInt32(size), max: limit) }
        let count = UInt64(size)
        try Self.check(.descriptorTable, addresses.descriptorTable, length: 16 * count, alignment: 16, memory)
        try Self.check(.availableRing, addresses.availableRing, length: 6 + 2 * count, alignment: 2, memory)
        try Self.check(.usedRing, addresses.usedRing, length: 6 + 8 * count, alignment: 4, memory)
        self.size = size
        self.addresses = addresses
        self.memory = memory
        usesEventIndex = features & VirtioFeature.eventIndex != 0
        allowsIndirect = features & VirtioFeature.indirectDescriptors != 0
    }

    private static func check(_ area: VirtQueueArea, _ address: GuestAddress, length: UInt64,
                              alignment: UInt64, _ memory: GuestMemory) throws(VirtQueueError) {
        guard address.raw % alignment == 0 else { throw .areaMisaligned(area, address, alignment: alignment) }
        guard memory.contains(address, length: length) else { throw .areaOutOfRange(area, address, length: length) }
    }

    // Offsets inside the rings: flags at 0, index at 2, entries from 4, and
    // the event word after the last entry.
    private var availableIndexAddress: GuestAddress { GuestAddress(addresses.availableRing.raw + 2) }
    private var usedEventAddress: GuestAddress { GuestAddress(addresses.availableRing.raw + 4 + 2 * UInt64(size)) }
    private var usedIndexAddress: GuestAddress { GuestAddress(addresses.usedRing.raw + 2) }
    private var availableEventAddress: GuestAddress { GuestAddress(addresses.usedRing.raw + 4 + 8 * UInt64(size)) }

    /// The next chain the driver made available, or nil when there is none.
    public mutating func nextChain() throws(VirtQueueError) -> DescriptorChain? {
        var available = try load(UInt16.self, at: availableIndexAddress)
        if available == nextAvailableIndex {
            guard usesEventIndex else { return nil }
            // Ask to be told about the next chain, then look once more: the
            // driver may have added one before it could see the request.
            try store(nextAvailableIndex, at: availableEventAddress)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            available = try load(UInt16.self, at: availableIndexAddress)
            if available == nextAvailableIndex { return nil }
        }
        guard available &- nextAvailableIndex <= size else {
            throw .availableIndexJumped(from: nextAvailableIndex, to: available, size: size)
        }
        // Ring entries and descriptors only after the index that published them.
        atomicMemoryFence(ordering: .acquiring)
        let slot = UInt64(nextAvailableIndex % size)
        let head = try load(UInt16.self, at: GuestAddress(addresses.availableRing.raw + 4 + 2 * slot))
        guard head < size else { throw .headOutOfRange(head, size: size) }
        let walker = DescriptorChainWalker(memory: memory, descriptorTable: addresses.descriptorTable,
                                           queueSize: size, allowsIndirect: allowsIndirect)
        let segments: [DescriptorSegment]
        if let trace {
            segments = try Self.walk(walker, head, tracedBy: trace)
        } else {
            segments = try walker.walk(from: head)
        }
        nextAvailableIndex &+= 1
        return DescriptorChain(head: head, segments: segments, memory: memory, trace: trace)
    }

    /// Returns a chain to the driver: the used entry, then the index that
    /// publishes it. `writtenLength` is what the device wrote into the chain.
    public mutating func addUsed(head: UInt16, writtenLength: UInt32) throws(VirtQueueError) {
        let entry = addresses.usedRing.raw + 4 + 8 * UInt64(nextUsedIndex % size)
        try store(UInt32(head), at: GuestAddress(entry))
        try store(writtenLength, at: GuestAddress(entry + 4))
        atomicMemoryFence(ordering: .releasing)
        nextUsedIndex &+= 1
        usedSinceLastCheck += 1
        try store(nextUsedIndex, at: usedIndexAddress)
        trace?.used(head: head, length: writtenLength)
    }

    /// Whether the driver wants a used-buffer notification for the entries
    /// added since the last call: by used_event with VIRTIO_F_EVENT_IDX,
    /// otherwise unless it set VIRTQ_AVAIL_F_NO_INTERRUPT.
    public mutating func needsNotification() throws(VirtQueueError) -> Bool {
        let previous = usedIndexAtLastCheck
        let added = usedSinceLastCheck
        usedIndexAtLastCheck = nextUsedIndex
        usedSinceLastCheck = 0
        guard added > 0 else { return false }
        // Our used index must be visible before we read what the driver asked.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if usesEventIndex {
            // A 16-bit window cannot tell after 65536 entries: notify.
            guard added < 1 << 16 else { return true }
            let usedEvent = try load(UInt16.self, at: usedEventAddress)
            // The spec's vring_need_event: was used_event crossed by this batch?
            let wanted = nextUsedIndex &- usedEvent &- 1 < nextUsedIndex &- previous
            if !wanted {
                trace?.emit("no interrupt: used idx \(previous)->\(nextUsedIndex) did not pass used_event \(usedEvent)")
            }
            return wanted
        }
        let flags = try load(UInt16.self, at: addresses.availableRing)
        let wanted = flags & Self.availableNoInterrupt == 0
        if !wanted { trace?.emit("no interrupt: driver set VIRTQ_AVAIL_F_NO_INTERRUPT") }
        return wanted
    }

    /// Walks a chain recording its layout, and traces it taken or rejected.
    private static func walk(_ walker: DescriptorChainWalker, _ head: UInt16,
                             tracedBy trace: VirtQueueTrace) throws(VirtQueueError) -> [DescriptorSegment] {
        var layout: [VirtioTraceDescriptor]? = []
        do {
            let segments = try walker.walk(from: head, layout: &layout)
            trace.chainTaken(head: head, layout: layout ?? [])
            return segments
        } catch {
            trace.chainRejected(head: head, layout: layout ?? [])
            throw error
        }
    }

    private func load<T: FixedWidthInteger>(_ type: T.Type, at address: GuestAddress) throws(VirtQueueError) -> T {
        do { return try memory.load(type, at: address) } catch { throw .memory(error) }
    }

    private func store<T: FixedWidthInteger>(_ value: T, at address: GuestAddress) throws(VirtQueueError) {
        do { try memory.store(value, at: address) } catch { throw .memory(error) }
    }
}

extension VirtQueue {
    /// Hands every available chain to `serve`, returns each to the driver with
    /// the length `serve` wrote, and says whether the driver wants an interrupt.
    mutating func serveAvailable(
        _ serve: (DescriptorChain) throws(VirtQueueError) -> UInt32
    ) throws(VirtQueueError) -> Bool {
        while let chain = try nextChain() {
            let written = try serve(chain)
            try addUsed(head: chain.head, writtenLength: written)
        }
        return try needsNotification()
    }
}
