/// virtio-net numbers (virtio 1.2 section 5.1), named as the spec names them.
public enum VirtioNetFeature {
    /// The configuration space holds the device's MAC (VIRTIO_NET_F_MAC).
    public static let mac: UInt64 = 1 << 5
    /// Receive buffers may be merged (VIRTIO_NET_F_MRG_RXBUF): not offered,
    /// so every receive buffer must hold a whole packet.
    public static let mergeableReceiveBuffers: UInt64 = 1 << 15
    /// The configuration space holds a link status (VIRTIO_NET_F_STATUS).
    public static let status: UInt64 = 1 << 16
}

/// The queues without VIRTIO_NET_F_MQ or a control queue (5.1.2).
public enum VirtioNetQueue {
    /// receiveq1: the driver posts device-writable buffers for incoming packets.
    public static let receive = 0
    /// transmitq1: the driver posts device-readable outgoing packets.
    public static let transmit = 1
}

/// `struct virtio_net_config` (5.1.4), as far as lkvm's features reach.
enum VirtioNetConfigLayout {
    static let mac = 0       // u8 mac[6], with VIRTIO_NET_F_MAC
    static let status = 6    // le16 status, with VIRTIO_NET_F_STATUS
    static let size = 8      // max_virtqueue_pairs (MQ) and mtu (MTU) are not offered
    /// VIRTIO_NET_S_LINK_UP in `status`.
    static let linkUp: UInt16 = 1
}

/// `struct virtio_net_hdr` with VIRTIO_F_VERSION_1 (5.1.6): 12 bytes before
/// every packet on both queues, little-endian.
public enum VirtioNetHeader {
    public static let size = 12
    // Byte offsets of the fields.
    static let flags = 0         // u8: NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4
    static let gsoType = 1       // u8: NONE 0
    static let numBuffers = 10   // le16: 1 without MRG_RXBUF
    static let needsChecksum: UInt8 = 1  // VIRTIO_NET_HDR_F_NEEDS_CSUM

    /// The header of a plain, fully checksummed packet: what lkvm writes to
    /// the backend (no offload was negotiated, so the guest's own header can
    /// only say the same; 5.1.6.2.1) and to receive buffers (flags 0,
    /// gso_type NONE, num_buffers 1; 5.1.6.4.1).
    static func plain(numBuffers: UInt16) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: size)
        header[Self.numBuffers] = UInt8(truncatingIfNeeded: numBuffers)
        header[Self.numBuffers + 1] = UInt8(truncatingIfNeeded: numBuffers >> 8)
        return header
    }

    /// Whether a backend's packet asks for work lkvm did not negotiate with
    /// the guest: a partial checksum or segmentation offload.
    static func needsOffload(_ packet: [UInt8]) -> Bool {
        packet[flags] & needsChecksum != 0 || packet[gsoType] != 0
    }
}
