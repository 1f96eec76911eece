/// The PCI host bridge's windows: config space (ECAM) and the ranges BARs are
/// allocated from.
public struct PCIWindows: Hashable, Sendable {
    /// ECAM gives each bus 1 MiB (32 devices × 8 functions × 4 KiB).
    public static let ecamBytesPerBus: UInt64 = 1 << 20
    public static let maxBuses: UInt64 = 256

    public let ecam: GuestRange
    /// 32-bit BAR window; must end at or below 4 GiB.
    public let mmio32: GuestRange
    public let mmio64: GuestRange?
    /// I/O BAR window (x86 only).
    public let ioPorts: PortRange?
    /// Legacy INTx lines, if the board wires them (MSI-X needs none).
    public let intxIRQs: Range<Int>?

    public init(ecam: GuestRange, mmio32: GuestRange, mmio64: GuestRange?, ioPorts: PortRange?, intxIRQs: Range<Int>?) {
        self.ecam = ecam
        self.mmio32 = mmio32
        self.mmio64 = mmio64
        self.ioPorts = ioPorts
        self.intxIRQs = intxIRQs
    }

    /// The interrupt input INTx pin `pin` (1 = INTA ... 4 = INTD) of device
    /// `device` on bus 0 is wired to, nil when the board wires no INTx. The
    /// usual swizzle, so that INTA of neighbouring slots lands on different
    /// lines; the firmware tables (ACPI _PRT, MP table, FDT interrupt-map)
    /// and the devices all use this one rule.
    public func intxIRQ(device: Int, pin: Int) -> Int? {
        guard let intxIRQs, !intxIRQs.isEmpty, (1...4).contains(pin), device >= 0 else { return nil }
        return intxIRQs.lowerBound + (device + pin - 1) % intxIRQs.count
    }

    /// Buses covered by ECAM: 0..<busCount.
    public var busCount: Int { Int(ecam.size / PCIWindows.ecamBytesPerBus) }

    public var mmioRegions: [NamedRange] {
        var regions = [NamedRange(name: "pci.ecam", range: ecam), NamedRange(name: "pci.mmio32", range: mmio32)]
        if let mmio64 { regions.append(NamedRange(name: "pci.mmio64", range: mmio64)) }
        return regions
    }
}

/// Slots for virtio-mmio devices: slot i at `base + i * stride` with IRQ `firstIRQ + i`.
public struct VirtioMMIOWindow: Hashable, Sendable {
    /// The virtio-mmio v2 register block plus config space needs 0x200 bytes.
    public static let minimumStride: UInt64 = 0x200

    public let base: GuestAddress
    public let stride: UInt64
    public let count: Int
    public let firstIRQ: Int

    public init(base: GuestAddress, stride: UInt64, count: Int, firstIRQ: Int) {
        self.base = base
        self.stride = stride
        self.count = count
        self.firstIRQ = firstIRQ
    }

    /// The whole window; the parser checked it does not wrap.
    public var window: GuestRange {
        GuestRange(start: base, size: stride * UInt64(count))!
    }

    public var irqs: Range<Int> { firstIRQ..<(firstIRQ + count) }

    /// Registers and IRQ of slot `index`, nil past the last slot.
    public func slot(_ index: Int) -> (range: GuestRange, irq: Int)? {
        guard index >= 0, index < count else { return nil }
        return (GuestRange(start: GuestAddress(base.raw + stride * UInt64(index)), size: stride)!, firstIRQ + index)
    }
}
