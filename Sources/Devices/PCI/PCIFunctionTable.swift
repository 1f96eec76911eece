import Synchronization

/// The attached functions, shared by the root and the bus devices that
/// decode config and BAR accesses. Readers take a snapshot (one retain) and
/// call functions with the lock released.
final class PCIFunctionTable: Sendable {
    /// Sorted by address.
    private let entries = Mutex<[PCIAttachedFunction]>([])

    var snapshot: [PCIAttachedFunction] { entries.withLock { $0 } }

    func function(at address: PCIDeviceAddress) -> (any PCIFunction)? {
        snapshot.first { $0.address == address }?.function
    }

    /// Why `function` cannot go at `address`, nil if it can.
    func conflict(for function: any PCIFunction, at address: PCIDeviceAddress) -> PCIError? {
        let current = snapshot
        if let existing = current.first(where: { $0.function === function }) {
            return .alreadyAttached(address, existing: existing.address)
        }
        return current.contains { $0.address == address } ? .slotTaken(address) : nil
    }

    /// Adds an entry `conflict` approved, and marks function 0 of its device
    /// multi-function once the device has more than one.
    func insert(_ entry: PCIAttachedFunction) {
        let siblings = entries.withLock { entries in
            let index = entries.firstIndex { entry.address < $0.address } ?? entries.endIndex
            entries.insert(entry, at: index)
            return entries.filter { $0.address.bus == entry.address.bus && $0.address.device == entry.address.device }
        }
        if siblings.count > 1, let first = siblings.first(where: { $0.address.function == 0 }) {
            first.function.configSpace.setMultiFunction(true)
        }
    }

    /// An absent function reads all ones, as a master abort does.
    func configRead(_ address: PCIDeviceAddress, offset: Int, size: Int) -> UInt32 {
        guard let function = function(at: address) else { return PCIConfigAccess.allOnes(size: size) }
        return function.configSpace.read(offset: offset, size: size)
    }

    func configWrite(_ address: PCIDeviceAddress, offset: Int, size: Int, value: UInt32) {
        function(at: address)?.configSpace.write(offset: offset, size: size, value: value)
    }

    /// The function whose enabled BAR of `space` wholly covers the access.
    func decodingFunction(in space: PCIAddressSpace, covering start: UInt64, length: Int)
        -> (function: any PCIFunction, bar: Int, offset: UInt64)? {
        for entry in snapshot {
            if let (bar, offset) = entry.function.configSpace.decodingBAR(in: space, covering: start, length: length) {
                return (entry.function, bar, offset)
            }
        }
        return nil
    }
}
