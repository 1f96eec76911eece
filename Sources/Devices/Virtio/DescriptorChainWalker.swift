import LKVMCore

/// `struct virtq_desc` (virtio 1.2 section 2.7.5): 16 bytes, little-endian.
struct VirtQueueDescriptor {
    static let size: UInt64 = 16
    static let next: UInt16 = 1      // VIRTQ_DESC_F_NEXT
    static let write: UInt16 = 2     // VIRTQ_DESC_F_WRITE
    static let indirect: UInt16 = 4  // VIRTQ_DESC_F_INDIRECT

    let address: GuestAddress
    let length: UInt32
    let flags: UInt16
    let nextIndex: UInt16

    /// Loads entry `index` of a table the caller proved lies in guest RAM.
    init(table: GuestAddress, index: UInt16, memory: GuestMemory) throws(VirtQueueError) {
        let entry = GuestAddress(table.raw + UInt64(index) * Self.size)
        do {
            address = GuestAddress(try memory.load(UInt64.self, at: entry))
            length = try memory.load(UInt32.self, at: GuestAddress(entry.raw + 8))
            flags = try memory.load(UInt16.self, at: GuestAddress(entry.raw + 12))
            nextIndex = try memory.load(UInt16.self, at: GuestAddress(entry.raw + 14))
        } catch {
            throw .memory(error)
        }
    }
}

/// Follows one chain from its head, checking everything the guest wrote:
/// indices, buffer ranges, flag combinations and the ordering rule. Each
/// table is walked at most its own entry count, so loops end in an error.
struct DescriptorChainWalker {
    /// 2^32: the spec's bound on the bytes of one chain.
    static let maxChainBytes: UInt64 = 1 << 32
    /// A 16-bit `next` reaches at most this many indirect entries.
    static let maxIndirectEntries: UInt32 = 1 << 16

    let memory: GuestMemory
    let descriptorTable: GuestAddress
    let queueSize: UInt16
    let allowsIndirect: Bool

    func walk(from head: UInt16) throws(VirtQueueError) -> [DescriptorSegment] {
        var noLayout: [VirtioTraceDescriptor]? = nil
        return try walk(from: head, layout: &noLayout)
    }

    /// The same walk; when `layout` is not nil, every descriptor read is
    /// appended to it (for the trace), also when the walk then fails.
    func walk(from head: UInt16, layout: inout [VirtioTraceDescriptor]?) throws(VirtQueueError) -> [DescriptorSegment] {
        var segments: [DescriptorSegment] = []
        var totalBytes: UInt64 = 0
        var sawWritable = false
        var table = descriptorTable
        var tableSize = UInt32(queueSize)
        var inIndirectTable = false
        var index = head
        var visited: UInt32 = 0

        while true {
            guard UInt32(index) < tableSize else {
                throw .descriptorIndexOutOfRange(index, tableSize: tableSize, indirect: inIndirectTable)
            }
            visited += 1
            guard visited <= tableSize else { throw .chainTooLong(limit: tableSize, indirect: inIndirectTable) }
            let descriptor = try VirtQueueDescriptor(table: table, index: index, memory: memory)

            if descriptor.flags & VirtQueueDescriptor.indirect != 0 {
                layout?.append(.indirect(address: descriptor.address.raw,
                                         entries: descriptor.length / UInt32(VirtQueueDescriptor.size)))
                table = try indirectTable(descriptor, alreadyIndirect: inIndirectTable)
                tableSize = descriptor.length / UInt32(VirtQueueDescriptor.size)
                inIndirectTable = true
                index = 0
                visited = 0
                continue
            }

            let writable = descriptor.flags & VirtQueueDescriptor.write != 0
            layout?.append(.buffer(address: descriptor.address.raw, length: descriptor.length, writable: writable))
            guard writable || !sawWritable else { throw .readableAfterWritable(index: index) }
            sawWritable = sawWritable || writable

            if descriptor.length > 0 {
                guard memory.contains(descriptor.address, length: UInt64(descriptor.length)) else {
                    throw .bufferOutOfRange(descriptor.address, length: descriptor.length)
                }
                totalBytes += UInt64(descriptor.length)
                guard totalBytes <= Self.maxChainBytes else { throw .chainTooLarge }
                segments.append(DescriptorSegment(
                    address: descriptor.address, length: descriptor.length, isWritable: writable))
            }

            guard descriptor.flags & VirtQueueDescriptor.next != 0 else { return segments }
            index = descriptor.nextIndex
        }
    }

    /// Validates a descriptor that points at an indirect table; returns the table.
    private func indirectTable(
        _ descriptor: VirtQueueDescriptor, alreadyIndirect: Bool
    ) throws(VirtQueueError) -> GuestAddress {
        guard allowsIndirect else { throw .indirectNotNegotiated }
        guard !alreadyIndirect else { throw .nestedIndirect }
        guard descriptor.flags & VirtQueueDescriptor.next == 0 else { throw .indirectWithNext }
        let entrySize = UInt32(VirtQueueDescriptor.size)
        guard descriptor.length > 0, descriptor.length % entrySize == 0,
              descriptor.length / entrySize <= Self.maxIndirectEntries else {
            throw .badIndirectLength(descriptor.length)
        }
        guard memory.contains(descriptor.address, length: UInt64(descriptor.length)) else {
            throw .indirectTableOutOfRange(descriptor.address, length: descriptor.length)
        }
        return descriptor.address
    }
}
