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
