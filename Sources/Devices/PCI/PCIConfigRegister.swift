/// Offsets and bits of the type-0 configuration header (PCI Local Bus 3.0,
/// chapter 6).
enum PCIConfigRegister {
    static let vendorID = 0x00
    static let command = 0x04
    static let classRevision = 0x08
    static let headerType = 0x0C
    static let firstBAR = 0x10
    static let barCount = 6
    static let subsystem = 0x2C
    static let capabilitiesPointer = 0x34
    static let interrupt = 0x3C
    /// Capabilities live between the header and the end of the 256 bytes.
    static let firstCapability = 0x40
    static let conventionalSize = 0x100
    /// ECAM gives every function 4 KiB; past 0x100 is extended space.
    static let extendedSize = 0x1000

    static let commandIO: UInt16 = 1 << 0
    static let commandMemory: UInt16 = 1 << 1
    static let commandBusMaster: UInt16 = 1 << 2
    static let commandParityResponse: UInt16 = 1 << 6
    static let commandSERR: UInt16 = 1 << 8
    static let commandINTxDisable: UInt16 = 1 << 10
    static let writableCommandBits: UInt16 = commandIO | commandMemory | commandBusMaster
        | commandParityResponse | commandSERR | commandINTxDisable

    static let statusCapabilitiesList: UInt16 = 1 << 4
    /// Header type bit 7: the device has functions besides 0.
    static let multiFunction: UInt8 = 0x80
}
