/// Parsing of `[interrupt_controller]` and `[[devices]]`: one function per kind,
/// so a new kind is one case here and one in the model.
extension BoardParser {
    static let interruptControllerKinds = ["x86-ioapic", "gicv3"]
    static let deviceKinds = ["uart8250", "i8042", "cmos-rtc", "pl011", "pl031"]
    /// GICv3 frames are 64 KiB and must be aligned to it.
    static let gicAlignment: UInt64 = 0x10000

    static func parseInterruptController(_ reader: BoardTOMLReader) throws(BoardError) -> InterruptControllerSpec {
        let kind = try reader.choice("kind", from: interruptControllerKinds, what: "interrupt controller kind")
        let spec: InterruptControllerSpec
        switch kind {
        case "x86-ioapic":
            let ioapic = try pageRange(reader, "ioapic", size: X86IOAPICSpec.windowSize)
            let lapic = try pageRange(reader, "lapic", size: X86IOAPICSpec.windowSize)
            let lines = try reader.positiveInteger("lines", max: X86IOAPICSpec.maxLines)
            spec = .x86IOAPIC(X86IOAPICSpec(ioapic: ioapic, lapic: lapic, lines: lines))
        default:
            let distributor = try reader.range("distributor")
            try requireGICFrame(distributor, reader, "distributor", exactSize: GICv3Spec.distributorSize)
            let redistributors = try reader.range("redistributors")
            try requireGICFrame(redistributors, reader, "redistributors", exactSize: nil)
            guard redistributors.size % GICv3Spec.redistributorSizePerCPU == 0 else {
                throw reader.error("redistributors.size",
                                   "\(hex(redistributors.size)) is not a multiple of 0x20000 (128 KiB per vCPU)")
            }
            let its = try reader.optionalRange("its")
            if let its { try requireGICFrame(its, reader, "its", exactSize: GICv3Spec.itsSize) }
            let spis = try reader.positiveInteger("spis", min: 32, max: GICv3Spec.maxSPIs)
            guard spis % 32 == 0 else { throw reader.error("spis", "\(spis) is not a multiple of 32 (KVM counts IRQs in 32s)") }
            spec = .gicv3(GICv3Spec(distributor: distributor, redistributors: redistributors, its: its, spis: spis))
        }
        try reader.finish()
        return spec
    }

    static func parseDevice(_ reader: BoardTOMLReader) throws(BoardError) -> DeviceSpec {
        let kind = try reader.choice("kind", from: deviceKinds, what: "device kind")
        let device: DeviceSpec
        switch kind {
        case "uart8250":
            let port = try reader.optionalPort("port")
            let mmio = try optionalMMIOWindow(reader)
            let location: DeviceLocation
            switch (port, mmio) {
            case (let port?, nil): location = .ports(try portRange(reader, "port", start: port, count: UART8250Spec.registerCount))
            case (nil, let range?): location = .mmio(range)
            case (nil, nil): throw reader.error(nil, "uart8250 needs either port (x86 I/O port) or address (MMIO)")
            case (_?, _?): throw reader.error("address", "uart8250 takes port or address, not both")
            }
            device = .uart8250(UART8250Spec(location: location, irq: try irq(reader, "irq")))
        case "i8042":
            let port = try reader.port("port")
            guard port <= UInt16.max - 4 else { throw reader.error("port", "\(hex(port)) + 4 (command port) runs past 0xffff") }
            let keyboardIRQ = try irq(reader, "irq")
            let auxIRQ = try reader.optionalInteger("aux_irq", max: Int(Int32.max))
            device = .i8042(I8042Spec(dataPort: port, irq: keyboardIRQ, auxIRQ: auxIRQ))
        case "cmos-rtc":
            let ports = try portRange(reader, "port", start: try reader.port("port"), count: CMOSRTCSpec.portCount)
            device = .cmosRTC(CMOSRTCSpec(ports: ports, irq: try irq(reader, "irq")))
        default:
            guard let range = try optionalMMIOWindow(reader) else {
                throw reader.error("address", "missing required key (an integer)")
            }
            let spec = MMIODeviceSpec(range: range, irq: try irq(reader, "irq"))
            device = kind == "pl011" ? .pl011(spec) : .pl031(spec)
        }
        try reader.finish()
        return device
    }

    /// `address` and optional `size` (one page by default).
    private static func optionalMMIOWindow(_ reader: BoardTOMLReader) throws(BoardError) -> GuestRange? {
        let address = try reader.optionalAddress("address")
        let size = try reader.optionalInteger("size", max: Int.max, hexadecimal: true)
        guard let address else {
            if size != nil { throw reader.error("size", "size without address") }
            return nil
        }
        try requireAligned(address, RAMLayout.pageSize, reader, "address")
        let bytes = UInt64(size ?? Int(MMIODeviceSpec.defaultSize))
        guard bytes > 0 else { throw reader.error("size", "must not be zero") }
        guard let range = GuestRange(start: GuestAddress(address), size: bytes) else {
            throw reader.error("size", "\(hex(address)) + \(hex(bytes)) runs past the end of the address space")
        }
        return range
    }

    private static func irq(_ reader: BoardTOMLReader, _ key: String) throws(BoardError) -> Int {
        // The range depends on the interrupt controller; BoardValidation checks it.
        try reader.integer(key, max: Int(Int32.max))
    }

    private static func portRange(_ reader: BoardTOMLReader, _ key: String, start: UInt16,
                                  count: UInt32) throws(BoardError) -> PortRange {
        guard let range = PortRange(start: start, count: count) else {
            throw reader.error(key, "\(hex(start)) + \(count) ports runs past port 0xffff")
        }
        return range
    }

    /// A one-page register window at a page-aligned address.
    private static func pageRange(_ reader: BoardTOMLReader, _ key: String, size: UInt64) throws(BoardError) -> GuestRange {
        let address = try reader.address(key)
        try requireAligned(address, RAMLayout.pageSize, reader, key)
        guard let range = GuestRange(start: GuestAddress(address), size: size) else {
            throw reader.error(key, "\(hex(address)) + \(hex(size)) runs past the end of the address space")
        }
        return range
    }

    private static func requireGICFrame(_ range: GuestRange, _ reader: BoardTOMLReader, _ key: String,
                                        exactSize: UInt64?) throws(BoardError) {
        try requireAligned(range.start.raw, gicAlignment, reader, "\(key).base", unit: "64 KiB (GIC frame)")
        if let exactSize, range.size != exactSize {
            throw reader.error("\(key).size", "\(hex(range.size)) must be \(hex(exactSize))")
        }
    }
}
