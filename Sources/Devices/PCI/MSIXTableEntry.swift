import LKVMCore

/// One MSI-X table entry (16 bytes): message address, data and vector
/// control, whose bit 0 masks the vector. Entries reset masked.
struct MSIXTableEntry: Sendable, Equatable {
    static let bytes = 16
    static let maskBit: UInt32 = 1

    var addressLow: UInt32 = 0
    var addressHigh: UInt32 = 0
    var data: UInt32 = 0
    var vectorControl: UInt32 = maskBit

    var isMasked: Bool { vectorControl & MSIXTableEntry.maskBit != 0 }

    /// The dword at `offset` (0, 4, 8 or 12).
    func dword(at offset: Int) -> UInt32 {
        switch offset {
        case 0: addressLow
        case 4: addressHigh
        case 8: data
        default: vectorControl
        }
    }

    mutating func setDword(at offset: Int, to value: UInt32) {
        switch offset {
        case 0: addressLow = value & ~3  // the address is dword aligned
        case 4: addressHigh = value
        case 8: data = value
        default: vectorControl = value & MSIXTableEntry.maskBit  // the other bits are reserved
        }
    }

    func message(deviceID: UInt32?) -> MSIMessage {
        MSIMessage(address: UInt64(addressHigh) << 32 | UInt64(addressLow), data: data, deviceID: deviceID)
    }
}
