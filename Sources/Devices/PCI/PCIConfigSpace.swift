import Synchronization

/// A function's configuration space: the 256-byte type-0 header with its
/// capability list, inside the 4 KiB ECAM gives each function.
///
/// Accesses are 1, 2 or 4 bytes, naturally aligned; anything else reads all
/// ones and is ignored on write. Extended space (0x100 and up) reads 0: the
/// function is conventional PCI, with no extended capabilities to list.
/// vCPU threads call in concurrently; a lock guards the registers, and
/// capabilities are called with it released (they keep their own locks).
public final class PCIConfigSpace: Sendable {
    private let header: Mutex<PCIConfigHeader>

    public init(vendorID: UInt16, deviceID: UInt16, revision: UInt8, classCode: UInt32,
                subsystemVendorID: UInt16, subsystemID: UInt16, interruptPin: UInt8) {
        header = Mutex(PCIConfigHeader(
            vendorID: vendorID, deviceID: deviceID, revision: revision, classCode: classCode,
            subsystemVendorID: subsystemVendorID, subsystemID: subsystemID, interruptPin: interruptPin))
    }

    /// Declares BAR `index` (and `index + 1` for a 64-bit one), before the
    /// function is attached. Sizes are powers of two: memory >= 16, I/O >= 4.
    public func declareBAR(_ index: Int, kind: PCIBARKind, size: UInt64) {
        let registers = kind == .io || kind == .memory32 ? 1 : 2
        precondition(index >= 0 && index + registers <= PCIConfigRegister.barCount, "BAR \(index) out of range")
        precondition(size.nonzeroBitCount == 1 && size >= (kind == .io ? 4 : 16), "BAR size \(size) invalid")
        precondition(kind != .memory32 || size <= 1 << 31, "a 32-bit BAR cannot be \(size) bytes")
        precondition(kind != .io || size <= 1 << 15, "an I/O BAR cannot be \(size) bytes")
        header.withLock { header in
            precondition(!header.isAttached, "BARs are declared before attach")
            for register in index..<(index + registers) {
                precondition(header.bar(forRegister: register) == nil, "BAR \(register) declared twice")
            }
            header.bars[index] = PCIBAR(kind: kind, size: size)
        }
    }

    /// Appends `capability` to the list: dword aligned after the previous
    /// one, the first at 0x40. Returns its offset.
    @discardableResult
    public func addCapability(_ capability: any PCICapability) -> Int {
        header.withLock { header in
            let offset = header.capabilities.last?.paddedEnd ?? PCIConfigRegister.firstCapability
            precondition(capability.length >= 2, "a capability has at least its 2-byte header")
            precondition(offset + capability.length <= PCIConfigRegister.conventionalSize,
                         "capability \(capability.id) does not fit in config space")
            if !header.capabilities.isEmpty { header.capabilities[header.capabilities.count - 1].next = offset }
            header.capabilities.append(PCICapabilityEntry(offset: offset, capability: capability))
            return offset
        }
    }

    public func read(offset: Int, size: Int) -> UInt32 {
        guard PCIConfigAccess.isValid(offset: offset, size: size, limit: PCIConfigRegister.extendedSize) else {
            return PCIConfigAccess.allOnes(size: size)
        }
        if offset >= PCIConfigRegister.conventionalSize { return 0 }
        if offset < PCIConfigRegister.firstCapability {
            let dword = header.withLock { $0.dword(at: offset & ~3) }
            return PCIConfigAccess.extract(dword, byteOffset: offset & 3, size: size)
        }
        guard let entry = capability(at: offset) else { return 0 }
        return PCICapabilityAccess(entry: entry, offset: offset, size: size).read()
    }

    public func write(offset: Int, size: Int, value: UInt32) {
        guard PCIConfigAccess.isValid(offset: offset, size: size, limit: PCIConfigRegister.extendedSize),
              offset < PCIConfigRegister.conventionalSize else { return }
        if offset < PCIConfigRegister.firstCapability {
            header.withLock { $0.write(offset: offset, size: size, value: value) }
            return
        }
        guard let entry = capability(at: offset) else { return }
        PCICapabilityAccess(entry: entry, offset: offset, size: size).write(value)
    }

    /// The capability whose (padded) bytes hold `offset`; an aligned access
    /// never spans two since each starts on a dword.
    private func capability(at offset: Int) -> PCICapabilityEntry? {
        header.withLock { header in
            header.capabilities.first { $0.offset <= offset && offset < $0.paddedEnd }
        }
    }

    /// The base the guest programmed into BAR `index`; nil if not declared.
    public func barAddress(_ index: Int) -> UInt64? { header.withLock { $0.bars[index]?.address } }

    public var memoryDecodeEnabled: Bool { commandBit(PCIConfigRegister.commandMemory) }
    public var ioDecodeEnabled: Bool { commandBit(PCIConfigRegister.commandIO) }
    public var busMasterEnabled: Bool { commandBit(PCIConfigRegister.commandBusMaster) }
    /// Command bit 10: the function must not assert INTx.
    public var intxDisabled: Bool { commandBit(PCIConfigRegister.commandINTxDisable) }

    /// Register 0x3C: the interrupt input firmware routed INTx to.
    public var interruptLine: UInt8 {
        get { header.withLock { $0.interruptLine } }
        set { header.withLock { $0.interruptLine = newValue } }
    }

    /// Register 0x3D: 0 for none, 1 = INTA ... 4 = INTD.
    public var interruptPin: UInt8 { header.withLock { $0.interruptPin } }

    private func commandBit(_ bit: UInt16) -> Bool { header.withLock { $0.command & bit != 0 } }

    // MARK: For the root, acting as firmware

    /// Declared BARs by first register index, in index order.
    var declaredBARs: [(index: Int, kind: PCIBARKind, size: UInt64)] {
        header.withLock { header in
            header.bars.keys.sorted().map { ($0, header.bars[$0]!.kind, header.bars[$0]!.size) }
        }
    }

    /// Fixes the BAR layout (no more `declareBAR`); false if already attached.
    func markAttached() -> Bool {
        header.withLock { header in
            defer { header.isAttached = true }
            return !header.isAttached
        }
    }

    func assignBAR(_ index: Int, address: UInt64) { header.withLock { $0.bars[index]?.setAddress(address) } }

    func enableDecode(_ bits: UInt16) { header.withLock { $0.command |= bits } }

    func setMultiFunction(_ isMultiFunction: Bool) { header.withLock { $0.isMultiFunction = isMultiFunction } }

    /// The enabled BAR of `space` wholly covering the access, for window dispatch.
    func decodingBAR(in space: PCIAddressSpace, covering start: UInt64, length: Int) -> (index: Int, offset: UInt64)? {
        header.withLock { $0.decodingBAR(in: space, covering: start, length: length) }
    }
}
