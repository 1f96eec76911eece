import Logging

/// A device on the port-I/O or MMIO bus. It sees offsets from the base the
/// board gave it, never absolute addresses. Accesses come from any vCPU thread,
/// so devices synchronise their own state.
public protocol BusDevice: AnyObject, Sendable {
    /// Reads `size` (1, 2, 4 or 8) bytes at `offset`, little-endian in the result.
    func read(offset: UInt64, size: Int) -> UInt64
    func write(offset: UInt64, size: Int, value: UInt64)
}

public enum BusError: Error, Equatable, CustomStringConvertible {
    case overlap(name: String, range: GuestRange, existing: String)
    case emptyOrWrapping(name: String, base: UInt64, length: UInt64)

    public var description: String {
        switch self {
        case .overlap(let name, let range, let existing):
            "\(name) at \(range) overlaps \(existing)"
        case .emptyOrWrapping(let name, let base, let length):
            "\(name) at \(hex(base)) with length \(hex(length)) is empty or wraps"
        }
    }
}

/// Range map from addresses to devices; overlaps are refused at registration.
/// Built once with `register`, then shared read-only with every vCPU thread.
public struct Bus: Sendable {
    struct Entry: Sendable {
        let range: GuestRange
        let name: String
        let device: any BusDevice
    }

    public let kind: String
    private(set) var entries: [Entry] = []  // sorted by start, disjoint
    private let logger = Logger(label: "lkvm.bus")

    public init(kind: String) { self.kind = kind }

    public mutating func register(_ device: any BusDevice, name: String, base: UInt64, length: UInt64) throws(BusError) {
        guard length > 0, let range = GuestRange(start: GuestAddress(base), size: length) else {
            throw .emptyOrWrapping(name: name, base: base, length: length)
        }
        if let clash = entries.first(where: { $0.range.overlaps(range) }) {
            throw .overlap(name: name, range: range, existing: "\(clash.name) at \(clash.range)")
        }
        let index = entries.firstIndex { $0.range.start > range.start } ?? entries.endIndex
        entries.insert(Entry(range: range, name: name, device: device), at: index)
    }

    /// The entry holding `address`, by binary search.
    private func entry(at address: UInt64) -> Entry? {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            let entry = entries[mid]
            if address < entry.range.start.raw { high = mid }
            else if address >= entry.range.end { low = mid + 1 }
            else { return entry }
        }
        return nil
    }

    /// Names the device at `address`, for traces and tests.
    public func deviceName(at address: UInt64) -> String? { entry(at: address)?.name }

    /// Reads from the claiming device; unclaimed reads float high like an empty bus.
    public func read(_ address: UInt64, size: Int) -> UInt64 {
        guard let entry = entry(at: address) else {
            logger.debug("unclaimed \(kind) read", metadata: ["address": "\(hex(address))", "size": "\(size)"])
            return floatingBusValue(size: size)
        }
        return entry.device.read(offset: address - entry.range.start.raw, size: size)
    }

    public func write(_ address: UInt64, size: Int, value: UInt64) {
        guard let entry = entry(at: address) else {
            logger.debug("unclaimed \(kind) write", metadata: [
                "address": "\(hex(address))", "size": "\(size)", "value": "\(hex(value))"])
            return
        }
        entry.device.write(offset: address - entry.range.start.raw, size: size, value: value)
    }
}

/// What a read nobody answers returns: all ones for the access size, like
/// an undriven bus.
public func floatingBusValue(size: Int) -> UInt64 {
    guard size > 0 else { return 0 }
    return size >= 8 ? UInt64.max : (UInt64(1) << UInt64(size * 8)) - 1
}
