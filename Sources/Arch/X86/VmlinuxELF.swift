import LKVMCore

// Facts from the ELF-64 object file format and Linux's arch/x86 vmlinux:
// an EXEC file whose PT_LOAD segments carry their load (physical) address in
// p_paddr and whose e_entry is the physical address of startup_64, the
// 64-bit entry the kernel's own decompressor jumps to (%rsi = boot_params).

/// What is wrong with an ELF kernel. One clear line each.
public enum VmlinuxError: Error, Equatable, CustomStringConvertible {
    case truncated(size: Int, needed: Int, field: String)
    case notELF64LittleEndian
    case notExecutable(type: UInt16)
    case notX86_64(machine: UInt16)
    case badProgramHeaderSize(UInt16)
    case tooManyProgramHeaders(Int)
    case noLoadableSegment
    case segmentBeyondFile(index: Int, end: UInt64, fileSize: Int)
    case segmentFileSizeExceedsMemorySize(index: Int)
    case segmentBelowOneMiB(index: Int, address: UInt64)
    case segmentsOverlap(first: Int, second: Int)
    case segmentOutsideRAM(index: Int, address: UInt64, size: UInt64)
    case entryOutsideCode(entry: UInt64)

    public var description: String {
        switch self {
        case .truncated(let size, let needed, let field):
            "vmlinux is truncated: \(size) bytes, \(needed) needed for its \(field)"
        case .notELF64LittleEndian:
            "vmlinux is not a 64-bit little-endian ELF file"
        case .notExecutable(let type):
            "vmlinux is not an executable (ELF type \(type), expected 2: EXEC)"
        case .notX86_64(let machine):
            "vmlinux is not an x86-64 kernel (ELF machine \(machine), expected 62)"
        case .badProgramHeaderSize(let size):
            "vmlinux has program headers of \(size) bytes, expected 56"
        case .tooManyProgramHeaders(let count):
            "vmlinux has \(count) program headers; a kernel has a handful (at most \(VmlinuxELF.maxProgramHeaders) accepted)"
        case .noLoadableSegment:
            "vmlinux has no loadable (PT_LOAD) segment"
        case .segmentBeyondFile(let index, let end, let fileSize):
            "vmlinux is truncated: segment \(index) ends at byte \(end) of a \(fileSize)-byte file"
        case .segmentFileSizeExceedsMemorySize(let index):
            "vmlinux segment \(index) has more bytes in the file than in memory (p_filesz > p_memsz)"
        case .segmentBelowOneMiB(let index, let address):
            "vmlinux segment \(index) loads at \(hex(address)), below 1 MiB where lkvm keeps the boot structures"
        case .segmentsOverlap(let first, let second):
            "vmlinux segments \(first) and \(second) overlap in memory"
        case .segmentOutsideRAM(let index, let address, let size):
            "vmlinux segment \(index) (\(hex(address)), \(BootError.mebibytes(size)) MiB) is not inside guest RAM: give the guest more memory"
        case .entryOutsideCode(let entry):
            "vmlinux entry point \(hex(entry)) is not inside a loaded segment"
        }
    }
}

/// An uncompressed x86-64 kernel (vmlinux, as `make` leaves it at the top of
/// the build tree, or as lkvm unpacks it): loaded segment by segment at the
/// physical addresses it was linked for and entered at startup_64, which
/// skips the decompressor (and with it KASLR, which lives there).
///
/// Parsed by hand rather than with libelf: the file is already in memory,
/// the reads are a few fixed-size fields, each bounds-checked, and the code
/// stays free of unsafe pointers so it can be fuzzed like the bzImage parser.
public struct VmlinuxELF: Sendable {
    public struct Segment: Sendable, Equatable {
        public let fileOffset: UInt64
        public let address: UInt64
        public let fileSize: UInt64
        public let memorySize: UInt64
        public let executable: Bool
    }

    static let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
    static let headerSize = 64
    static let programHeaderSize: UInt16 = 56
    static let typeExecutable: UInt16 = 2
    static let machineX86_64: UInt16 = 62
    static let loadSegment: UInt32 = 1
    static let executeFlag: UInt32 = 1
    /// More program headers than any kernel has: bounds the work on a bad file.
    static let maxProgramHeaders = 64

    public let entry: GuestAddress
    public let segments: [Segment]
    private let file: [UInt8]

    public static func isELF(_ file: [UInt8]) -> Bool { file.starts(with: magic) }

    public init(_ file: [UInt8]) throws(VmlinuxError) {
        func need(_ count: Int, _ field: String) throws(VmlinuxError) {
            if file.count < count { throw .truncated(size: file.count, needed: count, field: field) }
        }
        try need(Self.headerSize, "ELF header")
        // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
        guard file.starts(with: Self.magic), file[4] == 2, file[5] == 1 else { throw .notELF64LittleEndian }
        let type = LittleEndian.u16(file, 16)
        guard type == Self.typeExecutable else { throw .notExecutable(type: type) }
        let machine = LittleEndian.u16(file, 18)
        guard machine == Self.machineX86_64 else { throw .notX86_64(machine: machine) }
        let entry = LittleEndian.u64(file, 24)
        let tableOffset = LittleEndian.u64(file, 32)
        let entrySize = LittleEndian.u16(file, 54)
        let count = Int(LittleEndian.u16(file, 56))
        guard count > 0 else { throw .noLoadableSegment }
        guard entrySize == Self.programHeaderSize else { throw .badProgramHeaderSize(entrySize) }
        guard count <= Self.maxProgramHeaders else { throw .tooManyProgramHeaders(count) }
        // e_phoff comes from the file: the sum may wrap.
        let (tableEnd, wraps) = tableOffset.addingReportingOverflow(UInt64(count) * UInt64(entrySize))
        guard !wraps, tableEnd <= UInt64(file.count) else {
            throw .truncated(size: file.count, needed: wraps ? .max : Int(clamping: tableEnd), field: "program headers")
        }
        var segments: [Segment] = []
        var headerIndices: [Int] = []  // each segment's program header, for messages
        for index in 0..<count {
            let at = Int(tableOffset) + index * Int(entrySize)
            guard LittleEndian.u32(file, at) == Self.loadSegment else { continue }
            let segment = Segment(fileOffset: LittleEndian.u64(file, at + 8), address: LittleEndian.u64(file, at + 24),
                                  fileSize: LittleEndian.u64(file, at + 32), memorySize: LittleEndian.u64(file, at + 40),
                                  executable: LittleEndian.u32(file, at + 4) & Self.executeFlag != 0)
            guard segment.memorySize > 0 else { continue }
            guard segment.fileSize <= segment.memorySize else { throw .segmentFileSizeExceedsMemorySize(index: index) }
            let (fileEnd, fileOverflow) = segment.fileOffset.addingReportingOverflow(segment.fileSize)
            guard !fileOverflow, fileEnd <= UInt64(file.count) else {
                throw .segmentBeyondFile(index: index, end: fileOverflow ? .max : fileEnd, fileSize: file.count)
            }
            guard segment.address >= 0x10_0000 else { throw .segmentBelowOneMiB(index: index, address: segment.address) }
            guard segment.address.addingReportingOverflow(segment.memorySize).overflow == false else {
                throw .segmentOutsideRAM(index: index, address: segment.address, size: segment.memorySize)
            }
            for (other, earlier) in zip(headerIndices, segments)
            where segment.address < earlier.address + earlier.memorySize && earlier.address < segment.address + segment.memorySize {
                throw .segmentsOverlap(first: other, second: index)
            }
            segments.append(segment)
            headerIndices.append(index)
        }
        guard !segments.isEmpty else { throw .noLoadableSegment }
        guard segments.contains(where: { $0.executable && entry >= $0.address && entry - $0.address < $0.fileSize }) else {
            throw .entryOutsideCode(entry: entry)
        }
        self.entry = GuestAddress(entry)
        self.segments = segments
        self.file = file
    }

    /// Copies each segment to its address and zeroes the rest of its memory
    /// size (.bss), after checking that every one lies in one RAM region.
    /// `end` is the end of the highest segment: the initrd goes above it.
    public func load(into memory: GuestMemory) throws(VmlinuxError) -> LoadedKernel {
        for (index, segment) in segments.enumerated()
        where !memory.contains(GuestAddress(segment.address), length: segment.memorySize) {
            throw .segmentOutsideRAM(index: index, address: segment.address, size: segment.memorySize)
        }
        do {
            for segment in segments {
                let start = Int(segment.fileOffset)
                try memory.write(file[start..<(start + Int(segment.fileSize))], at: GuestAddress(segment.address))
                if segment.memorySize > segment.fileSize {
                    try memory.fill(0, count: Int(segment.memorySize - segment.fileSize),
                                    at: GuestAddress(segment.address + segment.fileSize))
                }
            }
        } catch {
            // Unreachable after the checks above; reported rather than trapped.
            throw .segmentOutsideRAM(index: 0, address: segments[0].address, size: segments[0].memorySize)
        }
        let lowest = segments.map(\.address).min() ?? 0
        let end = segments.map { $0.address + $0.memorySize }.max() ?? 0
        return LoadedKernel(loadAddress: GuestAddress(lowest), entry64: entry, end: GuestAddress(end))
    }
}
