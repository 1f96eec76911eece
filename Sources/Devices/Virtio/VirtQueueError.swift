import LKVMCore

/// Which part of a split virtqueue an address belongs to.
public enum VirtQueueArea: String, Sendable {
    case descriptorTable = "descriptor table"
    case availableRing = "available ring"
    case usedRing = "used ring"
}

/// What a driver got wrong in a virtqueue. Every case is the guest's doing (or
/// a device writing past a chain); lkvm answers with DEVICE_NEEDS_RESET.
public enum VirtQueueError: Error, Equatable, CustomStringConvertible {
    case badSize(UInt32, max: UInt16)
    case areaOutOfRange(VirtQueueArea, GuestAddress, length: UInt64)
    case areaMisaligned(VirtQueueArea, GuestAddress, alignment: UInt64)
    /// The available index moved by more than the queue holds.
    case availableIndexJumped(from: UInt16, to: UInt16, size: UInt16)
    case headOutOfRange(UInt16, size: UInt16)
    /// A `next` (or head) index beyond its table; `indirect` tells which table.
    case descriptorIndexOutOfRange(UInt16, tableSize: UInt32, indirect: Bool)
    /// More descriptors than the table holds: the chain loops.
    case chainTooLong(limit: UInt32, indirect: Bool)
    case bufferOutOfRange(GuestAddress, length: UInt32)
    /// Over 2^32 bytes in one chain, which the spec forbids.
    case chainTooLarge
    case readableAfterWritable(index: UInt16)
    case indirectNotNegotiated
    case nestedIndirect
    case indirectWithNext
    /// An indirect table length that is zero, not a multiple of 16 bytes, or
    /// more entries than a 16-bit `next` can reach.
    case badIndirectLength(UInt32)
    case indirectTableOutOfRange(GuestAddress, length: UInt32)
    /// A ring access failed after the rings were validated (cannot happen
    /// with fixed guest RAM; kept so no path has to trap).
    case memory(GuestMemoryError)

    public var description: String {
        switch self {
        case .badSize(let size, let max):
            "queue size \(size) is not a power of two in 1...\(max)"
        case .areaOutOfRange(let area, let address, let length):
            "\(area.rawValue) at \(address) (\(length) bytes) is outside guest RAM"
        case .areaMisaligned(let area, let address, let alignment):
            "\(area.rawValue) at \(address) is not \(alignment)-byte aligned"
        case .availableIndexJumped(let from, let to, let size):
            "available index jumped from \(from) to \(to), more than the queue size \(size)"
        case .headOutOfRange(let head, let size):
            "available ring names descriptor \(head), beyond the queue size \(size)"
        case .descriptorIndexOutOfRange(let index, let tableSize, let indirect):
            "descriptor index \(index) is beyond the \(indirect ? "indirect" : "descriptor") table of \(tableSize)"
        case .chainTooLong(let limit, let indirect):
            "descriptor chain longer than \(limit)\(indirect ? " in an indirect table" : ""): it loops"
        case .bufferOutOfRange(let address, let length):
            "buffer at \(address) (\(length) bytes) is outside guest RAM"
        case .chainTooLarge:
            "descriptor chain is longer than 2^32 bytes in total"
        case .readableAfterWritable(let index):
            "descriptor \(index) is device-readable but follows a device-writable one"
        case .indirectNotNegotiated:
            "indirect descriptor used without VIRTIO_F_INDIRECT_DESC"
        case .nestedIndirect:
            "indirect descriptor inside an indirect table"
        case .indirectWithNext:
            "descriptor has both INDIRECT and NEXT set"
        case .badIndirectLength(let length):
            "indirect table length \(length) is zero, too long or not a multiple of 16"
        case .indirectTableOutOfRange(let address, let length):
            "indirect table at \(address) (\(length) bytes) is outside guest RAM"
        case .memory(let error):
            "\(error)"
        }
    }
}
