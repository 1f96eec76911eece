import LKVMCore

/// One virtio vendor-specific capability (ID 0x09): which structure lies
/// where in which BAR (virtio 1.2 section 4.1.4). Read-only.
final class VirtioPCICapability: PCICapability {
    static let vendorSpecificID: UInt8 = 0x09
    let id = VirtioPCICapability.vendorSpecificID
    private let bytes: [UInt8]
    var length: Int { bytes.count }

    /// - Parameter notifyMultiplier: only for the notification capability.
    init(_ type: VirtioPCICapabilityType, bar: Int, offset: UInt64, length: UInt64, notifyMultiplier: UInt32? = nil) {
        var body: [UInt8] = [0, 0]  // ID and next: the config space writes them
        let capLength = notifyMultiplier == nil ? 16 : 20
        body += [UInt8(capLength), type.rawValue, UInt8(bar), 0, 0, 0]
        body += littleEndianBytes(UInt32(offset)) + littleEndianBytes(UInt32(length))
        if let notifyMultiplier { body += littleEndianBytes(notifyMultiplier) }
        bytes = body
    }

    func read(offset: Int, size: Int) -> UInt32 { readLittleEndian(bytes, offset: offset, size: size) }
    func write(offset: Int, size: Int, value: UInt32) {}
}

/// The little-endian bytes of `value`.
func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// `size` bytes at `offset` of `bytes`, little-endian; 0 outside.
func readLittleEndian(_ bytes: [UInt8], offset: Int, size: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: configSpaceValue(bytes, offset: offset, size: size))
}
