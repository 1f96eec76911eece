/// A small x86-64 EXEC ELF built field by field, shaped like a vmlinux:
/// PT_LOAD segments at physical addresses (virtual ones in the kernel's
/// -2 GiB map), entered at `entry`. By default a code segment holding the
/// entry and a data segment with a .bss tail.
public struct TinyVmlinux {
    public struct Segment {
        public var address: UInt64
        public var bytes: [UInt8]
        public var memorySize: UInt64
        public var executable: Bool
        public var type: UInt32 = 1  // PT_LOAD

        public init(address: UInt64, bytes: [UInt8], memorySize: UInt64, executable: Bool, type: UInt32 = 1) {
            self.address = address
            self.bytes = bytes
            self.memorySize = memorySize
            self.executable = executable
            self.type = type
        }
    }

    public var entry: UInt64 = 0x100_0000
    public var machine: UInt16 = 62  // EM_X86_64
    public var type: UInt16 = 2      // ET_EXEC
    public var segments: [Segment] = [
        Segment(address: 0x100_0000, bytes: [UInt8](repeating: 0xCC, count: 0x2000), memorySize: 0x2000, executable: true),
        Segment(address: 0x120_0000, bytes: [UInt8](repeating: 0x5A, count: 0x1000), memorySize: 0x3000, executable: false),
    ]

    public init() {}

    /// One code segment at 16 MiB holding `code`, entered at its start.
    public init(code: [UInt8]) {
        segments = [Segment(address: 0x100_0000, bytes: code, memorySize: UInt64(code.count), executable: true)]
    }

    /// The ELF header, the program headers, then each segment's bytes.
    public func encoded() -> [UInt8] {
        var file = [UInt8](repeating: 0, count: 64 + 56 * segments.count)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { file.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        file.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        file[4] = 2; file[5] = 1; file[6] = 1  // ELFCLASS64, little-endian, version 1
        put(type, at: 16)
        put(machine, at: 18)
        put(UInt32(1), at: 20)
        put(entry, at: 24)
        put(UInt64(64), at: 32)       // e_phoff
        put(UInt16(64), at: 52)       // e_ehsize
        put(UInt16(56), at: 54)       // e_phentsize
        put(UInt16(segments.count), at: 56)
        for (index, segment) in segments.enumerated() {
            let at = 64 + 56 * index
            put(segment.type, at: at)
            put(UInt32(segment.executable ? 5 : 6), at: at + 4)      // R+X or R+W
            put(UInt64(file.count), at: at + 8)                      // p_offset
            put(segment.address | 0xFFFF_FFFF_0000_0000, at: at + 16)  // p_vaddr
            put(segment.address, at: at + 24)                        // p_paddr
            put(UInt64(segment.bytes.count), at: at + 32)
            put(segment.memorySize, at: at + 40)
            put(UInt64(0x1000), at: at + 48)                         // p_align
            file += segment.bytes
        }
        return file
    }
}
