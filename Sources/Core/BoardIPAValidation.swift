/// The arm64 guest-physical (IPA) limit: KVM on an arm64 host maps guest
/// addresses only below 2^bits, where bits is what the host supports
/// (KVM_CAP_ARM_VM_IPA_SIZE) and the VM asked for when it was created.
extension Board {
    /// The IPA size of a VM created with machine type 0: 40 bits (1 TiB), on every arm64 KVM host.
    public static let defaultIPABits = 40

    /// Checks that `ramMiB` of RAM and every MMIO region end at or below
    /// 2^`ipaBits`. Board parsing and `validate(ramMiB:cpus:)` use the
    /// 40-bit default; an arm64 host passes its own limit before creating a
    /// larger VM.
    public func validateIPA(ramMiB: Int, ipaBits: Int = Board.defaultIPABits) throws(BoardError) {
        guard (32...63).contains(ipaBits) else {
            throw BoardError(file: fileName, keyPath: nil, message: "IPA size \(ipaBits) bits is outside 32...63")
        }
        let limit: UInt64 = 1 << UInt64(ipaBits)
        if let last = try ram.ranges(forMiB: ramMiB).last, last.end > limit {
            throw BoardError(file: fileName, keyPath: "ram",
                             message: "\(ramMiB) MiB of RAM would reach \(hex(last.end)), above the \(ipaBits)-bit "
                                 + "IPA limit \(hex(limit)) of arm64 KVM guests")
        }
        for region in mmioRegions where region.range.end > limit {
            throw BoardError(file: fileName, keyPath: region.name,
                             message: "\(region.range) ends above the \(ipaBits)-bit IPA limit \(hex(limit)) of arm64 KVM guests")
        }
    }
}
