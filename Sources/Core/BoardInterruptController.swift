/// KVM's in-kernel x86 interrupt controllers: the 8259 PIC pair, one IOAPIC and
/// a local APIC per vCPU.
public struct X86IOAPICSpec: Hashable, Sendable {
    /// KVM's in-kernel IOAPIC has exactly this many pins (KVM_IOAPIC_NUM_PINS).
    public static let maxLines = 24
    /// xAPIC IDs are 8 bits: 0xff is broadcast and the IOAPIC takes one ID in the MP table.
    public static let maxCPUs = 254
    /// Both register windows are one page.
    public static let windowSize: UInt64 = 0x1000

    public let ioapic: GuestRange
    public let lapic: GuestRange
    public let lines: Int

    public init(ioapic: GuestRange, lapic: GuestRange, lines: Int) {
        self.ioapic = ioapic
        self.lapic = lapic
        self.lines = lines
    }
}

/// An arm64 GICv3: distributor, one redistributor region, optional ITS (for MSIs).
public struct GICv3Spec: Hashable, Sendable {
    public static let distributorSize: UInt64 = 0x10000
    /// Each vCPU's redistributor is two 64 KiB frames (RD_base and SGI_base).
    public static let redistributorSizePerCPU: UInt64 = 0x20000
    public static let itsSize: UInt64 = 0x20000
    /// SPIs are INTIDs 32...1019; KVM takes the total in multiples of 32.
    public static let maxSPIs = 960
    /// KVM's VGIC_V3_MAX_CPUS.
    public static let maxCPUsKVM = 512

    public let distributor: GuestRange
    public let redistributors: GuestRange
    public let its: GuestRange?
    /// Device `irq` values are SPI numbers 0..<spis; the INTID is 32 + irq.
    public let spis: Int

    public init(distributor: GuestRange, redistributors: GuestRange, its: GuestRange?, spis: Int) {
        self.distributor = distributor
        self.redistributors = redistributors
        self.its = its
        self.spis = spis
    }

    /// Redistributor space bounds the vCPU count.
    public var maxCPUs: Int {
        min(Int(redistributors.size / GICv3Spec.redistributorSizePerCPU), GICv3Spec.maxCPUsKVM)
    }
}

/// The board's interrupt controller, as described in `[interrupt_controller]`.
public enum InterruptControllerSpec: Hashable, Sendable {
    case x86IOAPIC(X86IOAPICSpec)
    case gicv3(GICv3Spec)

    /// The `kind` string in the board file.
    public var kind: String {
        switch self {
        case .x86IOAPIC: "x86-ioapic"
        case .gicv3: "gicv3"
        }
    }

    public var architecture: Architecture {
        switch self {
        case .x86IOAPIC: .x86_64
        case .gicv3: .arm64
        }
    }

    /// Device interrupt inputs: IOAPIC pins on x86, SPIs on arm64. Valid IRQs are 0..<lineCount.
    public var lineCount: Int {
        switch self {
        case .x86IOAPIC(let spec): spec.lines
        case .gicv3(let spec): spec.spis
        }
    }

    /// The most vCPUs this controller can address.
    public var maxCPUs: Int {
        switch self {
        case .x86IOAPIC: X86IOAPICSpec.maxCPUs
        case .gicv3(let spec): spec.maxCPUs
        }
    }

    /// IRQs devices must not take: wired to something the controller owns.
    public var reservedIRQs: [Int: String] {
        switch self {
        case .x86IOAPIC: [0: "the in-kernel PIT timer", 2: "the PIC cascade"]
        case .gicv3: [:]
        }
    }

    public var mmioRegions: [NamedRange] {
        switch self {
        case .x86IOAPIC(let spec):
            return [NamedRange(name: "interrupt_controller.ioapic", range: spec.ioapic),
                    NamedRange(name: "interrupt_controller.lapic", range: spec.lapic)]
        case .gicv3(let spec):
            var regions = [NamedRange(name: "interrupt_controller.distributor", range: spec.distributor),
                           NamedRange(name: "interrupt_controller.redistributors", range: spec.redistributors)]
            if let its = spec.its { regions.append(NamedRange(name: "interrupt_controller.its", range: its)) }
            return regions
        }
    }
}
