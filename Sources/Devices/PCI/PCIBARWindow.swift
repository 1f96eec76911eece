import LKVMCore

/// One of the board's BAR windows on the bus: each access goes to the
/// function whose enabled BAR covers it, wherever the guest has moved that
/// BAR inside the window. A BAR moved outside the window simply stops being
/// reachable (nothing else is registered for it); an access no BAR covers
/// wholly reads all ones and is dropped. Where the guest made BARs overlap,
/// the function with the lowest address wins.
final class PCIBARWindow: BusDevice {
    /// The window's first address; the bus hands us offsets from it.
    private let base: UInt64
    private let space: PCIAddressSpace
    private let functions: PCIFunctionTable

    init(base: UInt64, space: PCIAddressSpace, functions: PCIFunctionTable) {
        self.base = base
        self.space = space
        self.functions = functions
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        guard let target = functions.decodingFunction(in: space, covering: base + offset, length: size) else {
            return floatingBusValue(size: size)
        }
        return target.function.readBAR(target.bar, offset: target.offset, size: size)
    }

    func write(offset: UInt64, size: Int, value: UInt64) {
        guard let target = functions.decodingFunction(in: space, covering: base + offset, length: size) else { return }
        target.function.writeBAR(target.bar, offset: target.offset, size: size, value: value)
    }
}
