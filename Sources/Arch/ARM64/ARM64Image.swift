import LKVMCore

/// A raw arm64 kernel Image (arch/arm64/boot/Image), read from its 64-byte
/// header as Documentation/arch/arm64/booting.rst defines it:
///
///     0  code0, 4 code1      executable code (branch to stext)
///     8  text_offset         load offset from a 2 MiB aligned base, little-endian
///     16 image_size          bytes the kernel occupies once running, bss included
///     24 flags               bit 0 big-endian, bits 1-2 page size, bit 3 placement
///     32..55 reserved, 56 magic "ARM\x64", 60 PE header offset
public struct ARM64Image: Equatable, Sendable {
    public static let headerSize = 64
    public static let magic: UInt32 = 0x644D_5241
    /// The kernel must start text_offset bytes above a base aligned to this.
    public static let baseAlignment: UInt64 = 2 << 20
    /// Kernels before v3.17 leave image_size 0 and expect this text_offset.
    public static let legacyTextOffset: UInt64 = 0x80000

    /// Page size the kernel was built for (flags bits 1-2).
    public enum PageSize: Equatable, Sendable {
        case unspecified, kib4, kib16, kib64
    }

    public let textOffset: UInt64
    /// Bytes from the load address the kernel may use, bss included: never less than the file.
    public let imageSize: UInt64
    public let pageSize: PageSize
    /// Flags bit 3: the kernel may sit anywhere in RAM, not only near its start.
    public let placeAnywhere: Bool
    /// True when the header predates v3.17 (image_size 0): lkvm assumes the file size.
    public let isLegacyHeader: Bool
    /// The whole file; the loader copies it to the load address.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) throws(ARM64ImageError) {
        if let kind = ARM64KernelFileKind.identify(bytes), !ARM64Image.hasMagic(bytes) {
            throw .foreignFormat(kind)
        }
        try ARM64Image.requireHeaderFields(bytes)
        let magic = ARM64Image.u32(bytes, 56)
        guard magic == ARM64Image.magic else { throw .badMagic(magic) }
        let flags = ARM64Image.u64(bytes, 24)
        guard flags & 1 == 0 else { throw .bigEndian }
        let size = ARM64Image.u64(bytes, 16)
        if size == 0 {
            textOffset = ARM64Image.legacyTextOffset
            imageSize = UInt64(bytes.count)
            isLegacyHeader = true
        } else {
            textOffset = ARM64Image.u64(bytes, 8)
            guard size >= UInt64(bytes.count) else { throw .imageSizeBelowFileSize(imageSize: size, fileSize: bytes.count) }
            imageSize = size
            isLegacyHeader = false
        }
        guard textOffset < ARM64Image.baseAlignment, textOffset % 4096 == 0 else { throw .badTextOffset(textOffset) }
        pageSize = [.unspecified, .kib4, .kib16, .kib64][Int((flags >> 1) & 3)]
        placeAnywhere = flags & 8 != 0
        self.bytes = bytes
    }

    private static func hasMagic(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 60 && u32(bytes, 56) == magic
    }

    /// The whole 64-byte header must be in the file; names the first field that is not.
    private static func requireHeaderFields(_ bytes: [UInt8]) throws(ARM64ImageError) {
        let fieldEnds: [(end: Int, name: String)] = [(4, "code0"), (8, "code1"), (16, "text_offset"),
                                                     (24, "image_size"), (32, "flags"), (56, "reserved fields"),
                                                     (60, "magic"), (64, "PE header offset")]
        if let missing = fieldEnds.first(where: { bytes.count < $0.end }) {
            throw .truncated(size: bytes.count, needed: missing.end, field: missing.name)
        }
    }

    private static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    private static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        UInt64(u32(bytes, offset)) | UInt64(u32(bytes, offset + 4)) << 32
    }
}
