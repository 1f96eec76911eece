import LKVMCore
import LKVMDevices

/// Why an arm64 boot could not be prepared; one line each.
public enum ARM64MachineError: Error, CustomStringConvertible {
    /// The kernel file itself is the problem (the CLI names the file).
    case image(ARM64ImageError)
    case layout(ARM64BootLayoutError)
    case board(BoardError)
    case deviceTree(FDTError)
    case unsupportedBoard(String)
    case memory(GuestMemoryError)
    case hypervisor(HypervisorError)
    /// Two devices of the machine claim the same addresses.
    case bus(BusError)
    case pci(PCIError)

    public var description: String {
        switch self {
        case .image(let error): "kernel \(error)"
        case .layout(let error): error.description
        case .board(let error): error.description
        case .deviceTree(let error): error.description
        case .unsupportedBoard(let message): message
        case .memory(let error): error.description
        case .hypervisor(let error): error.description
        case .bus(let error): "board device layout: \(error)"
        case .pci(let error): "PCI: \(error)"
        }
    }
}
