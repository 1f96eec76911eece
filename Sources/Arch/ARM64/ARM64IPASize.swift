import LKVMCore

/// The guest-physical address size an arm64 VM needs, and KVM_CREATE_VM's
/// machine type for it (KVM_VM_TYPE_ARM_IPA_SIZE; 0 means the 40-bit default).
public struct ARM64IPASize: Equatable, Sendable {
    /// KVM refuses IPA sizes below 32 bits.
    public static let minimumBits = 32

    public let bits: Int

    /// The smallest IPA size holding `ram` and every MMIO region of `board`.
    public init(board: Board, ram: [GuestRange]) {
        let highest = (ram.map(\.end) + board.mmioRegions.map(\.range.end)).max() ?? 0
        var bits = Self.minimumBits
        while bits < 64, highest > UInt64(1) << UInt64(bits) { bits += 1 }
        self.bits = bits
    }

    /// KVM_CREATE_VM's type: the IPA size when more than the default 40 bits.
    public var machineType: UInt { bits > Board.defaultIPABits ? UInt(bits) : 0 }

    /// Checks the host can give `bits`: `hostLimit` is KVM_CAP_ARM_VM_IPA_SIZE
    /// (0 when the host only has the 40-bit default).
    public func check(hostLimit: Int32, board: Board) throws(ARM64MachineError) {
        let limit = hostLimit > 0 ? Int(hostLimit) : Board.defaultIPABits
        guard bits <= limit else {
            throw .unsupportedBoard("\(board.fileName): the guest's address space needs a \(bits)-bit IPA, "
                + "but this host's KVM supports at most \(limit) bits (KVM_CAP_ARM_VM_IPA_SIZE)")
        }
    }
}
