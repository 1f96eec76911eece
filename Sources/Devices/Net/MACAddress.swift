/// An Ethernet MAC address, as the virtio-net configuration space holds it.
public struct MACAddress: Equatable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Six bytes; nil otherwise.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// `xx:xx:xx:xx:xx:xx`, two hex digits per byte (either case). A guest's
    /// address must be unicast (bit 0 of the first byte clear) and not all
    /// zeros; nil otherwise.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        guard bytes[0] & 1 == 0, bytes.contains(where: { $0 != 0 }) else { return nil }
        self.bytes = bytes
    }

    /// 52:54:00 then three bytes hashed (FNV-1a) from `identity`: locally
    /// administered (0x52 has bit 1 set), unicast, and the same on every run
    /// for the same backend, so the guest's DHCP lease and the host's
    /// neighbour tables stay put.
    public static func derived(from identity: String) -> MACAddress {
        var hash: UInt32 = 0x811C_9DC5
        for byte in identity.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return MACAddress(bytes: [0x52, 0x54, 0x00, UInt8(truncatingIfNeeded: hash >> 16),
                                  UInt8(truncatingIfNeeded: hash >> 8), UInt8(truncatingIfNeeded: hash)])!
    }

    public var description: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 0x10 ? "0" + digits : digits
        }.joined(separator: ":")
    }
}
