import LKVMCore

/// Why a file is not an arm64 kernel Image lkvm can boot. Each description is
/// one line that says what the file is and what to do about it.
public enum ARM64ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file ends before `field`, which needs `needed` bytes.
    case truncated(size: Int, needed: Int, field: String)
    /// Recognised as something other than an arm64 Image.
    case foreignFormat(ARM64KernelFileKind)
    /// No "ARM\x64" at offset 56 and nothing else lkvm recognises.
    case badMagic(UInt32)
    case bigEndian
    /// The header's image_size is smaller than the file: the header or the file is wrong.
    case imageSizeBelowFileSize(imageSize: UInt64, fileSize: Int)
    case badTextOffset(UInt64)

    public var description: String {
        switch self {
        case .truncated(let size, let needed, let field):
            "is truncated: \(size) bytes, but the arm64 Image header's \(field) needs \(needed)"
        case .foreignFormat(let kind):
            kind.advice
        case .badMagic(let magic):
            "is not an arm64 kernel Image: the magic at offset 56 is \(hex(magic)), expected 0x644d5241 (\"ARM\\x64\")"
        case .bigEndian:
            "is a big-endian arm64 kernel (header flags bit 0): lkvm boots little-endian kernels only"
        case .imageSizeBelowFileSize(let imageSize, let fileSize):
            "has image_size \(hex(imageSize)) in its header, smaller than the file (\(hex(fileSize)) bytes): the Image is corrupt"
        case .badTextOffset(let offset):
            "has text_offset \(hex(offset)), not below 2 MiB and 4 KiB aligned: the Image is corrupt"
        }
    }
}
