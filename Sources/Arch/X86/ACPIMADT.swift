/// The Multiple APIC Description Table ("APIC", ACPI 6.5 §5.2.12, revision 5):
/// the same machine as `MPTable.pc(timerPin: 0)`, for kernels with ACPI.
///
/// vCPU i has APIC id i and ACPI processor UID i; the IOAPIC takes id
/// cpuCount and GSIs from 0. ISA IRQs map to the same GSIs (Linux's default
/// without an override), in particular IRQ 0 -> GSI 0: KVM's default routing
/// sends the in-kernel PIT to IOAPIC pin 0, so a PC's IRQ0 -> GSI 2 override
/// would be wrong here. The one override is the SCI's, level-triggered and
/// active-high. Dual 8259s are present; LINT1 of every local APIC is NMI.
enum ACPIMADT {
    static let revision: UInt8 = 5
    static let localAPICAddress: UInt32 = 0xFEE0_0000
    static let pcatCompatible: UInt32 = 1 << 0

    enum EntryType {
        static let processorLocalAPIC: UInt8 = 0
        static let ioAPIC: UInt8 = 1
        static let interruptSourceOverride: UInt8 = 2
        static let localAPICNMI: UInt8 = 4
    }

    static let localAPICEnabled: UInt32 = 1 << 0
    static let allProcessors: UInt8 = 0xFF
    static let isaBus: UInt8 = 0
    /// MPS INTI flags: polarity bits 1:0 (01 active high), trigger bits 3:2 (11 level).
    static let activeHighLevel: UInt16 = 0b01 | 0b11 << 2
    static let conforming: UInt16 = 0

    static func table(cpuCount: Int, ioapicAddress: UInt32, sci: UInt8) -> [UInt8] {
        var body = LittleEndian.bytes(localAPICAddress) + LittleEndian.bytes(pcatCompatible)
        for cpu in 0..<cpuCount {
            body += [EntryType.processorLocalAPIC, 8, UInt8(cpu), UInt8(cpu)] + LittleEndian.bytes(localAPICEnabled)
        }
        body += [EntryType.ioAPIC, 12, UInt8(cpuCount), 0] + LittleEndian.bytes(ioapicAddress)
            + LittleEndian.bytes(UInt32(0))
        body += [EntryType.interruptSourceOverride, 10, isaBus, sci] + LittleEndian.bytes(UInt32(sci))
            + LittleEndian.bytes(activeHighLevel)
        body += [EntryType.localAPICNMI, 6, allProcessors] + LittleEndian.bytes(conforming) + [1]
        return ACPITables.sdt(signature: "APIC", revision: revision, body: body)
    }
}
