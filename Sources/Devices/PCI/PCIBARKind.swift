/// What a base address register decodes.
public enum PCIBARKind: Sendable, Equatable {
    case memory32
    /// Takes two BAR registers: its index and the next one (the high half).
    case memory64(prefetchable: Bool)
    case io

    /// The read-only low bits of the BAR register that tell software the kind.
    var typeBits: UInt32 {
        switch self {
        case .memory32: 0x0
        case .memory64(let prefetchable): 0x4 | (prefetchable ? 0x8 : 0)
        case .io: 0x1
        }
    }

    var addressSpace: PCIAddressSpace { self == .io ? .io : .memory }
}
