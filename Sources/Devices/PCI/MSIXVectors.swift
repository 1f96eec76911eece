import LKVMCore
import Synchronization

/// MSI-X (PCI Local Bus 3.0 section 6.8.2): the capability (ID 0x11) plus
/// the table and the pending-bit array, which live in BARs the function
/// declares; the function routes those BAR ranges to `readTable`,
/// `writeTable` and `readPBA`.
///
/// Messages are sent with the lock held, so once a guest write masking a
/// vector returns, that vector sends nothing more until unmasked (drivers
/// mask, reprogram address/data, then unmask). The controller is a leaf
/// that never calls back, so this cannot deadlock.
public final class MSIXVectors: PCICapability {
    public static let capabilityID: UInt8 = 0x11
    /// virtio's VIRTIO_MSI_NO_VECTOR: the driver assigned no vector.
    public static let noVector: UInt16 = 0xFFFF
    /// Message Control bits 10:0 hold the table size minus one.
    public static let maxCount = 2048

    private static let enableBit: UInt16 = 1 << 15
    private static let functionMaskBit: UInt16 = 1 << 14

    public let id: UInt8 = MSIXVectors.capabilityID
    /// Header, Message Control, Table Offset/BIR, PBA Offset/BIR.
    public let length = 12
    public let count: Int
    public let tableBAR: Int
    public let tableOffset: UInt32
    public let pbaBAR: Int
    public let pbaOffset: UInt32
    private let controller: any MSIController
    private let deviceID: UInt32?
    private let state: Mutex<MSIXState>

    /// - Parameter deviceID: the requester ID an arm64 ITS translates; nil on x86.
    public init(count: Int, tableBAR: Int, tableOffset: UInt32, pbaBAR: Int, pbaOffset: UInt32,
                controller: any MSIController, deviceID: UInt32?) {
        precondition((1...MSIXVectors.maxCount).contains(count), "MSI-X takes 1 to 2048 vectors, not \(count)")
        precondition((0..<6).contains(tableBAR) && (0..<6).contains(pbaBAR), "MSI-X structures live in BARs 0 to 5")
        precondition(tableOffset % 8 == 0 && pbaOffset % 8 == 0, "MSI-X offsets are 8-byte aligned")
        self.count = count
        self.tableBAR = tableBAR
        self.tableOffset = tableOffset
        self.pbaBAR = pbaBAR
        self.pbaOffset = pbaOffset
        self.controller = controller
        self.deviceID = deviceID
        state = Mutex(MSIXState(count: count))
    }

    /// 16 bytes per vector.
    public var tableBytes: Int { count * MSIXTableEntry.bytes }
    /// One bit per vector, in whole qwords.
    public var pbaBytes: Int { (count + 63) / 64 * 8 }

    public var isEnabled: Bool { state.withLock { $0.isEnabled } }
    public var isFunctionMasked: Bool { state.withLock { $0.isFunctionMasked } }

    // MARK: Capability registers

    private var messageControl: UInt16 {
        state.withLock { state in
            UInt16(count - 1) | (state.isEnabled ? MSIXVectors.enableBit : 0)
                | (state.isFunctionMasked ? MSIXVectors.functionMaskBit : 0)
        }
    }

    /// The body as one little-endian image from offset 0 (header bytes 0).
    private func registerDword(at offset: Int) -> UInt32 {
        switch offset {
        case 0: UInt32(messageControl) << 16
        case 4: tableOffset | UInt32(tableBAR)
        default: pbaOffset | UInt32(pbaBAR)
        }
    }

    public func read(offset: Int, size: Int) -> UInt32 {
        guard PCIConfigAccess.isValid(offset: offset, size: size, limit: length) else { return 0 }
        return PCIConfigAccess.extract(registerDword(at: offset & ~3), byteOffset: offset & 3, size: size)
    }

    /// Only Message Control's enable and function-mask bits are writable.
    public func write(offset: Int, size: Int, value: UInt32) {
        guard PCIConfigAccess.isValid(offset: offset, size: size, limit: length), offset < 4 else { return }
        let merged = PCIConfigAccess.merge(registerDword(at: 0), value: value, byteOffset: offset, size: size)
        let control = UInt16(truncatingIfNeeded: merged >> 16)
        state.withLock { state in
            state.isEnabled = control & MSIXVectors.enableBit != 0
            state.isFunctionMasked = control & MSIXVectors.functionMaskBit != 0
            send(state.takeDeliverable(deviceID: deviceID))
        }
    }

    // MARK: Table and PBA

    /// Aligned 4- and 8-byte accesses inside `bytes` are defined; others read all ones.
    private func isValidStructureAccess(offset: UInt64, size: Int, bytes: Int) -> Bool {
        (size == 4 || size == 8) && offset % UInt64(size) == 0 && offset < UInt64(bytes)
    }

    public func readTable(offset: UInt64, size: Int) -> UInt64 {
        guard isValidStructureAccess(offset: offset, size: size, bytes: tableBytes) else {
            return floatingBusValue(size: size)
        }
        let vector = Int(offset) / MSIXTableEntry.bytes, field = Int(offset) % MSIXTableEntry.bytes
        let entry = state.withLock { $0.entries[vector] }
        let low = UInt64(entry.dword(at: field))
        return size == 8 ? low | UInt64(entry.dword(at: field + 4)) << 32 : low
    }

    public func writeTable(offset: UInt64, size: Int, value: UInt64) {
        guard isValidStructureAccess(offset: offset, size: size, bytes: tableBytes) else { return }
        let vector = Int(offset) / MSIXTableEntry.bytes, field = Int(offset) % MSIXTableEntry.bytes
        state.withLock { state in
            state.entries[vector].setDword(at: field, to: UInt32(truncatingIfNeeded: value))
            if size == 8 { state.entries[vector].setDword(at: field + 4, to: UInt32(truncatingIfNeeded: value >> 32)) }
            send(state.takeDeliverable(deviceID: deviceID))
        }
    }

    /// The pending bits; writes to the PBA are ignored, so there is no writePBA.
    public func readPBA(offset: UInt64, size: Int) -> UInt64 {
        guard isValidStructureAccess(offset: offset, size: size, bytes: pbaBytes) else {
            return floatingBusValue(size: size)
        }
        let word = state.withLock { $0.pending[Int(offset) / 8] }
        return size == 8 ? word : (word >> ((offset % 8) * 8)) & 0xFFFF_FFFF
    }

    // MARK: Sending

    /// Sends `vector` (a message from its table entry through the controller).
    /// Returns false when MSI-X is disabled (the caller then uses INTx). A
    /// masked vector (entry mask or function mask) sets its pending bit
    /// instead and is sent when unmasked. A vector out of range or 0xFFFF
    /// (virtio's NO_VECTOR) sends nothing and returns true.
    @discardableResult
    public func signal(vector: UInt16) -> Bool {
        state.withLock { state in
            guard state.isEnabled else { return false }
            let index = Int(vector)
            guard vector != MSIXVectors.noVector, index < count else { return true }
            if state.canSend(index) {
                controller.signalMSI(state.entries[index].message(deviceID: deviceID))
            } else {
                state.setPending(index, true)
            }
            return true
        }
    }

    /// Whether `vector` is waiting in the PBA, for tests and traces.
    public func isPending(vector: UInt16) -> Bool {
        Int(vector) < count && state.withLock { $0.isPending(Int(vector)) }
    }

    private func send(_ messages: [MSIMessage]) {
        for message in messages { controller.signalMSI(message) }
    }
}
