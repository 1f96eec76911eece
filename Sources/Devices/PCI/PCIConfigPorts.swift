import LKVMCore
import Synchronization

/// Configuration mechanism #1: register at port 0xCF8, length 8 (address
/// dword at 0xCF8, data at 0xCFC..0xCFF with byte offsets).
///
/// The address register latches only on 32-bit accesses to 0xCF8 (bit 31
/// enable, bus 23:16, device 15:11, function 10:8, register 7:2); narrower
/// accesses there belong to other chipset registers and are not ours. With
/// the enable bit clear, data accesses read all ones and are dropped.
public final class PCIConfigPorts: BusDevice {
    public static let basePort: UInt16 = 0xCF8
    public static let length: UInt64 = 8
    private static let dataOffset: UInt64 = 4
    private static let enableBit: UInt32 = 1 << 31
    /// Bits 30:24 and 1:0 are reserved and read 0.
    private static let implementedBits: UInt32 = 0x80FF_FFFC

    private let root: PCIRoot
    private let latch = Mutex<UInt32>(0)

    public init(root: PCIRoot) { self.root = root }

    /// The function and register the latched address and a data offset name.
    private func target(dataOffset: UInt64) -> (address: PCIDeviceAddress, register: Int)? {
        let value = latch.withLock { $0 }
        guard value & PCIConfigPorts.enableBit != 0 else { return nil }
        let address = PCIDeviceAddress(bus: UInt8((value >> 16) & 0xFF), device: UInt8((value >> 11) & 0x1F),
                                       function: UInt8((value >> 8) & 0x7))
        return (address, Int(value & 0xFC) + Int(dataOffset))
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset == 0 && size == 4 { return UInt64(latch.withLock { $0 }) }
        guard offset >= PCIConfigPorts.dataOffset, size <= 4,
              let (address, register) = target(dataOffset: offset - PCIConfigPorts.dataOffset) else {
            return floatingBusValue(size: size)
        }
        return UInt64(root.configRead(address, offset: register, size: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset == 0 && size == 4 {
            latch.withLock { $0 = UInt32(truncatingIfNeeded: value) & PCIConfigPorts.implementedBits }
            return
        }
        guard offset >= PCIConfigPorts.dataOffset, size <= 4,
              let (address, register) = target(dataOffset: offset - PCIConfigPorts.dataOffset) else { return }
        root.configWrite(address, offset: register, size: size, value: UInt32(truncatingIfNeeded: value))
    }
}
