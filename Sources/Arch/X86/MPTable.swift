import LKVMCore

/// Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI
/// finds the vCPUs' local APIC ids, the IOAPIC and the ISA interrupt wiring.
/// The floating pointer comes first, the configuration table right after it.
public struct MPTable: Sendable, Equatable {
    public static let specRevision: UInt8 = 4
    public static let localAPICAddress: UInt32 = 0xFEE0_0000
    public static let localAPICVersion: UInt8 = 0x14
    public static let ioAPICVersion: UInt8 = 0x11
    /// The last KiB of base memory (0x9FC00): one of the places Linux scans for "_MP_".
    public static let defaultSizeLimit = 1024
    /// pc() tables fit in 1 KiB up to this many vCPUs: 212 fixed bytes + 20 per vCPU <= 1024.
    public static let maxCPUsInDefaultLimit = 40
    static let floatingPointerSize = 16
    static let headerSize = 44
    public static let oemID = "LKVM"
    public static let productID = "PC"

    public struct Processor: Sendable, Equatable {
        public var apicID: UInt8
        public var apicVersion: UInt8 = MPTable.localAPICVersion
        public var enabled = true
        public var bootstrap: Bool
        /// CPUID(1).EAX stepping/model/family, as the spec's CPU signature.
        public var signature: UInt32
        /// CPUID(1).EDX.
        public var features: UInt32

        public init(apicID: UInt8, bootstrap: Bool, signature: UInt32, features: UInt32) {
            self.apicID = apicID
            self.bootstrap = bootstrap
            self.signature = signature
            self.features = features
        }
    }

    public struct Bus: Sendable, Equatable {
        public var id: UInt8
        /// Six characters, space padded ("ISA   ", "PCI   ").
        public var type: String

        public static func isa(id: UInt8) -> Bus { Bus(id: id, type: "ISA") }
        public static func pci(id: UInt8) -> Bus { Bus(id: id, type: "PCI") }
    }

    public struct IOAPIC: Sendable, Equatable {
        public var id: UInt8
        public var version: UInt8 = MPTable.ioAPICVersion
        public var enabled = true
        public var address: UInt32

        public init(id: UInt8, address: UInt32) {
            self.id = id
            self.address = address
        }
    }

    public enum InterruptType: UInt8, Sendable {
        case vectored = 0  // "INT": the IOAPIC/LAPIC supplies the vector
        case nmi = 1
        case smi = 2
        case extINT = 3  // vector comes from an 8259A
    }

    /// Polarity bits 1:0 and trigger mode bits 3:2; 0 = conforms to the bus.
    public struct InterruptFlags: Sendable, Equatable {
        public var raw: UInt16
        public static let conforming = InterruptFlags(raw: 0)
        public static let activeHigh = InterruptFlags(raw: 0b01)
        public static let activeLow = InterruptFlags(raw: 0b11)
        public static let edge = InterruptFlags(raw: 0b01 << 2)
        public static let level = InterruptFlags(raw: 0b11 << 2)
        public static func | (a: InterruptFlags, b: InterruptFlags) -> InterruptFlags { InterruptFlags(raw: a.raw | b.raw) }
    }

    /// I/O interrupt assignment: a bus IRQ wired to an IOAPIC pin. For PCI
    /// buses the source IRQ is (device << 2) | (INTx pin - 1).
    public struct IOInterrupt: Sendable, Equatable {
        public var type: InterruptType = .vectored
        public var flags: InterruptFlags = .conforming
        public var sourceBus: UInt8
        public var sourceIRQ: UInt8
        public var ioapicID: UInt8
        public var ioapicPin: UInt8
    }

    /// Local interrupt assignment: what drives a LAPIC's LINT0/LINT1 pin.
    public struct LocalInterrupt: Sendable, Equatable {
        public static let allLocalAPICs: UInt8 = 0xFF
        public var type: InterruptType
        public var flags: InterruptFlags = .conforming
        public var sourceBus: UInt8
        public var sourceIRQ: UInt8
        public var localAPICID: UInt8
        public var lint: UInt8
    }

    public var processors: [Processor]
    public var buses: [Bus]
    public var ioapics: [IOAPIC]
    public var interrupts: [IOInterrupt]
    public var localInterrupts: [LocalInterrupt]

    public init(processors: [Processor], buses: [Bus], ioapics: [IOAPIC],
                interrupts: [IOInterrupt], localInterrupts: [LocalInterrupt]) {
        self.processors = processors
        self.buses = buses
        self.ioapics = ioapics
        self.interrupts = interrupts
        self.localInterrupts = localInterrupts
    }

    /// A PC: vCPU i has APIC id i (cpu 0 boots), one ISA bus (id 0), one
    /// IOAPIC with id = cpuCount, ISA IRQs 0-15 on the same IOAPIC pins except
    /// IRQ0 on `timerPin` (2 as on real PCs: then the VMM must route GSI 0 to
    /// IOAPIC pin 2, since KVM's default routing sends GSI 0 to pin 0), IRQ2
    /// (the 8259 cascade) unlisted, 8259 ExtINT on every LINT0, NMI on every LINT1.
    /// With `pci`, PCI bus 0 comes first (Linux matches MP bus ids against PCI
    /// bus numbers), the ISA bus becomes id 1, and INTA of each of
    /// `pciDevices` gets an entry (`pciInterrupts`).
    public static func pc(cpuCount: Int, ioapicAddress: GuestAddress, timerPin: UInt8 = 2,
                          pci: PCIWindows? = nil, pciDevices: [Int] = [],
                          cpuSignature: UInt32 = 0x0000_0600,
                          cpuFeatures: UInt32 = 0x0000_0201) throws(BootError) -> MPTable {
        // APIC ids are 8 bits, 0xFF is broadcast, and the IOAPIC takes id cpuCount.
        guard (1...254).contains(cpuCount) else {
            throw .invalidMPTable("\(cpuCount) vCPUs; an MP table describes 1 to 254")
        }
        guard timerPin == 0 || timerPin == 2 else {
            throw .invalidMPTable("timer pin \(timerPin); ISA IRQ0 goes to IOAPIC pin 0 or 2")
        }
        guard ioapicAddress.raw <= UInt64(UInt32.max) else {
            throw .invalidMPTable("IOAPIC address \(ioapicAddress) is above 4 GiB")
        }
        let ioapicID = UInt8(cpuCount)
        let isaBus: UInt8 = pci == nil ? 0 : 1
        let processors = (0..<cpuCount).map {
            Processor(apicID: UInt8($0), bootstrap: $0 == 0, signature: cpuSignature, features: cpuFeatures)
        }
        var interrupts: [IOInterrupt] = []
        for irq in UInt8(0)..<16 where irq != 2 {
            interrupts.append(IOInterrupt(sourceBus: isaBus, sourceIRQ: irq, ioapicID: ioapicID,
                                          ioapicPin: irq == 0 ? timerPin : irq))
        }
        let local = [
            LocalInterrupt(type: .extINT, sourceBus: isaBus, sourceIRQ: 0,
                           localAPICID: LocalInterrupt.allLocalAPICs, lint: 0),
            LocalInterrupt(type: .nmi, sourceBus: isaBus, sourceIRQ: 0,
                           localAPICID: LocalInterrupt.allLocalAPICs, lint: 1),
        ]
        var buses = [Bus.isa(id: isaBus)]
        if let pci {
            buses.insert(.pci(id: pciBus), at: 0)
            interrupts += try pciInterrupts(pci: pci, devices: pciDevices, ioapicID: ioapicID)
        }
        return MPTable(processors: processors, buses: buses,
                       ioapics: [IOAPIC(id: ioapicID, address: UInt32(ioapicAddress.raw))],
                       interrupts: interrupts, localInterrupts: local)
    }

    /// Convenience for the machine: pc() encoded for placement at `base`.
    public static func build(cpuCount: Int, ioapicAddress: GuestAddress, base: GuestAddress,
                             sizeLimit: Int = defaultSizeLimit) throws(BootError) -> [UInt8] {
        try pc(cpuCount: cpuCount, ioapicAddress: ioapicAddress).encode(at: base, sizeLimit: sizeLimit)
    }

    public var entryCount: Int {
        processors.count + buses.count + ioapics.count + interrupts.count + localInterrupts.count
    }

    /// Bytes of floating pointer + configuration table.
    public var encodedSize: Int {
        Self.floatingPointerSize + Self.headerSize + 20 * processors.count
            + 8 * (buses.count + ioapics.count + interrupts.count + localInterrupts.count)
    }

    /// Floating pointer at `base`, configuration table at `base + 16`.
    public func encode(at base: GuestAddress, sizeLimit: Int = defaultSizeLimit) throws(BootError) -> [UInt8] {
        guard encodedSize <= sizeLimit else { throw .mpTableTooLarge(size: encodedSize, limit: sizeLimit) }
        // Linux scans for "_MP_" in 16-byte steps and the pointers are 32-bit.
        guard base.raw % 16 == 0 else { throw .invalidMPTable("base \(base) is not 16-byte aligned") }
        let (end, overflow) = base.raw.addingReportingOverflow(UInt64(encodedSize))
        guard !overflow, end <= UInt64(UInt32.max) + 1 else {
            throw .invalidMPTable("base \(base) puts the table above 4 GiB")
        }
        guard entryCount <= Int(UInt16.max) else { throw .invalidMPTable("\(entryCount) entries") }
        for bus in buses where bus.type.utf8.count > 6 {
            throw .invalidMPTable("bus type \"\(bus.type)\" is longer than 6 characters")
        }

        var table = Self.text("PCMP", width: 4)
        table += LittleEndian.bytes(UInt16(encodedSize - Self.floatingPointerSize))
        table += [Self.specRevision, 0]  // checksum patched below
        table += Self.text(Self.oemID, width: 8) + Self.text(Self.productID, width: 12)
        table += LittleEndian.bytes(UInt32(0)) + LittleEndian.bytes(UInt16(0))  // no OEM table
        table += LittleEndian.bytes(UInt16(entryCount))
        table += LittleEndian.bytes(Self.localAPICAddress)
        table += LittleEndian.bytes(UInt16(0)) + [0, 0]  // no extended table; reserved
        // Entries must appear grouped in ascending type order (spec 4.3).
        for cpu in processors {
            let flags: UInt8 = (cpu.enabled ? 1 : 0) | (cpu.bootstrap ? 2 : 0)
            table += [0, cpu.apicID, cpu.apicVersion, flags]
            table += LittleEndian.bytes(cpu.signature) + LittleEndian.bytes(cpu.features)
            table += [UInt8](repeating: 0, count: 8)
        }
        for bus in buses {
            table += [1, bus.id] + Self.text(bus.type, width: 6)
        }
        for ioapic in ioapics {
            table += [2, ioapic.id, ioapic.version, ioapic.enabled ? 1 : 0] + LittleEndian.bytes(ioapic.address)
        }
        for entry in interrupts {
            table += [3, entry.type.rawValue] + LittleEndian.bytes(entry.flags.raw)
            table += [entry.sourceBus, entry.sourceIRQ, entry.ioapicID, entry.ioapicPin]
        }
        for entry in localInterrupts {
            table += [4, entry.type.rawValue] + LittleEndian.bytes(entry.flags.raw)
            table += [entry.sourceBus, entry.sourceIRQ, entry.localAPICID, entry.lint]
        }
        table[7] = Self.checksum(table)

        let configAddress = UInt32(base.raw) + UInt32(Self.floatingPointerSize)
        var pointer = Self.text("_MP_", width: 4) + LittleEndian.bytes(configAddress)
        // Length in 16-byte units; feature bytes all 0: a config table is
        // present and the IMCR is absent (virtual wire mode, no PIC mode).
        pointer += [1, Self.specRevision, 0, 0, 0, 0, 0, 0]
        pointer[10] = Self.checksum(pointer)
        return pointer + table
    }

    /// The byte that makes the structure's bytes sum to 0 mod 256.
    static func checksum(_ bytes: [UInt8]) -> UInt8 {
        0 &- bytes.reduce(0, &+)
    }

    /// ASCII, space padded to `width` (MP spec strings are not NUL-terminated).
    static func text(_ string: String, width: Int) -> [UInt8] {
        let bytes = Array(string.utf8.prefix(width))
        return bytes + [UInt8](repeating: 0x20, count: width - bytes.count)
    }
}
