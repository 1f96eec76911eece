import LKVMCore

/// The PCI Express memory-mapped configuration table ("MCFG", PCI Firmware
/// Specification 3.x §4.1.2, revision 1): 8 reserved bytes after the header,
/// then one 16-byte allocation per ECAM window. lkvm has one: segment 0,
/// buses 0 to busCount - 1. Linux (x86) ignores an allocation above 4 GiB
/// unless the DMI BIOS date is 2010 or later, and lkvm has no DMI.
enum ACPIMCFG {
    static let revision: UInt8 = 1
    static let size = ACPITables.headerSize + 8 + 16

    static func table(ecam: GuestRange, busCount: Int) -> [UInt8] {
        precondition((1...256).contains(busCount), "MCFG bus numbers are 8-bit")
        var body = [UInt8](repeating: 0, count: 8)
        body += LittleEndian.bytes(ecam.start.raw)
        body += LittleEndian.bytes(UInt16(0))  // PCI segment group
        body += [0, UInt8(busCount - 1)]  // start and end bus
        body += [0, 0, 0, 0]
        return ACPITables.sdt(signature: "MCFG", revision: revision, body: body)
    }
}
