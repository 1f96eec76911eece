/// The peripheral and PrimeCell identification registers at 0xFE0-0xFFC of
/// every ARM PrimeCell: what Linux's AMBA bus reads (one byte per word)
/// before it binds a driver to the device.
public struct PrimeCellIdentity: Sendable, Equatable {
    /// Every PrimeCell's component ID, 0xB105F00D, read as bytes 0D F0 05 B1.
    public static let primeCellID: UInt32 = 0xB105_F00D
    public static let registersStart: UInt64 = 0xFE0
    public static let registersEnd: UInt64 = 0x1000

    /// The peripheral ID: part number, designer (0x41 'A' = ARM), revision, configuration.
    public let peripheralID: UInt32

    public init(peripheralID: UInt32) { self.peripheralID = peripheralID }

    /// The value of the ID register at `offset` (word aligned inside
    /// 0xFE0..<0x1000), nil for any other offset.
    public func register(at offset: UInt64) -> UInt32? {
        guard offset >= Self.registersStart, offset < Self.registersEnd, offset & 3 == 0 else { return nil }
        let index = Int((offset - Self.registersStart) / 4)
        let word = index < 4 ? peripheralID : Self.primeCellID
        return (word >> UInt32((index % 4) * 8)) & 0xFF
    }
}
