/// The Differentiated System Description Table: AML for the namespace. lkvm's
/// starts with the S5 (soft-off) sleep type package, then the devices in \_SB:
///
///     Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
///
/// Linux registers its ACPI power-off only if `\_S5` evaluates; it then writes
/// SLP_TYP = 5 with SLP_EN to PM1a_CNT, which `ACPIPowerManagement` turns into
/// a power-off. Legacy devices (COM1, i8042, RTC) stay undescribed: Linux finds
/// them by its legacy probes, as the FADT boot flags allow. virtio-mmio
/// devices are described (`ACPIVirtioMMIODevice`): stock x86 kernels have no
/// `virtio_mmio.device=` support, but their virtio_mmio driver matches the
/// ACPI id LNRO0005. On a board with [pci], `\_SB.PCI0` describes the root
/// bridge (`ACPIPCIRootBridge`) and `\_SB.MBRD` reserves its ECAM window
/// (`ACPIMotherboardResources`).
enum ACPIDSDT {
    /// DSDT revision 2: AML integers are 64-bit.
    static let revision: UInt8 = 2
    /// The SLP_TYP value lkvm's PM1a control register treats as S5.
    static let softOffSleepType: UInt8 = 5

    static func table(virtioMMIO: [ACPIVirtioMMIODevice] = [], pciRoot: ACPIPCIRootBridge? = nil) -> [UInt8] {
        ACPITables.sdt(signature: "DSDT", revision: revision, body: aml(virtioMMIO: virtioMMIO, pciRoot: pciRoot))
    }

    static func aml(virtioMMIO: [ACPIVirtioMMIODevice] = [], pciRoot: ACPIPCIRootBridge? = nil) -> [UInt8] {
        // SLP_TYPa, SLP_TYPb (no PM1b block, but both are read), two reserved.
        let sleepState = AML.name("_S5_", AML.package([
            AML.integer(UInt64(softOffSleepType)), AML.integer(UInt64(softOffSleepType)),
            AML.integer(0), AML.integer(0),
        ]))
        var devices: [UInt8] = []
        if let pciRoot {
            devices += pciRoot.aml() + ACPIMotherboardResources(ecam: pciRoot.windows.ecam).aml()
        }
        devices += virtioMMIO.enumerated().flatMap { index, device in device.aml(index: index) }
        return sleepState + (devices.isEmpty ? [] : AML.scope("\\_SB_", devices))
    }
}

/// Hand encoding of the few AML terms lkvm needs (ACPI 6.5 §20.2).
enum AML {
    static let zeroOp: UInt8 = 0x00
    static let oneOp: UInt8 = 0x01
    static let nameOp: UInt8 = 0x08
    static let bytePrefix: UInt8 = 0x0A
    static let wordPrefix: UInt8 = 0x0B
    static let dWordPrefix: UInt8 = 0x0C
    static let qWordPrefix: UInt8 = 0x0E
    static let packageOp: UInt8 = 0x12

    /// DefName: NameOp NameSeg DataRefObject. `segment` is exactly 4
    /// characters (lead A-Z or '_', then A-Z, 0-9 or '_'; pad with '_').
    static func name(_ segment: String, _ object: [UInt8]) -> [UInt8] {
        precondition(segment.utf8.count == 4, "an AML NameSeg is 4 characters")
        return [nameOp] + Array(segment.utf8) + object
    }

    /// DefPackage: PackageOp PkgLength NumElements PackageElementList.
    static func package(_ elements: [[UInt8]]) -> [UInt8] {
        precondition(elements.count <= 255, "a Package holds at most 255 elements")
        let contents = [UInt8(elements.count)] + elements.flatMap { $0 }
        return [packageOp] + packageLength(enclosing: contents.count) + contents
    }

    /// The shortest integer encoding: ZeroOp, OneOp or a prefixed constant.
    static func integer(_ value: UInt64) -> [UInt8] {
        switch value {
        case 0: [zeroOp]
        case 1: [oneOp]
        case ...0xFF: [bytePrefix, UInt8(value)]
        case ...0xFFFF: [wordPrefix] + LittleEndian.bytes(UInt16(value))
        case ...0xFFFF_FFFF: [dWordPrefix] + LittleEndian.bytes(UInt32(value))
        default: [qWordPrefix] + LittleEndian.bytes(value)
        }
    }

    /// PkgLength for `count` bytes that follow it; the encoded length counts
    /// the PkgLength bytes themselves. One byte holds up to 63; longer forms
    /// put the byte count (1-3 follow) in bits 7-6 and the low 4 bits of the
    /// length in the lead byte, the rest 8 bits per following byte.
    static func packageLength(enclosing count: Int) -> [UInt8] {
        if count + 1 <= 0x3F { return [UInt8(count + 1)] }
        for extra in 1...3 {
            let total = count + 1 + extra
            guard total < 1 << (4 + 8 * extra) else { continue }
            var bytes = [UInt8(extra << 6) | UInt8(total & 0x0F)]
            for index in 0..<extra { bytes.append(UInt8(truncatingIfNeeded: total >> (4 + 8 * index))) }
            return bytes
        }
        preconditionFailure("AML PkgLength limit is 2^28 bytes")
    }
}
