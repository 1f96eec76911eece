import LKVMCore

/// Why a function cannot be attached to the PCI root.
public enum PCIError: Error, Equatable, CustomStringConvertible {
    case busNotSupported(PCIDeviceAddress)
    case deviceOutOfRange(PCIDeviceAddress)
    case functionOutOfRange(PCIDeviceAddress)
    case slotTaken(PCIDeviceAddress)
    /// The same function object is already attached, at `existing`.
    case alreadyAttached(PCIDeviceAddress, existing: PCIDeviceAddress)
    /// The function object already belongs to another root.
    case attachedElsewhere(PCIDeviceAddress)
    /// The function declares a BAR kind the board has no window for.
    case noWindow(window: String, function: PCIDeviceAddress, bar: Int)
    case windowExhausted(window: String, function: PCIDeviceAddress, bar: Int, size: UInt64)

    public var description: String {
        switch self {
        case .busNotSupported(let address):
            "PCI \(address): only bus 0 is supported"
        case .deviceOutOfRange(let address):
            "PCI device number \(address.device) is out of range (0 to 31)"
        case .functionOutOfRange(let address):
            "PCI function number \(address.function) is out of range (0 to 7)"
        case .slotTaken(let address):
            "PCI \(address) is already taken"
        case .alreadyAttached(let address, let existing):
            "PCI \(address): this function is already attached at \(existing)"
        case .attachedElsewhere(let address):
            "PCI \(address): this function is already attached to another PCI root"
        case .noWindow(let window, let function, let bar):
            "PCI \(function) BAR \(bar) needs the board's \(window) window, which it does not have"
        case .windowExhausted(let window, let function, let bar, let size):
            "PCI \(function) BAR \(bar) (\(hex(size)) bytes) does not fit in what is left of the \(window) window"
        }
    }
}
