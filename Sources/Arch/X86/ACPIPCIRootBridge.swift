import LKVMCore

/// The PCI host bridge as the DSDT describes it, so that a kernel with ACPI
/// finds bus 0 and the windows its BARs live in:
///
///     Device (PCI0) {
///         Name (_HID, EisaId ("PNP0A08"))   // PCI Express root bridge: ECAM (MCFG)
///         Name (_CID, EisaId ("PNP0A03"))   // and a PCI root bridge
///         Name (_SEG, Zero)
///         Name (_BBN, Zero)
///         Name (_UID, Zero)
///         Name (_CRS, ResourceTemplate () {
///             WordBusNumber 0 ... busCount - 1
///             IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)   // config ports: the bridge's own
///             WordIO 0x0000 ... 0x0CF7, then io_ports   // ioWindows
///             DWordMemory mmio32
///             QWordMemory mmio64                        // when the board has it
///         })
///         Name (_PRT, Package () { ... })                 // ACPIPCIRoutingTable
///     }
///
/// The first I/O window passes the legacy ports (COM1, i8042, RTC, the ACPI
/// PM block) down the root bus: Linux nests their request_region() inside it,
/// as on any PC. No _OSC: Linux then leaves PCIe hotplug, AER, PME and ASPM
/// to the firmware, i.e. off, and lkvm emulates none of them.
public struct ACPIPCIRootBridge: Sendable, Equatable {
    public static let name = "PCI0"
    /// PCI Express root bridge, and the PCI root bridge id it is compatible with.
    public static let hardwareID = "PNP0A08"
    public static let compatibleID = "PNP0A03"
    /// CONFIG_ADDRESS and CONFIG_DATA (0xCF8-0xCFF), consumed by the bridge itself.
    public static let configPorts: Range<UInt32> = 0xCF8..<0xD00
    /// ISA and fixed-hardware ports below the config ports.
    public static let legacyPorts: Range<UInt32> = 0..<0xCF8

    public let windows: PCIWindows

    /// Checks what the descriptors can express: a 32-bit window below 4 GiB
    /// and at most 256 buses.
    public init(windows: PCIWindows) throws(ACPIError) {
        guard windows.mmio32.size > 0, windows.mmio32.end <= 1 << 32 else {
            throw .badPCIWindows("mmio32 \(windows.mmio32) must be non-empty and end at or below 4 GiB")
        }
        guard (1...Int(PCIWindows.maxBuses)).contains(windows.busCount) else {
            throw .badPCIWindows("ECAM \(windows.ecam) covers \(windows.busCount) buses; 1 to 256 fit")
        }
        self.windows = windows
    }

    /// Buses below the bridge.
    public var busNumbers: ClosedRange<UInt16> { 0...UInt16(windows.busCount - 1) }

    /// I/O windows passed to the bus: the legacy ports and io_ports, without
    /// the config ports, sorted and merged.
    public var ioWindows: [ClosedRange<UInt16>] {
        var ranges = [Self.legacyPorts]
        if let ports = windows.ioPorts { ranges.append(UInt32(ports.start)..<ports.end) }
        var merged: [Range<UInt32>] = []
        for range in ranges.flatMap(Self.withoutConfigPorts).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged.map { UInt16($0.lowerBound)...UInt16($0.upperBound - 1) }
    }

    /// Memory windows passed to the bus: mmio32, then mmio64 if any.
    public var memoryWindows: [GuestRange] { [windows.mmio32] + (windows.mmio64.map { [$0] } ?? []) }

    private static func withoutConfigPorts(_ range: Range<UInt32>) -> [Range<UInt32>] {
        guard range.overlaps(configPorts) else { return [range] }
        var pieces: [Range<UInt32>] = []
        if range.lowerBound < configPorts.lowerBound { pieces.append(range.lowerBound..<configPorts.lowerBound) }
        if range.upperBound > configPorts.upperBound { pieces.append(configPorts.upperBound..<range.upperBound) }
        return pieces
    }

    /// The _CRS resource template, end tag included.
    var resources: [UInt8] {
        var template = AML.addressSpace(.word, .busNumber, generalFlags: AML.fixedRangeProducer, typeFlags: 0,
                                        minimum: UInt64(busNumbers.lowerBound), maximum: UInt64(busNumbers.upperBound))
        template += AML.ioPorts(UInt16(Self.configPorts.lowerBound), count: UInt8(Self.configPorts.count))
        for window in ioWindows {
            template += AML.addressSpace(.word, .io, generalFlags: AML.fixedRangeProducer, typeFlags: AML.ioEntireRange,
                                         minimum: UInt64(window.lowerBound), maximum: UInt64(window.upperBound))
        }
        for window in memoryWindows {
            // Windows that fit below 4 GiB take the shorter DWord form.
            template += AML.addressSpace(window.end <= 1 << 32 ? .dword : .qword, .memory,
                                         generalFlags: AML.fixedRangeProducer, typeFlags: AML.memoryReadWriteUncached,
                                         minimum: window.start.raw, maximum: window.end - 1)
        }
        return template + AML.endTag
    }

    /// Device (PCI0) { ... }, to sit in \_SB.
    func aml() -> [UInt8] {
        var terms = AML.name("_HID", AML.eisaID(Self.hardwareID)) + AML.name("_CID", AML.eisaID(Self.compatibleID))
        terms += AML.name("_SEG", AML.integer(0)) + AML.name("_BBN", AML.integer(0)) + AML.name("_UID", AML.integer(0))
        terms += AML.name("_CRS", AML.buffer(resources))
        if let routing = ACPIPCIRoutingTable(windows: windows) {
            terms += AML.name("_PRT", routing.aml())
        }
        return AML.device(Self.name, terms)
    }
}
