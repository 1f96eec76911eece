/// How PrimeCell register windows answer accesses of any width: registers are
/// 32-bit words; a narrower access reads the addressed bytes of its word, and
/// only a write at the word's start takes effect (Linux's AMBA drivers use
/// 8-, 16- and 32-bit accesses at word offsets).
enum AMBARegisterAccess {
    /// The word holding `offset`, and the bit shift of the addressed byte in it.
    static func word(_ offset: UInt64) -> (register: UInt64, shift: UInt64) {
        (offset & ~3, (offset & 3) * 8)
    }

    /// `value` narrowed to an access of `size` bytes.
    static func narrow(_ value: UInt64, size: Int) -> UInt64 {
        size >= 8 ? value : value & ((UInt64(1) << UInt64(size * 8)) - 1)
    }

    static func isValidSize(_ size: Int) -> Bool { size == 1 || size == 2 || size == 4 || size == 8 }
}
