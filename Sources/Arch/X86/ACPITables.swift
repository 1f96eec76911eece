import LKVMCore

/// Why the ACPI tables could not be built or written; one line each.
public enum ACPIError: Error, Equatable, CustomStringConvertible {
    case invalidCPUCount(Int)
    case invalidSCI(UInt8)
    case badBase(GuestAddress, String)
    case ioapicAboveFourGiB(GuestAddress)
    case guestMemory(GuestMemoryError)
    case badPCIWindows(String)

    public var description: String {
        switch self {
        case .invalidCPUCount(let count): "ACPI tables: \(count) vCPUs; the MADT describes 1 to 254 xAPIC ids"
        case .invalidSCI(let irq): "ACPI tables: SCI on IRQ \(irq); it must be an ISA IRQ (0-15) other than 0 and 2"
        case .badBase(let base, let why): "ACPI tables at \(base): \(why)"
        case .ioapicAboveFourGiB(let address): "ACPI tables: IOAPIC address \(address) is above 4 GiB"
        case .guestMemory(let error): "ACPI tables: \(error)"
        case .badPCIWindows(let why): "ACPI tables: PCI windows: \(why)"
        }
    }
}

/// The ACPI 6.5 tables lkvm gives an x86 guest: just enough for Linux to
/// find the vCPUs and the IOAPIC (MADT), to power off through the PM1a
/// control register (FADT + `\_S5` in the DSDT), and to find the devices:
/// virtio-mmio and the PCI root bridge in the DSDT, ECAM in an MCFG. Full fixed hardware,
/// not hardware-reduced: Linux keeps its PIC and PIT set-up. No PM timer, no
/// GPEs, no SMI command port (ACPI mode is always on).
///
/// Everything sits in one block at `base`, by default 0xE0000, the start of
/// the BIOS area where Linux scans for the RSDP (16-byte steps through
/// 0xE0000-0xFFFFF). The block is fixed-size except for the MADT and the
/// DSDT after it (254 vCPUs end the MADT at base + 0xB38; PCI adds about
/// 2 KiB of DSDT). All pointers are absolute and 32-bit.
public enum ACPITables {
    /// The BIOS read-only area Linux scans for "RSD PTR ".
    public static let rsdpScanArea = GuestAddress(0xE0000)..<GuestAddress(0x10_0000)
    public static let defaultBase = GuestAddress(0xE0000)
    /// The room lkvm gives the tables: [0xE0000, 0x100000), the BIOS area.
    public static let maxSize: UInt64 = 0x20000
    /// The ISA IRQ (= GSI) of the System Control Interrupt, as on PCs.
    public static let defaultSCI: UInt8 = 9

    public static let oemID = "LKVM"  // space padded to 6
    public static let oemTableID = "LKVMPC"  // space padded to 8
    public static let oemRevision: UInt32 = 1
    public static let creatorID = "LKVM"
    public static let creatorRevision: UInt32 = 1

    /// Where each table goes, relative to the base (which must be 64-byte
    /// aligned: the FACS needs 64-byte alignment, the RSDP 16).
    public enum Offset {
        public static let rsdp: UInt64 = 0x000
        public static let facs: UInt64 = 0x040
        public static let rsdt: UInt64 = 0x080
        public static let xsdt: UInt64 = 0x0C0
        public static let fadt: UInt64 = 0x100
        /// In the gap after the FADT (276 bytes); only with PCI.
        public static let mcfg: UInt64 = 0x220
        public static let madt: UInt64 = 0x280
        // The DSDT follows the MADT (both grow: with vCPUs and with devices).
    }

    /// One table (or the RSDP) and the guest-physical address it belongs at.
    public struct Placed: Sendable, Equatable {
        public var signature: String
        public var address: GuestAddress
        public var bytes: [UInt8]
    }

    /// Every table, encoded for its address. `powerPorts` is where the board
    /// registered `ACPIPowerManagement` (FADT PM1a blocks and reset register).
    /// With `pci`, the DSDT describes the root bridge and an MCFG (listed in
    /// the RSDT and XSDT after the MADT) its ECAM window.
    public static func build(cpuCount: Int, ioapicAddress: GuestAddress,
                             powerPorts: UInt16 = ACPIPowerManagement.defaultBasePort,
                             sci: UInt8 = defaultSCI,
                             virtioMMIO: [ACPIVirtioMMIODevice] = [],
                             pci: PCIWindows? = nil,
                             base: GuestAddress = defaultBase) throws(ACPIError) -> [Placed] {
        guard (1...254).contains(cpuCount) else { throw .invalidCPUCount(cpuCount) }
        guard sci < 16, sci != 0, sci != 2 else { throw .invalidSCI(sci) }
        guard ioapicAddress.raw <= UInt64(UInt32.max) else { throw .ioapicAboveFourGiB(ioapicAddress) }
        guard base.raw % 64 == 0 else { throw .badBase(base, "not 64-byte aligned") }
        let madt = ACPIMADT.table(cpuCount: cpuCount, ioapicAddress: UInt32(ioapicAddress.raw), sci: sci)
        var pciRoot: ACPIPCIRootBridge?
        if let pci { pciRoot = try ACPIPCIRootBridge(windows: pci) }
        let dsdt = ACPIDSDT.table(virtioMMIO: virtioMMIO, pciRoot: pciRoot)
        let dsdtOffset = (Offset.madt + UInt64(madt.count) + 15) & ~15
        let (end, overflow) = base.raw.addingReportingOverflow(dsdtOffset + UInt64(dsdt.count))
        guard !overflow, end <= UInt64(UInt32.max) + 1 else { throw .badBase(base, "tables would cross 4 GiB") }
        guard end - base.raw <= maxSize else { throw .badBase(base, "tables need \(end - base.raw) bytes, more than \(maxSize)") }

        func at(_ offset: UInt64) -> UInt32 { UInt32(base.raw + offset) }
        let fadt = ACPIFADT.table(facs: at(Offset.facs), dsdt: at(dsdtOffset), powerPorts: powerPorts, sci: sci)
        let mcfg = pci.map { ACPIMCFG.table(ecam: $0.ecam, busCount: $0.busCount) }
        let pointers = [at(Offset.fadt), at(Offset.madt)] + (mcfg == nil ? [] : [at(Offset.mcfg)])
        let rsdt = sdt(signature: "RSDT", revision: 1, body: pointers.flatMap { LittleEndian.bytes($0) })
        let xsdt = sdt(signature: "XSDT", revision: 1, body: pointers.flatMap { LittleEndian.bytes(UInt64($0)) })
        let rsdp = rootPointer(rsdt: at(Offset.rsdt), xsdt: UInt64(at(Offset.xsdt)))

        func place(_ signature: String, _ offset: UInt64, _ bytes: [UInt8]) -> Placed {
            Placed(signature: signature, address: GuestAddress(base.raw + offset), bytes: bytes)
        }
        return [
            place("RSD PTR ", Offset.rsdp, rsdp),
            place("FACS", Offset.facs, ACPIFADT.facs()),
            place("RSDT", Offset.rsdt, rsdt),
            place("XSDT", Offset.xsdt, xsdt),
            place("FACP", Offset.fadt, fadt),
        ] + (mcfg.map { [place("MCFG", Offset.mcfg, $0)] } ?? []) + [
            place("APIC", Offset.madt, madt),
            place("DSDT", dsdtOffset, dsdt),
        ]
    }

    /// build() and write every table into guest memory.
    @discardableResult
    public static func write(into memory: GuestMemory, cpuCount: Int, ioapicAddress: GuestAddress,
                             powerPorts: UInt16 = ACPIPowerManagement.defaultBasePort,
                             sci: UInt8 = defaultSCI,
                             virtioMMIO: [ACPIVirtioMMIODevice] = [],
                             pci: PCIWindows? = nil,
                             base: GuestAddress = defaultBase) throws(ACPIError) -> [Placed] {
        let tables = try build(cpuCount: cpuCount, ioapicAddress: ioapicAddress,
                               powerPorts: powerPorts, sci: sci, virtioMMIO: virtioMMIO, pci: pci, base: base)
        for table in tables {
            do { try memory.write(table.bytes, at: table.address) } catch { throw .guestMemory(error) }
        }
        return tables
    }

    // MARK: - Shared encoding

    static let headerSize = 36
    static let headerChecksumOffset = 9

    /// A system description table: the 36-byte header (signature, length,
    /// revision, checksum, OEM and creator ids) followed by `body`, with the
    /// checksum set so all bytes sum to 0 mod 256.
    static func sdt(signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var table = ascii(signature, width: 4)
        table += LittleEndian.bytes(UInt32(headerSize + body.count))
        table += [revision, 0]
        table += ascii(oemID, width: 6) + ascii(oemTableID, width: 8) + LittleEndian.bytes(oemRevision)
        table += ascii(creatorID, width: 4) + LittleEndian.bytes(creatorRevision)
        table += body
        table[headerChecksumOffset] = checksum(table)
        return table
    }

    /// ACPI 2.0+ Root System Description Pointer (36 bytes, revision 2): the
    /// first 20 bytes carry the ACPI 1.0 checksum, all 36 the extended one.
    static func rootPointer(rsdt: UInt32, xsdt: UInt64) -> [UInt8] {
        var pointer = ascii("RSD PTR ", width: 8) + [0] + ascii(oemID, width: 6) + [2]
        pointer += LittleEndian.bytes(rsdt) + LittleEndian.bytes(UInt32(36)) + LittleEndian.bytes(xsdt)
        pointer += [0, 0, 0, 0]  // extended checksum, 3 reserved
        pointer[8] = checksum(Array(pointer[0..<20]))
        pointer[32] = checksum(pointer)
        return pointer
    }

    /// The byte that makes `bytes` (with this byte in place of a 0) sum to 0 mod 256.
    static func checksum(_ bytes: [UInt8]) -> UInt8 {
        0 &- bytes.reduce(0, &+)
    }

    /// ASCII, space padded (or cut) to `width`.
    static func ascii(_ string: String, width: Int) -> [UInt8] {
        let bytes = Array(string.utf8.prefix(width))
        return bytes + [UInt8](repeating: 0x20, count: width - bytes.count)
    }
}
