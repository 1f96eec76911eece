import LKVMCore

/// Why the kernel, initrd or device tree do not fit in the guest's RAM; one line each.
public enum ARM64BootLayoutError: Error, Equatable, Sendable, CustomStringConvertible {
    case noRAM
    case kernelDoesNotFit(imageSize: UInt64, load: GuestAddress, bank: GuestRange)
    case noRoomForDeviceTree(kernelEnd: UInt64, bank: GuestRange)
    case initrdDoesNotFit(size: UInt64, available: UInt64)
    case deviceTreeTooLarge(size: Int)

    public var description: String {
        switch self {
        case .noRAM:
            "the board gives the guest no RAM"
        case .kernelDoesNotFit(let imageSize, let load, let bank):
            "the kernel needs \(hex(imageSize)) bytes (image_size, bss included) from \(load), "
                + "beyond the first RAM bank \(bank): give the guest more memory (-m)"
        case .noRoomForDeviceTree(let kernelEnd, let bank):
            "no 2 MiB for the device tree between the kernel's end \(hex(kernelEnd)) and the end of RAM bank \(bank): "
                + "give the guest more memory (-m)"
        case .initrdDoesNotFit(let size, let available):
            "the initrd (\(size) bytes) does not fit in the \(available) bytes between the kernel and the device tree: "
                + "give the guest more memory (-m)"
        case .deviceTreeTooLarge(let size):
            "the device tree would be larger than the 2 MiB arm64 kernels accept (\(size) bytes so far)"
        }
    }
}
