import LKVMCore

/// Register values for one segment, decoded from a GDT descriptor into the
/// shape of KVM's struct kvm_segment (the KVM layer copies it field by field).
public struct SegmentDescriptor: Sendable, Equatable {
    public var base: UInt64
    /// In bytes: already scaled by 4 KiB when `granularity` is set, as KVM wants.
    public var limit: UInt32
    public var selector: UInt16
    public var type: UInt8
    public var present: Bool
    public var dpl: UInt8
    /// D/B: default operand size 32-bit (must be 0 for a 64-bit code segment).
    public var db: Bool
    /// S: code/data (true) versus system segment such as a TSS (false).
    public var s: Bool
    /// L: 64-bit code segment.
    public var l: Bool
    public var granularity: Bool
    public var avl: Bool

    public init(base: UInt64, limit: UInt32, selector: UInt16, type: UInt8, present: Bool, dpl: UInt8,
                db: Bool, s: Bool, l: Bool, granularity: Bool, avl: Bool) {
        self.base = base
        self.limit = limit
        self.selector = selector
        self.type = type
        self.present = present
        self.dpl = dpl
        self.db = db
        self.s = s
        self.l = l
        self.granularity = granularity
        self.avl = avl
    }

    /// Decodes an 8-byte legacy-format GDT descriptor.
    public init(descriptor: UInt64, selector: UInt16) {
        let access = UInt8(truncatingIfNeeded: descriptor >> 40)
        let flags = UInt8(truncatingIfNeeded: descriptor >> 52) & 0xF
        let rawLimit = UInt32(truncatingIfNeeded: descriptor & 0xFFFF) | UInt32(truncatingIfNeeded: (descriptor >> 48) & 0xF) << 16
        granularity = flags & 0x8 != 0
        db = flags & 0x4 != 0
        l = flags & 0x2 != 0
        avl = flags & 0x1 != 0
        limit = granularity ? rawLimit << 12 | 0xFFF : rawLimit
        base = (descriptor >> 16) & 0xFF_FFFF | ((descriptor >> 56) & 0xFF) << 24
        self.selector = selector
        type = access & 0xF
        s = access & 0x10 != 0
        dpl = (access >> 5) & 0x3
        present = access & 0x80 != 0
    }
}

/// The 64-bit boot environment lkvm builds instead of running a BIOS and the
/// kernel's 16-bit setup code: identity-mapped 4 GiB, a GDT with the selectors
/// the 64-bit boot protocol requires, and fixed spots for the zero page,
/// command line and MP table. All of it lives below 1 MiB, away from the kernel.
public enum LongModeLayout {
    public static let gdtAddress = GuestAddress(0x500)
    public static let zeroPageAddress = GuestAddress(0x7000)
    public static let pml4Address = GuestAddress(0x9000)
    public static let pdptAddress = GuestAddress(0xA000)
    /// Four page directories, 0xB000-0xEFFF, one per GiB.
    public static let pageDirectoriesAddress = GuestAddress(0xB000)
    public static let commandLineAddress = GuestAddress(0x20000)
    public static let mpTableAddress = GuestAddress(0x9FC00)
    /// Extent of the identity map.
    public static let identityMappedSize: UInt64 = 4 << 30

    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let pageSize2M: UInt64 = 1 << 7

    /// GDT entries, by index: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18), TSS (0x20).
    public static let gdtEntries: [UInt64] = [
        0,
        0,
        0x00AF_9B00_0000_FFFF,  // 64-bit code, DPL 0, execute/read, accessed, 4 GiB
        0x00CF_9300_0000_FFFF,  // data, DPL 0, read/write, accessed, 4 GiB
        0x008F_8B00_0000_FFFF,  // busy TSS; KVM needs a valid TR, the kernel replaces it
        0,  // upper half of the TSS: long-mode system descriptors are 16 bytes
    ]
    public static let codeSelector: UInt16 = 0x10
    public static let dataSelector: UInt16 = 0x18
    public static let tssSelector: UInt16 = 0x20

    // Control-register values for 64-bit mode with paging.
    public static let cr0: UInt64 = 1 << 0 | 1 << 4 | 1 << 31  // PE | ET | PG
    public static let cr4: UInt64 = 1 << 5  // PAE
    public static let efer: UInt64 = 1 << 8 | 1 << 10  // LME | LMA

    /// What the vCPU needs to start in the environment `write` built.
    public struct CPUState: Sendable, Equatable {
        public let cr3: UInt64
        public let cr0: UInt64
        public let cr4: UInt64
        public let efer: UInt64
        public let gdtBase: UInt64
        public let gdtLimit: UInt16
        public let code: SegmentDescriptor
        /// For DS, ES, SS, FS and GS.
        public let data: SegmentDescriptor
        public let tss: SegmentDescriptor
    }

    /// The bytes of the PML4, PDPT and four page directories, contiguous from 0x9000.
    public static func pageTables() -> [UInt8] {
        var tables = [UInt8](repeating: 0, count: 6 * 4096)
        LittleEndian.put(pdptAddress.raw | present | writable, into: &tables, at: 0)
        for directory in 0..<4 {
            let directoryAddress = pageDirectoriesAddress.raw + UInt64(directory) * 4096
            LittleEndian.put(directoryAddress | present | writable, into: &tables, at: 4096 + directory * 8)
            for entry in 0..<512 {
                let physical = UInt64(directory * 512 + entry) << 21
                LittleEndian.put(physical | present | writable | pageSize2M,
                                 into: &tables, at: (2 + directory) * 4096 + entry * 8)
            }
        }
        return tables
    }

    public static func gdt() -> [UInt8] {
        gdtEntries.flatMap { LittleEndian.bytes($0) }
    }

    /// Writes the page tables and the GDT into guest memory and returns the
    /// register values that make the vCPU use them.
    public static func write(into memory: GuestMemory) throws(BootError) -> CPUState {
        do {
            try memory.write(pageTables(), at: pml4Address)
            try memory.write(gdt(), at: gdtAddress)
        } catch {
            throw .guestMemory(error)
        }
        return cpuState
    }

    public static var cpuState: CPUState {
        CPUState(cr3: pml4Address.raw, cr0: cr0, cr4: cr4, efer: efer,
                 gdtBase: gdtAddress.raw, gdtLimit: UInt16(gdtEntries.count * 8 - 1),
                 code: SegmentDescriptor(descriptor: gdtEntries[2], selector: codeSelector),
                 data: SegmentDescriptor(descriptor: gdtEntries[3], selector: dataSelector),
                 tss: SegmentDescriptor(descriptor: gdtEntries[4], selector: tssSelector))
    }
}
