import LKVMCore

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
