/// Where a device's registers live: x86 port I/O or guest-physical MMIO.
public enum DeviceLocation: Hashable, Sendable {
    case ports(PortRange)
    case mmio(GuestRange)
}

/// A 16550-compatible UART (8250 family).
public struct UART8250Spec: Hashable, Sendable {
    public static let registerCount: UInt32 = 8
    /// Ports on x86 (COM1 at 0x3f8); MMIO on arm64, where there is no port I/O.
    public let location: DeviceLocation
    public let irq: Int

    public init(location: DeviceLocation, irq: Int) {
        self.location = location
        self.irq = irq
    }
}

/// The PS/2 controller: Linux pokes it to reboot and probes it at boot.
public struct I8042Spec: Hashable, Sendable {
    /// Data port; the command/status port is `dataPort + 4` (0x60 and 0x64).
    public let dataPort: UInt16
    /// Keyboard interrupt (ISA IRQ 1).
    public let irq: Int
    /// Mouse (AUX) interrupt, ISA IRQ 12, if the board wires one.
    public let auxIRQ: Int?

    public init(dataPort: UInt16, irq: Int, auxIRQ: Int?) {
        self.dataPort = dataPort
        self.irq = irq
        self.auxIRQ = auxIRQ
    }

    public var portRanges: [PortRange] {
        [PortRange(start: dataPort, count: 1), PortRange(start: dataPort &+ 4, count: 1)].compactMap { $0 }
    }
}

/// The MC146818 CMOS real-time clock: an index port and a data port.
public struct CMOSRTCSpec: Hashable, Sendable {
    public static let portCount: UInt32 = 2
    public let ports: PortRange
    public let irq: Int

    public init(ports: PortRange, irq: Int) {
        self.ports = ports
        self.irq = irq
    }
}

/// An MMIO-only device with one register window and one interrupt (PL011, PL031).
public struct MMIODeviceSpec: Hashable, Sendable {
    public static let defaultSize: UInt64 = 0x1000
    public let range: GuestRange
    public let irq: Int

    public init(range: GuestRange, irq: Int) {
        self.range = range
        self.irq = irq
    }
}

/// One entry of the board's `[[devices]]` array.
public enum DeviceSpec: Hashable, Sendable {
    case uart8250(UART8250Spec)
    case i8042(I8042Spec)
    case cmosRTC(CMOSRTCSpec)
    case pl011(MMIODeviceSpec)
    case pl031(MMIODeviceSpec)

    /// The `kind` string in the board file.
    public var kind: String {
        switch self {
        case .uart8250: "uart8250"
        case .i8042: "i8042"
        case .cmosRTC: "cmos-rtc"
        case .pl011: "pl011"
        case .pl031: "pl031"
        }
    }

    /// Kinds a board may hold at most once: the guest expects one of each.
    static let singletonKinds: Set<String> = ["i8042", "cmos-rtc", "pl031"]

    public var portRanges: [PortRange] {
        switch self {
        case .uart8250(let spec):
            if case .ports(let range) = spec.location { return [range] }
            return []
        case .i8042(let spec): return spec.portRanges
        case .cmosRTC(let spec): return [spec.ports]
        case .pl011, .pl031: return []
        }
    }

    public var mmioRange: GuestRange? {
        switch self {
        case .uart8250(let spec):
            if case .mmio(let range) = spec.location { return range }
            return nil
        case .i8042, .cmosRTC: return nil
        case .pl011(let spec), .pl031(let spec): return spec.range
        }
    }

    /// The device's interrupts, each with the key it came from.
    public var irqFields: [(field: String, irq: Int)] {
        switch self {
        case .uart8250(let spec): return [("irq", spec.irq)]
        case .i8042(let spec):
            var fields = [(field: "irq", irq: spec.irq)]
            if let aux = spec.auxIRQ { fields.append((field: "aux_irq", irq: aux)) }
            return fields
        case .cmosRTC(let spec): return [("irq", spec.irq)]
        case .pl011(let spec), .pl031(let spec): return [("irq", spec.irq)]
        }
    }
}
