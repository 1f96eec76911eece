/// What a kernel file is when it is not a raw arm64 Image, found by its magic
/// bytes, so the error can say what to do instead of "bad magic".
public enum ARM64KernelFileKind: String, Equatable, Sendable {
    case gzip, zstd, xz, bzip2, lzma, lz4
    /// An arm64 EFI zboot image: a PE file whose payload is a compressed Image.
    case efiZboot = "EFI zboot"
    case x86BzImage = "x86 bzImage"
    case elf = "ELF"
    case uImage = "U-Boot uImage"
    case arm32zImage = "32-bit ARM zImage"

    /// Recognises `bytes` (the start of the file is enough), or nil.
    public static func identify(_ bytes: [UInt8]) -> ARM64KernelFileKind? {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && Array(bytes[offset..<(offset + magic.count)]) == magic
        }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if starts(Array("BZh".utf8)) { return .bzip2 }
        if starts([0x5D, 0x00, 0x00]) { return .lzma }
        if starts([0x02, 0x21, 0x4C, 0x18]) || starts([0x04, 0x22, 0x4D, 0x18]) { return .lz4 }
        if starts([0x7F]) && starts(Array("ELF".utf8), at: 1) { return .elf }
        if starts([0x27, 0x05, 0x19, 0x56]) { return .uImage }
        if starts(Array("MZ".utf8)) && starts(Array("zimg".utf8), at: 4) { return .efiZboot }
        if starts(Array("HdrS".utf8), at: 0x202) { return .x86BzImage }
        if starts([0x18, 0x28, 0x6F, 0x01], at: 0x24) { return .arm32zImage }
        return nil
    }

    /// One line: what the file is and how to get a bootable Image from it.
    var advice: String {
        switch self {
        case .gzip, .zstd, .xz, .bzip2, .lzma, .lz4:
            "is \(rawValue)-compressed: decompress it and pass the raw Image "
                + "(Debian's generic arm64 vmlinuz is a gzip-compressed Image: zcat vmlinuz > Image; "
                + "a kernel build leaves arch/arm64/boot/Image)"
        case .efiZboot:
            "is an arm64 EFI zboot image (a PE file holding a compressed Image): "
                + "lkvm boots the raw Image; use arch/arm64/boot/Image from the build (CONFIG_EFI_ZBOOT wraps it)"
        case .x86BzImage:
            "is an x86 bzImage: an arm64 guest needs an arm64 kernel Image (arch/arm64/boot/Image)"
        case .elf:
            "is an ELF file (a vmlinux?): lkvm boots the raw Image (arch/arm64/boot/Image), not vmlinux"
        case .uImage:
            "is a U-Boot uImage: pass the raw Image inside it (arch/arm64/boot/Image)"
        case .arm32zImage:
            "is a 32-bit ARM zImage: lkvm boots 64-bit arm64 kernels only (arch/arm64/boot/Image)"
        }
    }
}
