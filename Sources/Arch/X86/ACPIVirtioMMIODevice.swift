import LKVMCore

/// A virtio-mmio device as the DSDT describes it:
///
///     Device (VRnn) {
///         Name (_HID, "LNRO0005")
///         Name (_UID, nn)
///         Name (_CRS, ResourceTemplate () {
///             Memory32Fixed (ReadWrite, base, size)
///             Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }
///         })
///     }
///
/// Edge-triggered like the ISA IRQs lkvm gives these devices on the pc board:
/// each rise of the transport's interrupt line is one interrupt.
public struct ACPIVirtioMMIODevice: Sendable, Equatable {
    public static let hardwareID = "LNRO0005"
    /// Device names are VR00..VRFF.
    public static let maxCount = 256
    public let window: GuestRange
    public let gsi: UInt32

    public init(window: GuestRange, gsi: UInt32) {
        self.window = window
        self.gsi = gsi
    }

    func aml(index: Int) -> [UInt8] {
        precondition((0..<Self.maxCount).contains(index), "at most 256 virtio-mmio devices in the DSDT")
        let hexDigits = Array("0123456789ABCDEF")
        let name = "VR" + String(hexDigits[index >> 4]) + String(hexDigits[index & 0xF])
        let resources = AML.memory32Fixed(base: UInt32(truncatingIfNeeded: window.start.raw),
                                          size: UInt32(truncatingIfNeeded: window.size))
            + AML.extendedInterrupt(gsi, edgeTriggered: true) + AML.endTag
        return AML.device(name, [
            AML.name("_HID", AML.string(Self.hardwareID)),
            AML.name("_UID", AML.integer(UInt64(index))),
            AML.name("_CRS", AML.buffer(resources)),
        ].flatMap { $0 })
    }
}

extension AML {
    static let extOpPrefix: UInt8 = 0x5B
    static let deviceOp: UInt8 = 0x82
    static let scopeOp: UInt8 = 0x10
    static let stringPrefix: UInt8 = 0x0D
    static let bufferOp: UInt8 = 0x11
    static let rootChar: UInt8 = 0x5C  // '\\'

    /// DefDevice: ExtOpPrefix DeviceOp PkgLength NameSeg TermList.
    static func device(_ segment: String, _ terms: [UInt8]) -> [UInt8] {
        precondition(segment.utf8.count == 4, "an AML NameSeg is 4 characters")
        let contents = Array(segment.utf8) + terms
        return [extOpPrefix, deviceOp] + packageLength(enclosing: contents.count) + contents
    }

    /// DefScope for a rooted path of one segment, e.g. "\\_SB_".
    static func scope(_ path: String, _ terms: [UInt8]) -> [UInt8] {
        let name = Array(path.utf8)
        precondition(name.count == 5 && name[0] == rootChar, "a rooted single-segment path")
        let contents = name + terms
        return [scopeOp] + packageLength(enclosing: contents.count) + contents
    }

    static func string(_ text: String) -> [UInt8] { [stringPrefix] + Array(text.utf8) + [0] }

    /// DefBuffer: BufferOp PkgLength BufferSize ByteList.
    static func buffer(_ bytes: [UInt8]) -> [UInt8] {
        let contents = integer(UInt64(bytes.count)) + bytes
        return [bufferOp] + packageLength(enclosing: contents.count) + contents
    }

    /// Memory32Fixed large resource descriptor (ACPI 6.5 §6.4.3.4), read-write.
    static func memory32Fixed(base: UInt32, size: UInt32) -> [UInt8] {
        [0x86, 0x09, 0x00, 0x01] + LittleEndian.bytes(base) + LittleEndian.bytes(size)
    }

    /// Extended Interrupt descriptor (§6.4.3.6): consumer, active high, exclusive.
    static func extendedInterrupt(_ gsi: UInt32, edgeTriggered: Bool) -> [UInt8] {
        let flags: UInt8 = 0x01 | (edgeTriggered ? 0x02 : 0)
        return [0x89, 0x06, 0x00, flags, 0x01] + LittleEndian.bytes(gsi)
    }

    /// End tag with a zero checksum ("treat as valid").
    static let endTag: [UInt8] = [0x79, 0x00]
}
