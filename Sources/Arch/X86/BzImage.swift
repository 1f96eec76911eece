import LKVMCore

// Facts from Linux Documentation/arch/x86/boot.rst (the x86 boot protocol).

/// Everything that can go wrong while turning a kernel file, a command line,
/// an initrd and a board into the x86 boot structures. One clear line each.
public enum BootError: Error, Equatable, CustomStringConvertible {
    public enum NotBzImageReason: Equatable, Sendable {
        case elf, gzip, xz, zstd, bzip2
        case badBootFlag(UInt16)
        case noHeaderMagic
        /// LOADED_HIGH clear: an old zImage that wants to live at 0x10000.
        case notLoadedHigh
    }

    /// The file ends before the field we need; `needed` is the byte count required.
    case fileTooSmall(size: Int, needed: Int, field: String)
    case notBzImage(NotBzImageReason)
    case protocolTooOld(version: UInt16, minimum: UInt16)
    case notSixtyFourBit
    case badSetupHeader(String)
    case setupBeyondEndOfFile(setupSize: Int, fileSize: Int)
    case emptyPayload
    case payloadTruncated(expected: UInt64, available: UInt64)
    case kernelDoesNotFit(load: GuestAddress, needed: UInt64, ramEnd: UInt64?)
    case commandLineTooLong(length: Int, maximum: Int)
    case commandLineContainsNUL(offset: Int)
    case initrdDoesNotFit(size: UInt64, below: UInt64, above: UInt64)
    case tooManyE820Entries(count: Int, maximum: Int)
    case invalidMPTable(String)
    case mpTableTooLarge(size: Int, limit: Int)
    case guestMemory(GuestMemoryError)
    case vmlinux(VmlinuxError)

    public var description: String {
        switch self {
        case .fileTooSmall(let size, _, _) where size == 0:
            "kernel file is empty"
        case .fileTooSmall(let size, let needed, let field):
            "kernel file is truncated: \(size) bytes, but its \(field) needs \(needed) bytes"
        case .notBzImage(let reason):
            switch reason {
            case .elf: "kernel is an ELF file, not a bzImage: is it an uncompressed vmlinux? use arch/x86/boot/bzImage"
            case .gzip: "kernel is a gzip file, not a bzImage: is it a compressed file? decompress it or use arch/x86/boot/bzImage"
            case .xz: "kernel is an xz file, not a bzImage: is it a compressed file? decompress it or use arch/x86/boot/bzImage"
            case .zstd: "kernel is a zstd file, not a bzImage: is it a compressed file? decompress it or use arch/x86/boot/bzImage"
            case .bzip2: "kernel is a bzip2 file, not a bzImage: is it a compressed file? decompress it or use arch/x86/boot/bzImage"
            case .badBootFlag(let flag): "kernel is not a bzImage: boot flag at 0x1fe is \(hex(flag)), expected 0xaa55 (is it an ELF vmlinux or a compressed file?)"
            case .noHeaderMagic: "kernel is not a bzImage: no \"HdrS\" magic at 0x202 (is it an ELF vmlinux or a compressed file?)"
            case .notLoadedHigh: "kernel is a zImage (LOADED_HIGH clear), not a bzImage: it cannot be loaded at 1 MiB or above"
            }
        case .protocolTooOld(let version, let minimum):
            "kernel boot protocol \(Self.version(version)) is too old: lkvm's 64-bit entry needs \(Self.version(minimum)) or later (Linux 3.8+)"
        case .notSixtyFourBit:
            "kernel has no 64-bit entry point (XLF_KERNEL_64 clear): is it a 32-bit kernel?"
        case .badSetupHeader(let why):
            "kernel setup header is invalid: \(why)"
        case .setupBeyondEndOfFile(let setupSize, let fileSize):
            "kernel file is truncated: its setup code takes \(setupSize) bytes but the file has only \(fileSize)"
        case .emptyPayload:
            "kernel file has no protected-mode payload after its setup code (syssize is 0, or too small to hold the 64-bit entry at 0x200)"
        case .payloadTruncated(let expected, let available):
            "kernel file is truncated: syssize says the payload is \(expected) bytes but only \(available) follow the setup code"
        case .kernelDoesNotFit(let load, let needed, let ramEnd):
            if let ramEnd {
                "kernel needs \(Self.mebibytes(needed)) MiB at \(load) (init_size) but guest RAM ends at \(hex(ramEnd)): give the guest more memory"
            } else {
                // The address comes from the header (pref_address, rounded up to
                // kernel_alignment): more RAM helps only if it reaches there.
                "kernel loads at \(load) (its pref_address, aligned to kernel_alignment) and needs \(Self.mebibytes(needed)) MiB (init_size), but there is no guest RAM there: a corrupt header, or a guest too small for it"
            }
        case .commandLineTooLong(let length, let maximum):
            "kernel command line is \(length) bytes, but this kernel accepts at most \(maximum) (cmdline_size)"
        case .commandLineContainsNUL(let offset):
            "kernel command line contains a NUL byte at offset \(offset)"
        case .initrdDoesNotFit(let size, let below, let above):
            "initrd of \(Self.mebibytes(size)) MiB does not fit below \(hex(below)) and above the kernel's end at \(hex(above)): give the guest more memory"
        case .tooManyE820Entries(let count, let maximum):
            "memory map needs \(count) e820 entries but the zero page holds at most \(maximum)"
        case .invalidMPTable(let why):
            "cannot build the MP table: \(why)"
        case .mpTableTooLarge(let size, let limit):
            "MP table needs \(size) bytes but only \(limit) are reserved for it: use fewer vCPUs or PCI devices"
        case .guestMemory(let error):
            error.description
        case .vmlinux(let error):
            error.description
        }
    }

    static func version(_ raw: UInt16) -> String {
        let minor = raw & 0xFF
        return "\(raw >> 8).\(minor < 10 ? "0" : "")\(minor)"
    }

    /// Rounded up, so "needs 64 MiB" never under-states the need.
    static func mebibytes(_ bytes: UInt64) -> UInt64 { bytes / (1 << 20) + (bytes % (1 << 20) == 0 ? 0 : 1) }
}

/// Little-endian field access on byte arrays. Callers check bounds first;
/// these helpers are only reached with in-range offsets.
enum LittleEndian {
    static func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(u16(bytes, offset)) | UInt32(u16(bytes, offset + 2)) << 16
    }

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        UInt64(u32(bytes, offset)) | UInt64(u32(bytes, offset + 4)) << 32
    }

    static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        put(value, into: &result, at: 0)
        return result
    }
}

/// The parsed setup header (offsets 0x1F1.. of the kernel file and of the zero page).
public struct SetupHeader: Sendable, Equatable {
    // Field offsets, shared with BootParams (the zero page uses the same layout).
    static let start = 0x1F1
    static let setupSectorsOffset = 0x1F1
    static let sysSizeOffset = 0x1F4
    static let bootFlagOffset = 0x1FE
    static let jumpOffset = 0x200
    static let magicOffset = 0x202
    static let versionOffset = 0x206
    static let kernelVersionOffset = 0x20E
    static let typeOfLoaderOffset = 0x210
    static let loadFlagsOffset = 0x211
    static let ramdiskImageOffset = 0x218
    static let ramdiskSizeOffset = 0x21C
    static let commandLinePointerOffset = 0x228
    static let initrdAddressMaxOffset = 0x22C
    static let kernelAlignmentOffset = 0x230
    static let relocatableOffset = 0x234
    static let xloadFlagsOffset = 0x236
    static let commandLineSizeOffset = 0x238
    static let setupDataOffset = 0x250
    static let preferredAddressOffset = 0x258
    static let initSizeOffset = 0x260
    /// First byte after init_size: the last field we read.
    static let requiredEnd = 0x264
    /// boot_params has room for the header only up to 0x290 (edd_mbr_sig_buffer follows).
    static let zeroPageLimit = 0x290

    /// "HdrS" read as a little-endian u32.
    static let magic: UInt32 = 0x5372_6448
    static let bootFlag: UInt16 = 0xAA55
    public static let loadedHigh: UInt8 = 0x01
    public static let xlfKernel64: UInt16 = 0x0001
    public static let xlfCanBeLoadedAbove4G: UInt16 = 0x0002
    /// xloadflags (0x236) and with it XLF_KERNEL_64 exist from protocol 2.12 on;
    /// pref_address and init_size from 2.10. Older headers hold setup code there.
    public static let minimumProtocol: UInt16 = 0x020C

    public let protocolVersion: UInt16
    /// setup_sects with the historical 0 meaning 4.
    public let setupSectors: Int
    /// Protected-mode payload size in bytes (syssize * 16).
    public let payloadSize: UInt64
    public let loadFlags: UInt8
    public let xloadFlags: UInt16
    public let relocatable: Bool
    public let kernelAlignment: UInt32
    public let preferredAddress: UInt64
    /// Bytes the kernel needs at its load address to decompress and start.
    public let initSize: UInt32
    /// Maximum command-line length, excluding the terminating NUL.
    public let commandLineSize: UInt32
    /// Highest address the initrd may occupy (inclusive).
    public let initrdAddressMax: UInt32
    /// The raw header bytes [0x1F1, 0x202 + byte at 0x201), copied into boot_params.
    public let rawBytes: [UInt8]

    /// Byte offset of the protected-mode code in the file.
    public var protectedModeOffset: Int { (setupSectors + 1) * 512 }

    public init(parsing file: [UInt8]) throws(BootError) {
        if let reason = Self.foreignFormat(file) { throw .notBzImage(reason) }
        func need(_ count: Int, _ field: String) throws(BootError) {
            if file.count < count { throw .fileTooSmall(size: file.count, needed: count, field: field) }
        }
        try need(Self.bootFlagOffset + 2, "boot flag at 0x1fe")
        let flag = LittleEndian.u16(file, Self.bootFlagOffset)
        guard flag == Self.bootFlag else { throw .notBzImage(.badBootFlag(flag)) }
        try need(Self.magicOffset + 4, "\"HdrS\" magic at 0x202")
        guard LittleEndian.u32(file, Self.magicOffset) == Self.magic else { throw .notBzImage(.noHeaderMagic) }
        try need(Self.versionOffset + 2, "protocol version at 0x206")
        let version = LittleEndian.u16(file, Self.versionOffset)
        guard version >= Self.minimumProtocol else {
            throw .protocolTooOld(version: version, minimum: Self.minimumProtocol)
        }
        // The header's own length: 0x202 + the jump's displacement byte.
        let headerEnd = 0x202 + Int(file[Self.jumpOffset + 1])
        guard headerEnd >= Self.requiredEnd else {
            throw .badSetupHeader("it ends at \(hex(headerEnd)), before init_size (\(hex(Self.requiredEnd)))")
        }
        guard headerEnd <= Self.zeroPageLimit else {
            throw .badSetupHeader("it ends at \(hex(headerEnd)), past the zero page's room (\(hex(Self.zeroPageLimit)))")
        }
        try need(headerEnd, "setup header (up to \(hex(headerEnd)))")

        let loadFlags = file[Self.loadFlagsOffset]
        guard loadFlags & Self.loadedHigh != 0 else { throw .notBzImage(.notLoadedHigh) }
        let xloadFlags = LittleEndian.u16(file, Self.xloadFlagsOffset)
        guard xloadFlags & Self.xlfKernel64 != 0 else { throw .notSixtyFourBit }

        let alignment = LittleEndian.u32(file, Self.kernelAlignmentOffset)
        let relocatable = file[Self.relocatableOffset] != 0
        if relocatable {
            guard alignment != 0, alignment & (alignment - 1) == 0 else {
                throw .badSetupHeader("kernel_alignment \(hex(alignment)) is not a power of two")
            }
        }
        let sysSize = LittleEndian.u32(file, Self.sysSizeOffset)
        let rawSectors = Int(file[Self.setupSectorsOffset])

        protocolVersion = version
        setupSectors = rawSectors == 0 ? 4 : rawSectors
        payloadSize = UInt64(sysSize) * 16
        self.loadFlags = loadFlags
        self.xloadFlags = xloadFlags
        self.relocatable = relocatable
        kernelAlignment = alignment
        preferredAddress = LittleEndian.u64(file, Self.preferredAddressOffset)
        initSize = LittleEndian.u32(file, Self.initSizeOffset)
        commandLineSize = LittleEndian.u32(file, Self.commandLineSizeOffset)
        initrdAddressMax = LittleEndian.u32(file, Self.initrdAddressMaxOffset)
        rawBytes = Array(file[Self.start..<headerEnd])
    }

    /// The header lkvm puts in the zero page for a kernel that has none (an
    /// ELF vmlinux): protocol 2.15, a 64-bit kernel loaded high, Linux's
    /// x86 command-line limit (2048 bytes with the NUL) and an initrd below
    /// 2 GiB, as the decompressor of such a kernel would have left them.
    public static func forVmlinux() -> SetupHeader {
        var file = [UInt8](repeating: 0, count: 0x268)
        LittleEndian.put(bootFlag, into: &file, at: bootFlagOffset)
        file[jumpOffset] = 0xEB
        file[jumpOffset + 1] = UInt8(0x268 - 0x202)
        LittleEndian.put(magic, into: &file, at: magicOffset)
        LittleEndian.put(UInt16(0x020F), into: &file, at: versionOffset)
        file[loadFlagsOffset] = loadedHigh
        LittleEndian.put(UInt32(0x7FFF_FFFF), into: &file, at: initrdAddressMaxOffset)
        LittleEndian.put(xlfKernel64 | xlfCanBeLoadedAbove4G, into: &file, at: xloadFlagsOffset)
        LittleEndian.put(UInt32(2047), into: &file, at: commandLineSizeOffset)
        // Built from constants that satisfy every check of the parser.
        return try! SetupHeader(parsing: file)
    }

    /// Recognises common non-bzImage files so the error can say what was given.
    static func foreignFormat(_ file: [UInt8]) -> BootError.NotBzImageReason? {
        func startsWith(_ magic: [UInt8]) -> Bool { file.count >= magic.count && Array(file[0..<magic.count]) == magic }
        if startsWith([0x7F, 0x45, 0x4C, 0x46]) { return .elf }
        if startsWith([0x1F, 0x8B]) { return .gzip }
        if startsWith([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if startsWith([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if startsWith([0x42, 0x5A, 0x68]) { return .bzip2 }
        return nil
    }

    /// Where lkvm loads the protected-mode kernel: pref_address (the address
    /// the kernel was linked for, so it need not relocate), aligned up to
    /// kernel_alignment for a relocatable kernel; 1 MiB if the header gives none.
    public var loadAddress: GuestAddress {
        let preferred = preferredAddress == 0 ? 0x10_0000 : preferredAddress
        guard relocatable else { return GuestAddress(preferred) }
        let mask = UInt64(kernelAlignment) - 1
        let (rounded, overflow) = preferred.addingReportingOverflow(mask)
        return GuestAddress(overflow ? preferred : rounded & ~mask)
    }
}

/// Where the kernel went and where to enter it.
public struct LoadedKernel: Sendable, Equatable {
    public let loadAddress: GuestAddress
    /// 64-bit entry: protected-mode code start + 0x200 (boot.rst, 64-bit boot protocol).
    public let entry64: GuestAddress
    /// loadAddress + init_size: nothing else (initrd, ...) may be placed below this.
    public let end: GuestAddress
}

/// A bzImage kernel: setup header, real-mode setup code, then the protected-mode payload.
public struct BzImage: Sendable {
    public static let entry64Offset: UInt64 = 0x200

    public let header: SetupHeader
    private let file: [UInt8]

    public init(_ file: [UInt8]) throws(BootError) {
        let header = try SetupHeader(parsing: file)
        let payloadStart = header.protectedModeOffset
        guard payloadStart <= file.count else {
            throw .setupBeyondEndOfFile(setupSize: payloadStart, fileSize: file.count)
        }
        let available = UInt64(file.count - payloadStart)
        // The 64-bit entry lies 0x200 bytes in, so a shorter payload cannot be a kernel.
        guard header.payloadSize > BzImage.entry64Offset else { throw .emptyPayload }
        // Signed kernels carry a signature after the payload, so longer is fine.
        guard header.payloadSize <= available else {
            throw .payloadTruncated(expected: header.payloadSize, available: available)
        }
        self.header = header
        self.file = file
    }

    /// The protected-mode code: syssize * 16 bytes after the setup sectors.
    public var payload: ArraySlice<UInt8> {
        let start = header.protectedModeOffset
        return file[start..<(start + Int(header.payloadSize))]
    }

    /// The kernel_version string (e.g. "6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..."),
    /// when the header points at a NUL-terminated one inside the setup code.
    public var versionString: String? {
        let pointer = Int(LittleEndian.u16(file, SetupHeader.kernelVersionOffset))
        guard pointer != 0 else { return nil }
        let start = pointer + 0x200
        let limit = min(header.protectedModeOffset, start + 256)
        guard start < limit else { return nil }
        guard let nul = file[start..<limit].firstIndex(of: 0), nul > start else { return nil }
        let text = file[start..<nul]
        guard text.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: text, as: UTF8.self)
    }

    /// Copies the payload to the load address after checking that the whole
    /// init_size window lies in one RAM region.
    public func load(into memory: GuestMemory) throws(BootError) -> LoadedKernel {
        let load = header.loadAddress
        let needed = max(UInt64(header.initSize), header.payloadSize)
        guard memory.contains(load, length: needed), let end = load.adding(needed) else {
            let region = memory.ranges.first { $0.contains(load, length: 0) && load.raw < $0.end }
            throw .kernelDoesNotFit(load: load, needed: needed, ramEnd: region?.end)
        }
        do {
            try memory.write(payload, at: load)
        } catch {
            throw .guestMemory(error)
        }
        guard let entry = load.adding(Self.entry64Offset) else {
            throw .kernelDoesNotFit(load: load, needed: needed, ramEnd: nil)
        }
        return LoadedKernel(loadAddress: load, entry64: entry, end: end)
    }
}

extension BootError {
    /// True for problems with the kernel file itself (the CLI names the file);
    /// false for problems of fit (initrd, command line, RAM size).
    public var isAboutTheKernelFile: Bool {
        switch self {
        case .fileTooSmall, .notBzImage, .protocolTooOld, .notSixtyFourBit, .badSetupHeader,
             .setupBeyondEndOfFile, .emptyPayload, .payloadTruncated, .vmlinux:
            true
        default:
            false
        }
    }
}
