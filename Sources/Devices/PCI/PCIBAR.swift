/// One declared BAR: its kind, size and the base the guest (or lkvm acting
/// as firmware) programmed. Writing all ones and reading back yields the size
/// mask because only the address bits above the size are writable.
struct PCIBAR: Sendable, Equatable {
    let kind: PCIBARKind
    let size: UInt64
    private(set) var address: UInt64 = 0

    init(kind: PCIBARKind, size: UInt64) {
        self.kind = kind
        self.size = size
    }

    /// The address bits the BAR implements. I/O BARs decode 16 bits, the x86
    /// port space; their upper half is hardwired to zero.
    private var writableBits: UInt64 {
        let sizeBits = ~(size - 1)
        switch kind {
        case .memory32: return sizeBits & 0xFFFF_FFFF
        case .memory64: return sizeBits
        case .io: return sizeBits & 0xFFFF
        }
    }

    /// The low (or, for a 64-bit BAR, high) register as software reads it.
    func register(upperHalf: Bool) -> UInt32 {
        upperHalf ? UInt32(truncatingIfNeeded: address >> 32)
                  : UInt32(truncatingIfNeeded: address) | kind.typeBits
    }

    mutating func setRegister(upperHalf: Bool, to value: UInt32) {
        let requested = upperHalf
            ? (address & 0xFFFF_FFFF) | UInt64(value) << 32
            : (address & ~0xFFFF_FFFF) | UInt64(value)
        address = requested & writableBits
    }

    mutating func setAddress(_ newAddress: UInt64) { address = newAddress & writableBits }

    /// The offset of `start..<start+length` inside the BAR, nil unless it
    /// lies wholly inside.
    func offset(of start: UInt64, length: Int) -> UInt64? {
        guard start >= address else { return nil }
        let offset = start - address
        return offset < size && UInt64(length) <= size - offset ? offset : nil
    }
}
