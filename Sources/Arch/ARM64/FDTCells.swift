import LKVMCore

/// Cell encodings shared by the nodes: the root has #address-cells = 2 and
/// #size-cells = 2, so every address and size is two cells, high word first.
enum FDTCells {
    static func u64(_ value: UInt64) -> [UInt32] {
        [UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value)]
    }

    /// A `reg` entry under the root: address, then size.
    static func reg(_ range: GuestRange) -> [UInt32] {
        u64(range.start.raw) + u64(range.size)
    }

    /// A node's unit address: lower-case hex without 0x, as the spec wants.
    static func unitAddress(_ address: GuestAddress) -> String {
        String(address.raw, radix: 16)
    }
}
