/// virtio-balloon numbers (virtio 1.2 section 5.5), named as the spec names them.
public enum VirtioBalloonFeature {
    /// The driver tells the host before it reuses deflated pages (VIRTIO_BALLOON_F_MUST_TELL_HOST).
    public static let mustTellHost: UInt64 = 1 << 0
    /// A statistics queue (VIRTIO_BALLOON_F_STATS_VQ).
    public static let statsQueue: UInt64 = 1 << 1
    /// The driver may deflate on its own when the guest runs out of memory
    /// (VIRTIO_BALLOON_F_DEFLATE_ON_OOM).
    public static let deflateOnOOM: UInt64 = 1 << 2

    public static let offered = mustTellHost | statsQueue | deflateOnOOM
}

/// The queues (5.5.2), in order; none of the features that add more is offered.
public enum VirtioBalloonQueue {
    /// inflateq: device-readable arrays of le32 page frame numbers the guest gives up.
    public static let inflate = 0
    /// deflateq: the same for pages the guest takes back.
    public static let deflate = 1
    /// statsq: one device-readable buffer of statistics, held by the device
    /// until it wants fresh figures.
    public static let stats = 2
}

/// `struct virtio_balloon_config` (5.5.4) as far as the offered features reach.
enum VirtioBalloonConfigLayout {
    /// le32 num_pages: the pages the host wants in the balloon (device writes).
    static let numPages = 0
    /// le32 actual: the pages the driver says it has in the balloon (driver writes).
    static let actual = 4
    static let size = 8
}

/// The balloon's page: PFNs count 4 KiB units whatever the guest's page size.
public enum VirtioBalloonPage {
    public static let shift: UInt64 = 12  // VIRTIO_BALLOON_PFN_SHIFT
    public static let size: UInt64 = 1 << shift
    public static let perMebibyte: UInt64 = (1 << 20) / size
}

/// The statistics tags the spec defines (5.5.6.3), with the names Linux's
/// uapi header gives them. Memory figures are in bytes.
public enum VirtioBalloonStatTag {
    public static let names: [UInt16: String] = [
        0: "swap-in", 1: "swap-out", 2: "major-faults", 3: "minor-faults",
        4: "free-memory", 5: "total-memory", 6: "available-memory", 7: "disk-caches",
        8: "hugetlb-allocations", 9: "hugetlb-failures",
    ]
    /// One entry: le16 tag and le64 value, packed.
    public static let entrySize = 10
}
