/// Writes a "newc" cpio archive (the format the kernel unpacks as an
/// initramfs; see Documentation/driver-api/early-userspace/buffer-format.rst):
/// per entry a 110-byte ASCII header of 8-digit hex fields, the name with
/// its NUL, padding to 4 bytes, the data, padding to 4 bytes; then the
/// "TRAILER!!!" entry. Owners are root, times are 0, every entry has its own
/// inode number (no hard links).
public struct CPIOWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var nextInode: UInt32 = 1

    public init() {}

    /// File types for the mode field (stat.h).
    public static let directoryType: UInt32 = 0o040000
    public static let regularType: UInt32 = 0o100000
    public static let symlinkType: UInt32 = 0o120000
    public static let characterDeviceType: UInt32 = 0o020000

    /// `path` is relative to the archive's root ("bin/busybox").
    public mutating func addDirectory(_ path: String, permissions: UInt32 = 0o755) {
        append(path, mode: Self.directoryType | permissions & 0o7777, links: 2, data: [])
    }

    public mutating func addFile(_ path: String, contents: [UInt8], permissions: UInt32 = 0o644) {
        append(path, mode: Self.regularType | permissions & 0o7777, links: 1, data: contents)
    }

    public mutating func addSymlink(_ path: String, target: String) {
        append(path, mode: Self.symlinkType | 0o777, links: 1, data: Array(target.utf8))
    }

    /// A device node such as dev/console (5, 1), which the kernel opens for
    /// init's standard streams before any devtmpfs is mounted.
    public mutating func addCharacterDevice(_ path: String, major: UInt32, minor: UInt32, permissions: UInt32 = 0o600) {
        append(path, mode: Self.characterDeviceType | permissions & 0o7777, links: 1, data: [], device: (major, minor))
    }

    /// The archive with its trailer.
    public func finished() -> [UInt8] {
        var copy = self
        copy.append("TRAILER!!!", mode: 0, links: 1, data: [], inode: 0)
        return copy.bytes
    }

    private mutating func append(_ path: String, mode: UInt32, links: UInt32, data: [UInt8], inode: UInt32? = nil,
                                 device: (major: UInt32, minor: UInt32) = (0, 0)) {
        let name = Array(path.utf8) + [0]
        let number = inode ?? nextInode
        if inode == nil { nextInode += 1 }
        let fields: [UInt32] = [number, mode, 0, 0, links, 0, UInt32(data.count), 0, 0, device.major, device.minor,
                                UInt32(name.count), 0]
        bytes += Array("070701".utf8)
        for field in fields { bytes += Self.hex8(field) }
        bytes += name
        padToFour()
        bytes += data
        padToFour()
    }

    private mutating func padToFour() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private static func hex8(_ value: UInt32) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return (0..<8).reversed().map { digits[Int(value >> (UInt32($0) * 4) & 0xF)] }
    }
}
