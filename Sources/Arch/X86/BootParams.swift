import LKVMCore

/// The zero page (struct boot_params) handed to the kernel in %rsi at the
/// 64-bit entry. Built from zeros so that the sentinel at 0x1EF stays 0 and
/// every field lkvm does not set reads as "absent".
public struct BootParams: Sendable {
    public static let size = 4096

    // boot_params offsets outside the setup header (boot.rst, zero-page.rst).
    static let extRamdiskImageOffset = 0x0C0
    static let extRamdiskSizeOffset = 0x0C4
    static let extCommandLinePointerOffset = 0x0C8
    static let e820EntriesOffset = 0x1E8
    static let e820TableOffset = 0x2D0
    /// "Undefined" boot loader: lkvm has no assigned loader id.
    static let loaderTypeUndefined: UInt8 = 0xFF

    public var header: SetupHeader
    public var commandLine: GuestAddress?
    public var initrd: GuestRange?
    public var e820: [E820Entry]

    public init(header: SetupHeader, commandLine: GuestAddress? = nil, initrd: GuestRange? = nil, e820: [E820Entry] = []) {
        self.header = header
        self.commandLine = commandLine
        self.initrd = initrd
        self.e820 = e820
    }

    /// The 4096 bytes of the zero page.
    public func encode() throws(BootError) -> [UInt8] {
        guard e820.count <= E820Map.maxEntries else {
            throw .tooManyE820Entries(count: e820.count, maximum: E820Map.maxEntries)
        }
        var page = [UInt8](repeating: 0, count: Self.size)
        // SetupHeader's parser bounds the raw bytes to [0x1F1, 0x290).
        page.replaceSubrange(SetupHeader.start..<(SetupHeader.start + header.rawBytes.count), with: header.rawBytes)

        page[SetupHeader.typeOfLoaderOffset] = Self.loaderTypeUndefined
        page[SetupHeader.loadFlagsOffset] |= SetupHeader.loadedHigh
        // The file's setup_data is meaningless here and the kernel would follow it.
        LittleEndian.put(UInt64(0), into: &page, at: SetupHeader.setupDataOffset)

        if let commandLine {
            LittleEndian.put(UInt32(truncatingIfNeeded: commandLine.raw), into: &page, at: SetupHeader.commandLinePointerOffset)
            LittleEndian.put(UInt32(truncatingIfNeeded: commandLine.raw >> 32), into: &page, at: Self.extCommandLinePointerOffset)
        }
        if let initrd {
            LittleEndian.put(UInt32(truncatingIfNeeded: initrd.start.raw), into: &page, at: SetupHeader.ramdiskImageOffset)
            LittleEndian.put(UInt32(truncatingIfNeeded: initrd.start.raw >> 32), into: &page, at: Self.extRamdiskImageOffset)
            LittleEndian.put(UInt32(truncatingIfNeeded: initrd.size), into: &page, at: SetupHeader.ramdiskSizeOffset)
            LittleEndian.put(UInt32(truncatingIfNeeded: initrd.size >> 32), into: &page, at: Self.extRamdiskSizeOffset)
        }
        page[Self.e820EntriesOffset] = UInt8(e820.count)
        for (index, entry) in e820.enumerated() {
            let offset = Self.e820TableOffset + index * E820Entry.encodedSize
            page.replaceSubrange(offset..<(offset + E820Entry.encodedSize), with: entry.encoded)
        }
        return page
    }

    public func write(into memory: GuestMemory, at address: GuestAddress) throws(BootError) {
        let page = try encode()
        do {
            try memory.write(page, at: address)
        } catch {
            throw .guestMemory(error)
        }
    }

    /// The command line as the kernel reads it: the bytes plus a NUL.
    /// cmdline_size is the maximum length without that NUL (boot.rst).
    public static func commandLineBytes(_ commandLine: String, header: SetupHeader) throws(BootError) -> [UInt8] {
        let bytes = Array(commandLine.utf8)
        if let nul = bytes.firstIndex(of: 0) { throw .commandLineContainsNUL(offset: nul) }
        guard UInt64(bytes.count) <= UInt64(header.commandLineSize) else {
            throw .commandLineTooLong(length: bytes.count, maximum: Int(header.commandLineSize))
        }
        return bytes + [0]
    }

    /// Places an initrd page-aligned as high as possible: it must end at or
    /// below initrd_addr_max + 1 and inside one RAM range, and start at or
    /// above the kernel's init_size end (the decompressor uses all of that).
    /// Only RAM below 4 GiB is eligible since initrd_addr_max is 32-bit.
    public static func placeInitrd(size: UInt64, ram: [GuestRange], initrdAddressMax: UInt32,
                                   kernelEnd: GuestAddress) throws(BootError) -> GuestAddress {
        let page = GuestMemory.pageSize
        let limit = UInt64(initrdAddressMax) + 1
        var best: UInt64?
        for range in ram {
            let top = min(range.end, limit)
            let floor = max(range.start.raw, kernelEnd.raw)
            guard top >= size else { continue }
            let start = (top - size) & ~(page - 1)
            guard start >= floor else { continue }
            if best.map({ start > $0 }) ?? true { best = start }
        }
        guard let best else {
            // Report the effective ceiling: the top of the RAM the initrd could use.
            let ceiling = ram.filter { $0.start.raw < limit }.map { min($0.end, limit) }.max() ?? limit
            throw .initrdDoesNotFit(size: size, below: ceiling, above: kernelEnd.raw)
        }
        return GuestAddress(best)
    }
}
