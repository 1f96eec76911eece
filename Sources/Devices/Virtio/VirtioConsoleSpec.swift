/// virtio-console numbers (virtio 1.2 section 5.3), named as the spec names them.
public enum VirtioConsoleFeature {
    /// Configuration `cols` and `rows` are valid (VIRTIO_CONSOLE_F_SIZE).
    public static let size: UInt64 = 1 << 0
    /// Ports and a control queue pair (VIRTIO_CONSOLE_F_MULTIPORT): not offered.
    public static let multiport: UInt64 = 1 << 1
    /// Configuration `emerg_wr` (VIRTIO_CONSOLE_F_EMERG_WRITE): not offered.
    public static let emergencyWrite: UInt64 = 1 << 2
}

/// The queues of a console without MULTIPORT (5.3.2): port 0 only.
public enum VirtioConsoleQueue {
    /// receiveq: the driver posts device-writable buffers, the device fills them with host input.
    public static let receive = 0
    /// transmitq: the driver posts device-readable buffers of guest output.
    public static let transmit = 1
}

/// Offsets in `struct virtio_console_config` (5.3.4) for the fields lkvm fills.
enum VirtioConsoleConfigLayout {
    static let columns = 0  // le16 cols, valid with VIRTIO_CONSOLE_F_SIZE
    static let rows = 2     // le16 rows, valid with VIRTIO_CONSOLE_F_SIZE
    /// Through rows; max_nr_ports and emerg_wr belong to features lkvm does not offer.
    static let sizeFieldsEnd = 4
}

/// A console's size in characters, as the guest should see it (a host
/// terminal's TIOCGWINSZ).
public struct VirtioConsoleSize: Equatable, Sendable {
    public var columns: UInt16
    public var rows: UInt16

    public init(columns: UInt16, rows: UInt16) {
        self.columns = columns
        self.rows = rows
    }
}
