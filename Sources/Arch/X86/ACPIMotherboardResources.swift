import LKVMCore

/// A PNP0C02 ("motherboard resources") device claiming the ECAM window:
///
///     Device (MBRD) {
///         Name (_HID, EisaId ("PNP0C02"))
///         Name (_UID, Zero)
///         Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, ecam, size) })
///     }
///
/// Linux uses the MCFG's ECAM only if something reserves it: at early boot
/// an E820 reserved entry (which lkvm also gives), later the _CRS of a
/// PNP0C01/PNP0C02 device. Describing both keeps ECAM usable even if the
/// early check cannot run (it needs working 0xCF8 accesses).
struct ACPIMotherboardResources: Sendable, Equatable {
    static let name = "MBRD"
    static let hardwareID = "PNP0C02"

    let ecam: GuestRange

    /// The _CRS resource template, end tag included.
    var resources: [UInt8] {
        let descriptor = ecam.end <= 1 << 32
            ? AML.memory32Fixed(base: UInt32(ecam.start.raw), size: UInt32(ecam.size))
            : AML.addressSpace(.qword, .memory, generalFlags: AML.fixedRangeConsumer,
                               typeFlags: AML.memoryReadWriteUncached, minimum: ecam.start.raw, maximum: ecam.end - 1)
        return descriptor + AML.endTag
    }

    /// Device (MBRD) { ... }, to sit in \_SB.
    func aml() -> [UInt8] {
        AML.device(Self.name, AML.name("_HID", AML.eisaID(Self.hardwareID)) + AML.name("_UID", AML.integer(0))
            + AML.name("_CRS", AML.buffer(resources)))
    }
}
