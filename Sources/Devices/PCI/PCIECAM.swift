import LKVMCore

/// The enhanced configuration access mechanism: 4 KiB of config space per
/// function, the offset holding bus (bits 27:20), device (19:15), function
/// (14:12) and register (11:0).
final class PCIECAM: BusDevice {
    private let functions: PCIFunctionTable

    init(functions: PCIFunctionTable) { self.functions = functions }

    private func decode(_ offset: UInt64) -> (address: PCIDeviceAddress, register: Int)? {
        guard offset >> 20 < PCIWindows.maxBuses else { return nil }
        let address = PCIDeviceAddress(bus: UInt8(offset >> 20), device: UInt8((offset >> 15) & 0x1F),
                                       function: UInt8((offset >> 12) & 0x7))
        return (address, Int(offset & 0xFFF))
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        guard size <= 4, let (address, register) = decode(offset) else { return floatingBusValue(size: size) }
        return UInt64(functions.configRead(address, offset: register, size: size))
    }

    func write(offset: UInt64, size: Int, value: UInt64) {
        guard size <= 4, let (address, register) = decode(offset) else { return }
        functions.configWrite(address, offset: register, size: size, value: UInt32(truncatingIfNeeded: value))
    }
}
