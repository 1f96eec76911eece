import LKVMCore

/// The kernel file `-k` names on x86-64: a bzImage (entered at its 64-bit
/// entry, where its own decompressor runs) or an uncompressed ELF vmlinux
/// (loaded by segments and entered at startup_64, with a header lkvm makes).
public enum X86Kernel: Sendable {
    case bzImage(BzImage)
    case vmlinux(VmlinuxELF)

    public init(_ file: [UInt8]) throws(BootError) {
        if VmlinuxELF.isELF(file) {
            do { self = .vmlinux(try VmlinuxELF(file)) } catch { throw .vmlinux(error) }
        } else {
            self = .bzImage(try BzImage(file))
        }
    }

    /// The setup header for the zero page.
    public var header: SetupHeader {
        switch self {
        case .bzImage(let image): image.header
        case .vmlinux: Self.vmlinuxHeader
        }
    }

    /// Made once: the same for every vmlinux.
    private static let vmlinuxHeader = SetupHeader.forVmlinux()

    public func load(into memory: GuestMemory) throws(BootError) -> LoadedKernel {
        switch self {
        case .bzImage(let image):
            return try image.load(into: memory)
        case .vmlinux(let elf):
            do { return try elf.load(into: memory) } catch { throw .vmlinux(error) }
        }
    }
}
