import LKVMCore
import Synchronization

/// VIRTIO_PCI_CAP_PCI_CFG (virtio 1.2 section 4.1.4.9): a window into the
/// BARs through configuration space, for drivers that cannot map BARs yet
/// (firmware). The driver writes bar, offset and length, then reads or
/// writes pci_cfg_data.
final class VirtioPCIConfigAccessCapability: PCICapability {
    let id = VirtioPCICapability.vendorSpecificID
    let length = 20
    private static let barOffset = 4
    private static let windowOffset = 8
    private static let windowLength = 12
    private static let dataOffset = 16

    /// Bytes 0..<16 of the capability; bar, offset and length are writable.
    private let header: Mutex<[UInt8]>
    private let registers: VirtioPCIRegisters

    init(registers: VirtioPCIRegisters) {
        self.registers = registers
        var bytes: [UInt8] = [0, 0, 20, VirtioPCICapabilityType.pciConfig.rawValue]
        bytes += Array(repeating: 0, count: 12)
        header = Mutex(bytes)
    }

    func read(offset: Int, size: Int) -> UInt32 {
        if offset >= Self.dataOffset {
            guard let (barOffset, width) = window(), offset == Self.dataOffset, size >= width else { return 0 }
            return UInt32(truncatingIfNeeded: registers.read(offset: barOffset, size: width))
        }
        return header.withLock { readLittleEndian($0, offset: offset, size: size) }
    }

    func write(offset: Int, size: Int, value: UInt32) {
        if offset >= Self.dataOffset {
            guard let (barOffset, width) = window(), offset == Self.dataOffset, size >= width else { return }
            registers.write(offset: barOffset, size: width, value: UInt64(value))
            return
        }
        header.withLock { bytes in
            for index in 0..<size where offset + index < Self.dataOffset {
                let position = offset + index
                guard position == Self.barOffset || position >= Self.windowOffset else { continue }
                bytes[position] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
    }

    /// BAR 0 offset and width of the access the driver set up, when valid:
    /// 1, 2 or 4 bytes, naturally aligned, inside the BAR.
    private func window() -> (UInt64, Int)? {
        header.withLock { bytes in
            let bar = bytes[Self.barOffset]
            let offset = UInt64(readLittleEndian(bytes, offset: Self.windowOffset, size: 4))
            let width = Int(readLittleEndian(bytes, offset: Self.windowLength, size: 4))
            guard Int(bar) == VirtioPCILayout.bar, [1, 2, 4].contains(width), offset % UInt64(width) == 0,
                  offset + UInt64(width) <= VirtioPCILayout.barSize else { return nil }
            return (offset, width)
        }
    }
}
