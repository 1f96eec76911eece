/// The type-0 header registers of one function, and its capability list.
/// Pure state: `PCIConfigSpace` guards it with a lock.
struct PCIConfigHeader: Sendable {
    let vendorID: UInt16
    let deviceID: UInt16
    let revision: UInt8
    let classCode: UInt32
    let subsystemVendorID: UInt16
    let subsystemID: UInt16
    let interruptPin: UInt8

    var command: UInt16 = 0
    var interruptLine: UInt8 = 0
    /// Keyed by the BAR's first register index.
    var bars: [Int: PCIBAR] = [:]
    var capabilities: [PCICapabilityEntry] = []
    /// Set by the root on function 0 of a device that has other functions.
    var isMultiFunction = false
    /// Once attached, the BAR layout is fixed.
    var isAttached = false

    /// The BAR behind register `index`: its first index, and whether the
    /// register is the high half of a 64-bit BAR.
    func bar(forRegister index: Int) -> (first: Int, upperHalf: Bool)? {
        if bars[index] != nil { return (index, false) }
        if let lower = bars[index - 1], case .memory64 = lower.kind { return (index - 1, true) }
        return nil
    }

    /// The dword at `offset` (a multiple of 4 below 0x40).
    func dword(at offset: Int) -> UInt32 {
        switch offset {
        case PCIConfigRegister.vendorID:
            return UInt32(deviceID) << 16 | UInt32(vendorID)
        case PCIConfigRegister.command:
            // No error is ever signalled, so the RW1C error bits stay 0.
            let status = capabilities.isEmpty ? 0 : PCIConfigRegister.statusCapabilitiesList
            return UInt32(status) << 16 | UInt32(command)
        case PCIConfigRegister.classRevision:
            return (classCode & 0xFF_FFFF) << 8 | UInt32(revision)
        case PCIConfigRegister.headerType:
            return UInt32(isMultiFunction ? PCIConfigRegister.multiFunction : 0) << 16
        case PCIConfigRegister.firstBAR..<(PCIConfigRegister.firstBAR + 4 * PCIConfigRegister.barCount):
            guard let (first, upperHalf) = bar(forRegister: (offset - PCIConfigRegister.firstBAR) / 4) else { return 0 }
            return bars[first]!.register(upperHalf: upperHalf)
        case PCIConfigRegister.subsystem:
            return UInt32(subsystemID) << 16 | UInt32(subsystemVendorID)
        case PCIConfigRegister.capabilitiesPointer:
            return UInt32(capabilities.first?.offset ?? 0)
        case PCIConfigRegister.interrupt:
            return UInt32(interruptPin) << 8 | UInt32(interruptLine)
        default:
            return 0
        }
    }

    /// Applies a write of `size` bytes at `offset` (below 0x40, aligned) to
    /// the registers that take writes; everything else is read-only.
    mutating func write(offset: Int, size: Int, value: UInt32) {
        let dwordOffset = offset & ~3
        let merged = PCIConfigAccess.merge(dword(at: dwordOffset), value: value, byteOffset: offset & 3, size: size)
        switch dwordOffset {
        case PCIConfigRegister.command:
            // The status half is RW1C with nothing ever set: writes change nothing.
            command = UInt16(truncatingIfNeeded: merged) & PCIConfigRegister.writableCommandBits
        case PCIConfigRegister.firstBAR..<(PCIConfigRegister.firstBAR + 4 * PCIConfigRegister.barCount):
            let register = (dwordOffset - PCIConfigRegister.firstBAR) / 4
            guard let (first, upperHalf) = bar(forRegister: register) else { return }
            bars[first]!.setRegister(upperHalf: upperHalf, to: merged)
        case PCIConfigRegister.interrupt:
            interruptLine = UInt8(truncatingIfNeeded: merged)
        default:
            break
        }
    }

    /// The enabled BAR of `space` wholly covering `start..<start+length`.
    func decodingBAR(in space: PCIAddressSpace, covering start: UInt64, length: Int) -> (index: Int, offset: UInt64)? {
        let enableBit = space == .io ? PCIConfigRegister.commandIO : PCIConfigRegister.commandMemory
        guard command & enableBit != 0 else { return nil }
        for (index, bar) in bars where bar.kind.addressSpace == space {
            if let offset = bar.offset(of: start, length: length) { return (index, offset) }
        }
        return nil
    }
}
