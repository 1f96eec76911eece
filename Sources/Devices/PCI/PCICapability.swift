/// A capability in the standard list. The config space writes the 2-byte
/// header (ID, next pointer) itself.
public protocol PCICapability: AnyObject, Sendable {
    var id: UInt8 { get }
    /// Bytes including the 2-byte header (so the body is offsets 2..<length).
    var length: Int { get }
    /// offset is from the capability's first byte, >= 2; size 1, 2 or 4, naturally aligned.
    func read(offset: Int, size: Int) -> UInt32
    func write(offset: Int, size: Int, value: UInt32)
}
