/// The guest instruction set a board is built for.
public enum Architecture: String, Sendable, CaseIterable, CustomStringConvertible {
    case x86_64
    case arm64

    /// The architecture lkvm itself was built for: KVM runs guests of the host's kind only.
    public static var host: Architecture {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .arm64
        #else
        #error("lkvm supports x86_64 and arm64 hosts only")
        #endif
    }

    public var description: String { rawValue }
}

/// How virtio devices reach the guest unless the user asks otherwise.
public enum VirtioTransport: String, Sendable, CaseIterable, CustomStringConvertible {
    case pci
    case mmio

    public var description: String { rawValue }
}

/// A guest-physical range with the name it is reported under (firmware memory
/// map entries, overlap diagnostics).
public struct NamedRange: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let range: GuestRange

    public init(name: String, range: GuestRange) {
        self.name = name
        self.range = range
    }

    public var description: String { "\(name) \(range)" }
}

/// A range of x86 I/O ports `[start, start + count)`; `end` may be 0x10000.
public struct PortRange: Hashable, Sendable, CustomStringConvertible {
    public let start: UInt16
    public let count: UInt32

    /// Returns nil when the range is empty or runs past port 0xffff.
    public init?(start: UInt16, count: UInt32) {
        guard count > 0, UInt32(start) + count <= 0x10000 else { return nil }
        self.start = start
        self.count = count
    }

    /// Exclusive end, up to 0x10000.
    public var end: UInt32 { UInt32(start) + count }

    public func overlaps(_ other: PortRange) -> Bool {
        UInt32(start) < other.end && UInt32(other.start) < end
    }

    public var description: String { "ports [\(hex(start)), \(hex(end)))" }
}

/// How many vCPUs a board boots by default and how many it can describe.
public struct CPUCount: Hashable, Sendable {
    public let defaultCount: Int
    /// The board's limit; never above what its interrupt controller can address.
    public let maxCount: Int

    public init(defaultCount: Int, maxCount: Int) {
        self.defaultCount = defaultCount
        self.maxCount = maxCount
    }
}

/// A parsed and validated board description (a `Boards/*.toml` file). Every
/// address, port and IRQ the machine builder uses comes from here.
public struct Board: Sendable, Hashable {
    public let name: String
    public let architecture: Architecture
    public let description: String
    /// The file this board was read from; every later error names it.
    public let fileName: String
    public let cpus: CPUCount
    public let ram: RAMLayout
    public let interruptController: InterruptControllerSpec
    public let devices: [DeviceSpec]
    public let pci: PCIWindows?
    public let virtioMMIO: VirtioMMIOWindow?
    public let defaultTransport: VirtioTransport

    public init(
        name: String, architecture: Architecture, description: String, fileName: String,
        cpus: CPUCount, ram: RAMLayout, interruptController: InterruptControllerSpec,
        devices: [DeviceSpec], pci: PCIWindows?, virtioMMIO: VirtioMMIOWindow?,
        defaultTransport: VirtioTransport
    ) {
        self.name = name
        self.architecture = architecture
        self.description = description
        self.fileName = fileName
        self.cpus = cpus
        self.ram = ram
        self.interruptController = interruptController
        self.devices = devices
        self.pci = pci
        self.virtioMMIO = virtioMMIO
        self.defaultTransport = defaultTransport
    }

    /// Every MMIO region the board places, named by its key path: RAM must avoid them all.
    public var mmioRegions: [NamedRange] {
        var regions = interruptController.mmioRegions
        for (index, device) in devices.enumerated() {
            if let range = device.mmioRange {
                regions.append(NamedRange(name: "devices[\(index)].address", range: range))
            }
        }
        if let pci { regions += pci.mmioRegions }
        if let virtioMMIO { regions.append(NamedRange(name: "virtio_mmio", range: virtioMMIO.window)) }
        return regions
    }

    /// Every I/O port range the board places, named by its key path.
    public var portRegions: [(name: String, range: PortRange)] {
        var regions: [(name: String, range: PortRange)] = []
        for (index, device) in devices.enumerated() {
            for range in device.portRanges { regions.append((name: "devices[\(index)].port", range: range)) }
        }
        if let ioPorts = pci?.ioPorts { regions.append((name: "pci.io_ports", range: ioPorts)) }
        return regions
    }
}
