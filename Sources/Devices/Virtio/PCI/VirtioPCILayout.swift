/// Where a virtio-pci function keeps its structures: all in BAR 0, each on
/// its own 4 KiB page so a guest can map them separately (virtio 1.2
/// section 4.1.4), plus the MSI-X table and PBA.
enum VirtioPCILayout {
    static let bar = 0
    static let commonConfig: UInt64 = 0x0000
    /// virtio_pci_common_cfg is 0x38 bytes; 1.2 adds two 16-bit fields.
    static let commonConfigLength: UInt64 = 0x40
    static let isr: UInt64 = 0x1000
    static let isrLength: UInt64 = 4
    static let deviceConfig: UInt64 = 0x2000
    static let notify: UInt64 = 0x3000
    /// Queue n is notified by writing at notify + n * multiplier.
    static let notifyOffsetMultiplier: UInt32 = 4
    static let msixTable: UInt64 = 0x4000
    static let msixPBA: UInt64 = 0x5000
    static let barSize: UInt64 = 0x8000
    /// The table page holds 256 entries of 16 bytes; the PBA page more.
    static let maxVectors = 256

    /// The page holding BAR offset `offset`, and the offset inside it.
    static func region(_ offset: UInt64) -> (region: UInt64, offset: UInt64) {
        (offset & ~0xFFF, offset & 0xFFF)
    }
}

/// virtio_pci_cap.cfg_type values.
enum VirtioPCICapabilityType: UInt8 {
    case commonConfig = 1
    case notifyConfig = 2
    case isrConfig = 3
    case deviceConfig = 4
    case pciConfig = 5
}

/// Identity of virtio functions on the PCI bus (virtio 1.2 section 4.1.2).
enum VirtioPCIIdentity {
    static let vendorID: UInt16 = 0x1AF4
    /// Modern (non-transitional) devices: 0x1040 + the virtio device type.
    static func deviceID(_ type: VirtioDeviceType) -> UInt16 { 0x1040 + UInt16(type.rawValue) }
    /// Revision 1 marks a modern-only device to Linux's virtio_pci.
    static let revision: UInt8 = 1
    static let subsystemVendorID: UInt16 = 0x1AF4
    /// "LK": any value >= 0x40 is right for a modern device.
    static let subsystemID: UInt16 = 0x4C4B
    /// Class codes a guest's lspci can show sensibly; drivers match on IDs.
    static func classCode(_ type: VirtioDeviceType) -> UInt32 {
        switch type {
        case .network: 0x02_00_00      // Ethernet controller
        case .block: 0x01_80_00        // other mass storage controller
        case .console: 0x07_80_00      // other communication controller
        case .entropy: 0x10_80_00      // other encryption controller
        case .balloon: 0x05_80_00      // other memory controller
        case .ninePTransport: 0x02_80_00  // other network controller
        case .socket: 0x07_80_00       // other communication controller
        }
    }
}

/// virtio's "no MSI-X vector" value for msix_config and queue_msix_vector.
let virtioNoVector: UInt16 = 0xFFFF
