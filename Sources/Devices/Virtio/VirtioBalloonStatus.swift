import Glibc

public enum VirtioBalloonError: Error, Equatable, CustomStringConvertible {
    case negativeTarget(mebibytes: Int)
    /// More than the guest has (once its RAM is known) or than num_pages can say.
    case targetTooLarge(mebibytes: Int, limitMebibytes: Int)

    public var description: String {
        switch self {
        case .negativeTarget(let mebibytes):
            "balloon target \(mebibytes) MiB: must not be negative"
        case .targetTooLarge(let mebibytes, let limit):
            "balloon target \(mebibytes) MiB: more than the guest's \(limit) MiB"
        }
    }
}

/// What the balloon knows, for `lkvm stat`. Pages are the balloon's 4 KiB units.
public struct VirtioBalloonStatus: Sendable {
    /// num_pages: what the host asked the balloon to hold.
    public var targetPages: UInt32
    /// actual: what the driver last said the balloon holds. Below the target
    /// after a deflate on OOM, which leaves the target as the host set it.
    public var actualPages: UInt32
    /// Pages inflated minus pages deflated, as the queues counted them.
    public var inflatedPages: UInt64
    /// Bytes given back to the host with madvise since the VM started.
    public var discardedBytes: UInt64
    /// PFNs outside guest RAM, skipped.
    public var wildPFNs: UInt64
    /// PFN array bytes not read: a trailing partial PFN, or beyond the per-buffer limit.
    public var ignoredPFNBytes: UInt64
    /// The guest's last statistics, by the names Linux gives them; memory figures in bytes.
    public var statistics: [(name: String, value: UInt64)]
    /// CLOCK_MONOTONIC seconds when `statistics` arrived; nil before any did.
    public var statsUpdatedAt: Double?
    /// How old `statistics` were when this status was taken; nil before any arrived.
    public var statsAgeSeconds: Double?
}

/// CLOCK_MONOTONIC in seconds.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
