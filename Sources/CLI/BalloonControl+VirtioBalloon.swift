import LKVMDevices

/// The balloon as `lkvm balloon` and `lkvm stat` see it. Pages are 4 KiB;
/// statistics keep the names Linux gives them (memory figures in bytes).
extension VirtioBalloon: BalloonControl {
    var statusFields: [(String, Int64)] {
        let status = status
        var fields: [(String, Int64)] = [
            ("target-pages", Int64(status.targetPages)),
            ("actual-pages", Int64(status.actualPages)),
            ("inflated-pages", clamped(status.inflatedPages)),
            ("discarded-bytes", clamped(status.discardedBytes)),
            ("wild-pfns", clamped(status.wildPFNs)),
            ("ignored-pfn-bytes", clamped(status.ignoredPFNBytes)),
        ]
        fields += status.statistics.map { ($0.name, clamped($0.value)) }
        if let age = status.statsAgeSeconds {
            fields.append(("stats-age-ms", Int64(age * 1000)))
        }
        return fields
    }

    private func clamped(_ value: UInt64) -> Int64 { Int64(clamping: value) }
}
