/// A guest-physical address. A distinct type so that host offsets, sizes and
/// guest addresses never mix silently.
public struct GuestAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64

    public init(_ raw: UInt64) { self.raw = raw }

    /// `self + offset`, or nil when the sum overflows 64 bits.
    public func adding(_ offset: UInt64) -> GuestAddress? {
        let (sum, overflow) = raw.addingReportingOverflow(offset)
        return overflow ? nil : GuestAddress(sum)
    }

    /// Distance from `base` to `self`; nil when `self` lies below `base`.
    public func offset(from base: GuestAddress) -> UInt64? {
        raw >= base.raw ? raw - base.raw : nil
    }

    public static func < (lhs: GuestAddress, rhs: GuestAddress) -> Bool { lhs.raw < rhs.raw }

    public var description: String { hex(raw) }
}

/// `0x`-prefixed lower-case hexadecimal, as used in every message lkvm prints.
public func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }

/// A half-open guest-physical range `[start, start + size)` that cannot wrap.
public struct GuestRange: Hashable, Sendable, CustomStringConvertible {
    public let start: GuestAddress
    public let size: UInt64

    /// Returns nil when the range would wrap past 2^64.
    public init?(start: GuestAddress, size: UInt64) {
        guard start.adding(size) != nil else { return nil }
        self.start = start
        self.size = size
    }

    /// Exclusive end; representable because the initializer rejects wrapping.
    public var end: UInt64 { start.raw + size }

    public func contains(_ address: GuestAddress, length: UInt64) -> Bool {
        guard address >= start, let end = address.adding(length) else { return false }
        return end.raw <= self.end
    }

    public func overlaps(_ other: GuestRange) -> Bool {
        size > 0 && other.size > 0 && start.raw < other.end && other.start.raw < end
    }

    public var description: String { "[\(hex(start.raw)), \(hex(end)))" }
}
