/// The virtio-mmio version 2 control registers (virtio 1.2 section 4.2.2):
/// 32 bits wide at these offsets; device configuration starts at 0x100.
enum VirtioMMIORegister: UInt64 {
    case magicValue = 0x000
    case version = 0x004
    case deviceID = 0x008
    case vendorID = 0x00C
    case deviceFeatures = 0x010
    case deviceFeaturesSelect = 0x014
    case driverFeatures = 0x020
    case driverFeaturesSelect = 0x024
    case queueSelect = 0x030
    case queueSizeMax = 0x034
    case queueSize = 0x038
    case queueReady = 0x044
    case queueNotify = 0x050
    case interruptStatus = 0x060
    case interruptAcknowledge = 0x064
    case status = 0x070
    case queueDescriptorLow = 0x080
    case queueDescriptorHigh = 0x084
    case queueDriverLow = 0x090
    case queueDriverHigh = 0x094
    case queueDeviceLow = 0x0A0
    case queueDeviceHigh = 0x0A4
    case sharedMemorySelect = 0x0AC
    case sharedMemoryLengthLow = 0x0B0
    case sharedMemoryLengthHigh = 0x0B4
    case sharedMemoryBaseLow = 0x0B8
    case sharedMemoryBaseHigh = 0x0BC
    case configGeneration = 0x0FC

    static let configSpaceOffset: UInt64 = 0x100
}

/// InterruptStatus bits.
enum VirtioMMIOInterruptBit {
    static let usedBuffer: UInt32 = 1
    static let configChange: UInt32 = 2
}
