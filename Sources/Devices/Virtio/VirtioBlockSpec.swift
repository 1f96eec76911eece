/// virtio-blk numbers (virtio 1.2 section 5.2), named as the spec names them.
public enum VirtioBlockFeature {
    public static let segmentMax: UInt64 = 1 << 2  // VIRTIO_BLK_F_SEG_MAX
    public static let readOnly: UInt64 = 1 << 5    // VIRTIO_BLK_F_RO
    public static let flush: UInt64 = 1 << 9       // VIRTIO_BLK_F_FLUSH
}

/// The `type` field of a request header (5.2.6).
public enum VirtioBlockRequestType: UInt32, Sendable {
    case read = 0     // VIRTIO_BLK_T_IN
    case write = 1    // VIRTIO_BLK_T_OUT
    case flush = 4    // VIRTIO_BLK_T_FLUSH
    case getID = 8    // VIRTIO_BLK_T_GET_ID
}

/// The status byte the device writes last (5.2.6).
public enum VirtioBlockStatus: UInt8, Sendable {
    case ok = 0           // VIRTIO_BLK_S_OK
    case ioError = 1      // VIRTIO_BLK_S_IOERR
    case unsupported = 2  // VIRTIO_BLK_S_UNSUPP
}

/// Offsets in `struct virtio_blk_config` (5.2.4) for the fields lkvm fills.
enum VirtioBlockConfigLayout {
    static let capacity = 0        // le64, in 512-byte sectors
    static let segmentMax = 12     // le32, valid with VIRTIO_BLK_F_SEG_MAX
    static let blockSize = 20      // le32, 512: what the guest assumes anyway
    /// Through blk_size; later fields belong to features lkvm does not offer.
    static let size = 24
}

/// Sizes fixed by the spec.
public enum VirtioBlockSizes {
    /// Capacity, `sector` and data lengths count in 512-byte sectors whatever
    /// the host's block size.
    public static let sector = 512
    /// type (le32), reserved (le32), sector (le64).
    public static let header = 16
    /// VIRTIO_BLK_ID_BYTES: the GET_ID answer, NUL-padded, no NUL when full.
    public static let idBytes = 20
}
