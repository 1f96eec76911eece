/// Fields of struct virtio_pci_common_cfg (virtio 1.2 section 4.1.4.3), by
/// offset. 64-bit queue addresses are also written as two 32-bit halves.
enum VirtioPCICommonConfig: UInt64 {
    case deviceFeatureSelect = 0x00   // le32
    case deviceFeature = 0x04         // le32, read-only
    case driverFeatureSelect = 0x08   // le32
    case driverFeature = 0x0C         // le32
    case configMSIXVector = 0x10      // le16
    case numQueues = 0x12             // le16, read-only
    case deviceStatus = 0x14          // u8
    case configGeneration = 0x15      // u8, read-only
    case queueSelect = 0x16           // le16
    case queueSize = 0x18             // le16
    case queueMSIXVector = 0x1A       // le16
    case queueEnable = 0x1C           // le16
    case queueNotifyOffset = 0x1E     // le16, read-only
    case queueDescriptorLow = 0x20
    case queueDescriptorHigh = 0x24
    case queueDriverLow = 0x28
    case queueDriverHigh = 0x2C
    case queueDeviceLow = 0x30
    case queueDeviceHigh = 0x34
    case queueNotifyData = 0x38       // le16, read-only (1.2)
    case queueReset = 0x3A            // le16 (1.2; RING_RESET is not offered)

    /// The width the driver uses for the field at this offset.
    var size: Int {
        switch self {
        case .deviceStatus, .configGeneration: 1
        case .configMSIXVector, .numQueues, .queueSelect, .queueSize, .queueMSIXVector, .queueEnable,
             .queueNotifyOffset, .queueNotifyData, .queueReset: 2
        default: 4
        }
    }
}
