import LKVMCore
@testable import LKVMDevices
import Synchronization

/// A PCI function whose BARs answer with a value naming the BAR and offset
/// (0xBA00_0000_0000_0000 | index << 32 | offset) and record writes.
final class PCITestFunction: PCIFunction {
    let configSpace: PCIConfigSpace
    let writes = Mutex<[(bar: Int, offset: UInt64, size: Int, value: UInt64)]>([])

    init(bars: [(index: Int, kind: PCIBARKind, size: UInt64)] = [], interruptPin: UInt8 = 0, vendorID: UInt16 = 0x1AF4) {
        configSpace = PCIConfigSpace(vendorID: vendorID, deviceID: 0x1041, revision: 1, classCode: 0x02_00_00,
                                     subsystemVendorID: 0x1AF4, subsystemID: 0x0001, interruptPin: interruptPin)
        for bar in bars { configSpace.declareBAR(bar.index, kind: bar.kind, size: bar.size) }
    }

    static func answer(bar: Int, offset: UInt64) -> UInt64 { 0xBA00_0000_0000_0000 | UInt64(bar) << 32 | offset }

    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { Self.answer(bar: index, offset: offset) }

    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {
        writes.withLock { $0.append((index, offset, size, value)) }
    }
}

/// A capability whose body is plain bytes, recording every access it gets.
final class PCITestCapability: PCICapability {
    let id: UInt8
    let length: Int
    private let body: Mutex<[UInt8]>
    let accesses = Mutex<[(write: Bool, offset: Int, size: Int)]>([])

    init(id: UInt8, length: Int) {
        self.id = id
        self.length = length
        body = Mutex((0..<length).map { UInt8(truncatingIfNeeded: 0xA0 + $0) })
    }

    func read(offset: Int, size: Int) -> UInt32 {
        accesses.withLock { $0.append((false, offset, size)) }
        return body.withLock { bytes in
            (0..<size).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32($1 * 8) }
        }
    }

    func write(offset: Int, size: Int, value: UInt32) {
        accesses.withLock { $0.append((true, offset, size)) }
        body.withLock { bytes in
            for byte in 0..<size { bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> UInt32(byte * 8)) }
        }
    }
}

/// Windows like a PC board's: ECAM for 16 buses, a 256 MiB 32-bit window,
/// a 64-bit window, ports 0x1000..<0x2000 and four INTx lines from 5.
enum PCITestWindows {
    static let ecamBase: UInt64 = 0xB000_0000
    static let mmio32Base: UInt64 = 0xC000_0000
    static let mmio64Base: UInt64 = 0x80_0000_0000

    static func make(mmio32Size: UInt64 = 0x1000_0000, mmio64: Bool = true, ioPorts: Bool = true,
                     intx: Range<Int>? = 5..<9) -> PCIWindows {
        PCIWindows(ecam: GuestRange(start: GuestAddress(ecamBase), size: 16 << 20)!,
                   mmio32: GuestRange(start: GuestAddress(mmio32Base), size: mmio32Size)!,
                   mmio64: mmio64 ? GuestRange(start: GuestAddress(mmio64Base), size: 1 << 36)! : nil,
                   ioPorts: ioPorts ? PortRange(start: 0x1000, count: 0x1000)! : nil,
                   intxIRQs: intx)
    }

    /// The ECAM offset of `register` of a function.
    static func ecamOffset(bus: UInt64 = 0, device: UInt64, function: UInt64 = 0, register: UInt64) -> UInt64 {
        bus << 20 | device << 15 | function << 12 | register
    }
}
