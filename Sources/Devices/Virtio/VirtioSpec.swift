/// Device types (virtio 1.2 section 5): the number a transport reports as its
/// device ID and the guest matches its driver on.
public enum VirtioDeviceType: UInt32, Sendable {
    case network = 1
    case block = 2
    case console = 3
    case entropy = 4
    case balloon = 5
    case ninePTransport = 9
    case socket = 19
}

/// Feature bits defined for every device (virtio 1.2 section 6).
public enum VirtioFeature {
    public static let indirectDescriptors: UInt64 = 1 << 28  // VIRTIO_F_INDIRECT_DESC
    public static let eventIndex: UInt64 = 1 << 29           // VIRTIO_F_EVENT_IDX
    public static let version1: UInt64 = 1 << 32             // VIRTIO_F_VERSION_1

    /// What every lkvm transport offers on top of a device's own bits: the
    /// ring features `VirtQueue` implements, and the modern interface.
    public static let transportOffered = indirectDescriptors | eventIndex | version1
}

/// Device status bits (virtio 1.2 section 2.1), written by the driver in this
/// order during initialisation; DEVICE_NEEDS_RESET is the device's own.
public enum VirtioStatus {
    public static let acknowledge: UInt32 = 0x01
    public static let driver: UInt32 = 0x02
    public static let driverOK: UInt32 = 0x04
    public static let featuresOK: UInt32 = 0x08
    public static let deviceNeedsReset: UInt32 = 0x40
    public static let failed: UInt32 = 0x80
}
