import Foundation
import LKVMTestSupport

/// The malformed-input catalogue of the `lkvm` binary (issue 6): every case
/// names its input and a fragment of the one error line lkvm must answer
/// with. MalformedInputCatalogTests runs them all; docs/malformed-inputs.md
/// lists them. The guest-side half (virtqueues, virtio-blk requests, 9p) is
/// MalformedGuestInputCatalog in DevicesTests.
struct MalformedCLICase: Sendable {
    enum Group: String, CaseIterable, Sendable {
        case bzImage = "x86 bzImage kernel"
        case arm64Image = "arm64 Image kernel (--arch arm64 --dump-dtb)"
        case board = "board file"
        case disk = "disk image (-d)"
        case option = "options"
    }

    let group: Group
    let name: String
    /// The arguments after `lkvm`, built in the case's workspace.
    let arguments: @Sendable (MalformedInputWorkspace) throws -> [String]
    /// Every fragment must appear in the error line.
    let expected: [String]
    /// Run as an unprivileged user (uid 65534) when the tests run as root.
    var unprivileged = false
}

/// Files of one case: a scratch directory holding the inputs, which the
/// runner hashes before and after lkvm runs.
final class MalformedInputWorkspace {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-malformed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o755)  // reachable by the unprivileged cases
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func file(_ name: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        chmod(url.path, mode)
        return url.path
    }

    func text(_ name: String, _ text: String) throws -> String { try file(name, Array(text.utf8)) }

    func directory(_ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    // MARK: kernels

    /// A tiny bzImage (TinyBzImage) whose guest resets at once: valid, so a
    /// case breaks exactly one thing in it.
    static let tinyKernel = TinyBzImage.build(code: Asm64.resetThroughI8042 + Asm64.hltLoop)

    /// A vmlinux-shaped ELF (one code segment at 16 MiB holding the entry) for
    /// `machine`, cut to `length` bytes when given.
    static func tinyVmlinux(machine: UInt16 = 62, cutTo length: Int? = nil) -> [UInt8] {
        var vmlinux = TinyVmlinux(code: Asm64.resetThroughI8042 + Asm64.hltLoop)
        vmlinux.machine = machine
        let file = vmlinux.encoded()
        return length.map { Array(file.prefix($0)) } ?? file
    }

    func kernel() throws -> String { try file("bzImage", Self.tinyKernel) }

    /// The tiny bzImage with `value` written little-endian at `offset`.
    func kernel<T: FixedWidthInteger>(patching offset: Int, _ value: T) throws -> String {
        var bytes = Self.tinyKernel
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        return try file("bzImage-\(offset)-\(value)", bytes)
    }

    func kernel(truncatedTo length: Int) throws -> String {
        try file("bzImage-\(length)", Array(Self.tinyKernel.prefix(length)))
    }

    /// Debian's arm64 Image header (first 4 KiB), zero padded to 4 MiB.
    static let arm64Image: [UInt8] = {
        let head = BadInputTests.repo.appendingPathComponent(
            "Tests/ARM64Tests/Fixtures/debian-6.1.0-57-cloud-arm64-image-first-4k.bin")
        let bytes = (try? [UInt8](Data(contentsOf: head))) ?? []
        return bytes + [UInt8](repeating: 0, count: max(0, (4 << 20) - bytes.count))
    }()

    /// `lkvm run --arch arm64 --board virt --dump-dtb OUT -k IMAGE`: the
    /// arm64 path up to the device tree, on any host.
    func arm64Run(image: [UInt8], board: String = "virt", _ extra: [String] = []) throws -> [String] {
        ["run", "--arch", "arm64", "--board", board, "--dump-dtb", directory.appendingPathComponent("out.dtb").path,
         "-k", try file("Image", image)] + extra
    }

    static func arm64Image<T: FixedWidthInteger>(patching offset: Int, _ value: T) -> [UInt8] {
        var bytes = arm64Image
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        return bytes
    }

    // MARK: boards

    static func board(_ name: String) -> String {
        (try? String(contentsOf: BadInputTests.repo.appendingPathComponent("Boards/\(name).toml"), encoding: .utf8)) ?? ""
    }

    /// Boards/pc.toml with one edit, run with the tiny kernel.
    func pcBoard(_ name: String, replacing old: String, with new: String) throws -> [String] {
        let text = Self.board("pc")
        guard text.contains(old) else { throw CatalogError("Boards/pc.toml no longer contains '\(old)'") }
        return ["run", "-k", try kernel(), "--board", try self.text(name, text.replacingOccurrences(of: old, with: new))]
    }

    /// Boards/virt.toml with one edit, through --dump-dtb.
    func virtBoard(_ name: String, replacing old: String, with new: String) throws -> [String] {
        let text = Self.board("virt")
        guard text.contains(old) else { throw CatalogError("Boards/virt.toml no longer contains '\(old)'") }
        return try arm64Run(image: Self.arm64Image, board: try self.text(name, text.replacingOccurrences(of: old, with: new)))
    }
}

struct CatalogError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension MalformedCLICase {
    /// setup header offsets (Documentation/arch/x86/boot.rst)
    private enum Hdr {
        static let setupSects = 0x1F1, sysSize = 0x1F4, bootFlag = 0x1FE, jump = 0x200, magic = 0x202
        static let version = 0x206, loadFlags = 0x211, kernelAlignment = 0x230, relocatable = 0x234
        static let xloadFlags = 0x236, cmdlineSize = 0x238, prefAddress = 0x258, initSize = 0x260
    }

    private static func bz(_ name: String, _ expected: [String],
                           _ arguments: @escaping @Sendable (MalformedInputWorkspace) throws -> [String]) -> MalformedCLICase {
        MalformedCLICase(group: .bzImage, name: name, arguments: arguments, expected: expected)
    }

    private static func arm(_ name: String, _ expected: [String],
                            _ arguments: @escaping @Sendable (MalformedInputWorkspace) throws -> [String]) -> MalformedCLICase {
        MalformedCLICase(group: .arm64Image, name: name, arguments: arguments, expected: expected)
    }

    private static func board(_ name: String, _ expected: [String],
                              _ arguments: @escaping @Sendable (MalformedInputWorkspace) throws -> [String]) -> MalformedCLICase {
        MalformedCLICase(group: .board, name: name, arguments: arguments, expected: expected)
    }

    private static func disk(_ name: String, _ expected: [String], unprivileged: Bool = false,
                             _ arguments: @escaping @Sendable (MalformedInputWorkspace) throws -> [String]) -> MalformedCLICase {
        MalformedCLICase(group: .disk, name: name, arguments: arguments, expected: expected, unprivileged: unprivileged)
    }

    private static func option(_ name: String, _ expected: [String], unprivileged: Bool = false,
                               _ arguments: @escaping @Sendable (MalformedInputWorkspace) throws -> [String]) -> MalformedCLICase {
        MalformedCLICase(group: .option, name: name, arguments: arguments, expected: expected, unprivileged: unprivileged)
    }

    /// The tiny kernel plus `extra`.
    private static func run(_ extra: [String]) -> @Sendable (MalformedInputWorkspace) throws -> [String] {
        { workspace in ["run", "-k", try workspace.kernel()] + extra }
    }

    /// The setup header's boundaries: the file cut just before each field
    /// lkvm reads, or inside the setup code or payload.
    static let truncations: [(length: Int, expected: [String])] = [
        (1, ["truncated: 1 bytes", "boot flag at 0x1fe"]),
        (0x1FE, ["truncated: 510 bytes", "boot flag at 0x1fe"]),
        (0x200, ["truncated: 512 bytes", "\"HdrS\" magic at 0x202"]),
        (0x205, ["truncated: 517 bytes", "\"HdrS\" magic at 0x202"]),
        (0x207, ["truncated: 519 bytes", "protocol version at 0x206"]),
        (0x211, ["truncated: 529 bytes", "setup header (up to 0x268)"]),
        (0x263, ["truncated: 611 bytes", "setup header (up to 0x268)"]),
        (0x268, ["truncated", "setup code takes 1024 bytes but the file has only 616"]),
        (0x400, ["truncated", "payload is 528 bytes but only 0 follow"]),
        (0x60F, ["truncated", "payload is 528 bytes but only 527 follow"]),
    ]

    static let all: [MalformedCLICase] = bzImageCases + arm64Cases + boardCases + diskCases + optionCases

    static let bzImageCases: [MalformedCLICase] = [
        bz("empty kernel file", ["is empty"]) { ["run", "-k", try $0.file("empty", [])] },
        bz("kernel file missing", ["No such file"]) { ["run", "-k", $0.directory.appendingPathComponent("none").path] },
        bz("kernel is a directory", ["Is a directory"]) { ["run", "-k", try $0.directory("kdir")] },
        bz("kernel is a character device", ["not a regular file"]) { _ in ["run", "-k", "/dev/null"] },
    ] + truncations.map { cut in
        bz("bzImage truncated at 0x\(String(cut.length, radix: 16))", cut.expected) {
            ["run", "-k", try $0.kernel(truncatedTo: cut.length)]
        }
    } + [
        bz("boot flag 0x55aa instead of 0xaa55", ["boot flag at 0x1fe is 0x55aa"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.bootFlag, UInt16(0x55AA))]
        },
        bz("no HdrS magic", ["no \"HdrS\" magic"]) { ["run", "-k", try $0.kernel(patching: Hdr.magic, UInt32(0x1234_5678))] },
        bz("ELF file that is no kernel (a program)", ["vmlinux is not an executable (ELF type 3"]) { _ in
            ["run", "-k", "/bin/true"]
        },
        bz("vmlinux for another machine (arm64)", ["vmlinux is not an x86-64 kernel (ELF machine 183"]) {
            ["run", "-k", try $0.file("vmlinux-arm64", MalformedInputWorkspace.tinyVmlinux(machine: 183))]
        },
        bz("vmlinux truncated in its program headers", ["vmlinux is truncated: 100 bytes", "program headers"]) {
            ["run", "-k", try $0.file("vmlinux-100", MalformedInputWorkspace.tinyVmlinux(cutTo: 100))]
        },
        bz("vmlinux truncated in its code segment", ["vmlinux is truncated: segment 0 ends at byte"]) {
            ["run", "-k", try $0.file("vmlinux-124", MalformedInputWorkspace.tinyVmlinux(cutTo: 124))]
        },
        bz("gzip file", ["gzip"]) { ["run", "-k", try $0.file("k.gz", [0x1F, 0x8B, 0x08, 0] + [UInt8](repeating: 0, count: 4096))] },
        bz("boot protocol 2.00", ["2.00 is too old"]) { ["run", "-k", try $0.kernel(patching: Hdr.version, UInt16(0x0200))] },
        bz("setup header shorter than init_size", ["ends at 0x212, before init_size"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.jump + 1, UInt8(0x10))]
        },
        bz("setup header longer than the zero page allows", ["ends at 0x301, past the zero page"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.jump + 1, UInt8(0xFF))]
        },
        bz("LOADED_HIGH clear (zImage)", ["zImage"]) { ["run", "-k", try $0.kernel(patching: Hdr.loadFlags, UInt8(0))] },
        bz("XLF_KERNEL_64 clear (32-bit kernel)", ["no 64-bit entry point"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.xloadFlags, UInt16(0))]
        },
        bz("setup_sects 255 beyond the file", ["setup code takes 131072 bytes"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.setupSects, UInt8(255))]
        },
        bz("syssize 0", ["no protected-mode payload"]) { ["run", "-k", try $0.kernel(patching: Hdr.sysSize, UInt32(0))] },
        bz("syssize 0xffffffff", ["syssize says the payload is 68719476720 bytes"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.sysSize, UInt32.max)]
        },
        bz("init_size 0xffffffff", ["needs 4096 MiB", "init_size", "guest RAM ends at 0x10000000"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.initSize, UInt32.max)]
        },
        bz("pref_address in the PCI hole", ["0xc0000000", "pref_address", "no guest RAM there"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.prefAddress, UInt64(0xC000_0000))]
        },
        bz("pref_address 0xffffffffffffffff", ["0xffffffffffffffff", "pref_address"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.prefAddress, UInt64.max)]
        },
        bz("kernel_alignment 0", ["kernel_alignment 0x0 is not a power of two"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.kernelAlignment, UInt32(0))]
        },
        bz("kernel_alignment 3", ["kernel_alignment 0x3 is not a power of two"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.kernelAlignment, UInt32(3))]
        },
        bz("kernel_alignment 2 GiB", ["0x80000000", "pref_address"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.kernelAlignment, UInt32(0x8000_0000))]
        },
        bz("cmdline_size 0", ["accepts at most 0 (cmdline_size)"]) {
            ["run", "-k", try $0.kernel(patching: Hdr.cmdlineSize, UInt32(0))]
        },
    ]

    static let arm64Cases: [MalformedCLICase] = [
        arm("empty Image", ["is empty"]) { try $0.arm64Run(image: []) },
        arm("Image truncated in text_offset", ["truncated: 8 bytes", "text_offset needs 16"]) {
            try $0.arm64Run(image: Array(MalformedInputWorkspace.arm64Image.prefix(8)))
        },
        arm("Image truncated before the magic", ["truncated: 56 bytes", "magic needs 60"]) {
            try $0.arm64Run(image: Array(MalformedInputWorkspace.arm64Image.prefix(56)))
        },
        arm("Image truncated inside the header (60 of 64 bytes)", ["truncated: 60 bytes", "PE header offset needs 64"]) {
            try $0.arm64Run(image: Array(MalformedInputWorkspace.arm64Image.prefix(60)))
        },
        arm("wrong magic", ["magic at offset 56 is 0x58585858"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 56, UInt32(0x5858_5858)))
        },
        arm("big-endian Image", ["big-endian"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 24, UInt64(0xB)))
        },
        arm("gzip-compressed Image (vmlinuz)", ["gzip-compressed", "zcat"]) {
            try $0.arm64Run(image: [0x1F, 0x8B, 0x08, 0] + [UInt8](repeating: 0, count: 4096))
        },
        arm("EFI zboot image", ["EFI zboot"]) {
            try $0.arm64Run(image: Array("MZ\0\0zimg".utf8) + [UInt8](repeating: 0, count: 4096))
        },
        arm("x86 bzImage given to arm64", ["x86 bzImage"]) { try $0.arm64Run(image: MalformedInputWorkspace.tinyKernel) },
        arm("image_size below the file size", ["image_size 0x10", "smaller than the file"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 16, UInt64(0x10)))
        },
        arm("image_size 2^64-256", ["0xffffffffffffff00", "image_size"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 16, UInt64.max - 0xFF))
        },
        arm("text_offset not 4 KiB aligned", ["text_offset 0x1234"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 8, UInt64(0x1234)))
        },
        arm("text_offset 2^64-4096", ["text_offset 0xfffffffffffff000"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image(patching: 8, UInt64.max - 0xFFF))
        },
    ]

    static let boardCases: [MalformedCLICase] = [
        board("x86: virtio-mmio window overlapping the PCI window", ["virtio_mmio", "overlaps pci.mmio32"]) {
            try $0.pcBoard("overlap.toml", replacing: "base = 0xF0000000", with: "base = 0xDFFF0000")
        },
        board("x86: two devices on one port range", ["devices[2].port", "overlaps devices[0].port"]) {
            try $0.pcBoard("ports.toml", replacing: "port = 0x70", with: "port = 0x3FE")
        },
        board("x86: ECAM not 1 MiB aligned", ["pci.ecam.base", "not a multiple of 1 MiB"]) {
            try $0.pcBoard("ecam.toml", replacing: "ecam = { base = 0xE0000000", with: "ecam = { base = 0xE0080000")
        },
        board("x86: RAM hole not page aligned", ["ram.holes[0].base", "4 KiB"]) {
            try $0.pcBoard("hole.toml", replacing: "{ base = 0xC0000000, size = 0x40000000 }",
                           with: "{ base = 0xC0000800, size = 0x40000000 }")
        },
        board("x86: missing key", ["ram.default_mib", "missing required key"]) {
            try $0.pcBoard("missing.toml", replacing: "default_mib = 256\n", with: "")
        },
        board("x86: unknown key", ["interrupt_controller.pins", "unknown key"]) {
            try $0.pcBoard("unknown.toml", replacing: "lines = 24", with: "lines = 24\npins = 24")
        },
        board("x86: string where an integer belongs", ["devices[0].port", "expected an integer, found a string"]) {
            try $0.pcBoard("type.toml", replacing: "port = 0x3F8", with: "port = \"0x3F8\"")
        },
        board("x86: float where an integer belongs", ["virtio_mmio.count", "floating-point"]) {
            try $0.pcBoard("float.toml", replacing: "count = 6", with: "count = 6.5")
        },
        board("x86: more vCPUs than the IOAPIC/xAPIC can address", ["cpus.max", "300 exceeds the 254 vCPUs"]) {
            try $0.pcBoard("cpus.toml", replacing: "max = 254", with: "max = 300")
        },
        board("x86: IRQ beyond the IOAPIC's pins", ["devices[0].irq", "40 is out of range 0..<24"]) {
            try $0.pcBoard("irq.toml", replacing: "irq = 4", with: "irq = 40")
        },
        board("x86: negative IRQ", ["devices[0].irq", "must not be negative"]) {
            try $0.pcBoard("negative.toml", replacing: "irq = 4", with: "irq = -4")
        },
        board("x86: virtio-mmio stride 0", ["virtio_mmio.stride", "power of two"]) {
            try $0.pcBoard("stride.toml", replacing: "stride = 0x1000", with: "stride = 0")
        },
        board("x86: absurd virtio-mmio slot count", ["virtio_mmio.count", "too large"]) {
            try $0.pcBoard("count.toml", replacing: "count = 6", with: "count = 100000000")
        },
        board("x86: number beyond 64 bits", ["TOML syntax error", "not representable in 64 bits"]) {
            try $0.pcBoard("huge.toml", replacing: "base = 0xF0000000", with: "base = 99999999999999999999999")
        },
        board("x86: TOML syntax error", ["syntax.toml:", "TOML syntax error"]) {
            try $0.pcBoard("syntax.toml", replacing: "[cpus]", with: "[cpus")
        },
        board("x86: duplicate key", ["cannot redefine"]) {
            try $0.pcBoard("duplicate.toml", replacing: "name = \"pc\"", with: "name = \"pc\"\nname = \"pc2\"")
        },
        board("empty board file", ["empty.toml", "name: missing required key"]) {
            ["run", "-k", try $0.kernel(), "--board", try $0.text("empty.toml", "")]
        },
        board("board file missing", ["cannot open board file", "No such file"]) {
            ["run", "-k", try $0.kernel(), "--board", $0.directory.appendingPathComponent("none.toml").path]
        },
        board("board is a directory", ["cannot open board file", "Is a directory"]) {
            ["run", "-k", try $0.kernel(), "--board", try $0.directory("boards")]
        },
        board("unknown board name", ["nosuchboard", "pc"]) { ["run", "-k", try $0.kernel(), "--board", "nosuchboard"] },
        board("arm64 board for an x86 guest", ["board 'virt' is for arm64"]) { ["run", "-k", try $0.kernel(), "--board", "virt"] },
        board("arm64: PL011 on top of the GIC distributor", ["devices[0].address", "overlaps interrupt_controller.distributor"]) {
            try $0.virtBoard("gic-overlap.toml", replacing: "address = 0x09000000", with: "address = 0x08000000")
        },
        board("arm64: redistributors not 64 KiB aligned", ["redistributors.base", "64 KiB"]) {
            try $0.virtBoard("redist.toml", replacing: "redistributors = { base = 0x080A0000",
                             with: "redistributors = { base = 0x080A1000")
        },
        board("arm64: more vCPUs than the redistributors hold", ["cpus.max", "200 exceeds the 123 vCPUs the gicv3"]) {
            try $0.virtBoard("gic-cpus.toml", replacing: "max = 123", with: "max = 200")
        },
        board("arm64: -c beyond the board's GIC", ["124 vCPUs requested", "at most 123"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image, ["-c", "124"])
        },
        board("arm64: SPI beyond the GIC", ["devices[1].irq", "96 is out of range 0..<96"]) {
            try $0.virtBoard("spi.toml", replacing: "irq = 2", with: "irq = 96")
        },
        board("arm64: unknown key", ["interrupt_controller.flavour", "unknown key"]) {
            try $0.virtBoard("arm-unknown.toml", replacing: "spis = 96", with: "spis = 96\nflavour = 1")
        },
        board("arm64: array where an integer belongs", ["devices[0].address", "found an array"]) {
            try $0.virtBoard("arm-type.toml", replacing: "address = 0x09000000", with: "address = [1]")
        },
        board("arm64: RAM above the 40-bit IPA limit", ["40-bit IPA limit"]) {
            try $0.virtBoard("ipa.toml", replacing: "base = 0x40000000\n", with: "base = 0x40000000000000\n")
        },
        board("x86 board for an arm64 guest", ["board 'pc' is for x86_64"]) {
            try $0.arm64Run(image: MalformedInputWorkspace.arm64Image, board: "pc")
        },
    ]

    static let diskCases: [MalformedCLICase] = [
        disk("disk image missing", ["No such file"]) { ws in
            try run(["-d", ws.directory.appendingPathComponent("none.img").path])(ws)
        },
        disk("disk image is a directory", ["Is a directory"]) { ws in try run(["-d", try ws.directory("disk.d")])(ws) },
        disk("disk image of zero bytes", ["holds no whole 512-byte sector"]) { ws in
            try run(["-d", try ws.file("zero.img", [])])(ws)
        },
        disk("disk image is a character device", ["not a regular file"]) { ws in try run(["-d", "/dev/null"])(ws) },
        disk("unknown disk option", ["sideways"]) { ws in
            try run(["-d", try ws.file("disk.img", [UInt8](repeating: 0, count: 4096)) + ",sideways"])(ws)
        },
        disk("no disk path", ["needs an image file"]) { ws in try run(["-d", ",ro"])(ws) },
        disk("unreadable disk image (mode 0600, other user)", ["Permission denied"], unprivileged: true) { ws in
            try run(["-d", try ws.file("private.img", [UInt8](repeating: 1, count: 4096), mode: 0o600)])(ws)
        },
        disk("read-only disk image opened read-write", ["Permission denied", "add ,ro"], unprivileged: true) { ws in
            try run(["-d", try ws.file("readonly.img", [UInt8](repeating: 2, count: 4096), mode: 0o444)])(ws)
        },
    ]

    static let optionCases: [MalformedCLICase] = [
        option("-m 0", ["-m 0"], run(["-m", "0"])),
        option("-m below the board's minimum", ["8 MiB", "minimum of 64 MiB"], run(["-m", "8"])),
        option("-m 4 TiB (more than the host)", ["-m 4194304", "more guest RAM than this host has"], run(["-m", "4194304"])),
        option("-m beyond 64 bits", ["18446744073709551616"], run(["-m", "18446744073709551616"])),
        option("-m not a number", ["lots"], run(["-m", "lots"])),
        option("-c 0", ["-c 0"], run(["-c", "0"])),
        option("-c -3", ["-3"], run(["--cpus=-3"])),
        option("-c 10000", ["10000 vCPUs requested", "at most 254"], run(["-c", "10000"])),
        option("bad MAC address", ["'zz:zz' is not a unicast MAC"], run(["-n", "mode=user,guest_mac=zz:zz"])),
        option("multicast MAC address", ["is not a unicast MAC"], run(["-n", "mode=user,guest_mac=01:00:00:00:00:01"])),
        option("hostfwd host port out of range", ["host port must be a number from 1 to 65535"],
               run(["-n", "mode=user,hostfwd=tcp:99999-:22"])),
        option("hostfwd guest port 0", ["guest port must be a number from 1 to 65535"],
               run(["-n", "mode=user,hostfwd=tcp:8080-:0"])),
        option("hostfwd not tcp:H-:G", ["expected tcp:HOSTPORT-:GUESTPORT"], run(["-n", "mode=user,hostfwd=udp:x"])),
        option("unknown network mode", ["unknown mode 'carrier-pigeon'"], run(["-n", "mode=carrier-pigeon"])),
        option("tap without tapif", ["needs tapif=NAME"], run(["-n", "mode=tap"])),
        option("--9p on a file", ["cannot share", "Not a directory"], run(["--9p", "/etc/passwd"])),
        option("--9p directory missing", ["cannot share", "No such file"], run(["--9p", "/nonexistent/share"])),
        option("--9p empty tag", ["the tag must be 1 to 64 printable ASCII characters"], run(["--9p", "/tmp,"])),
        option("--9p tag too long", ["the tag must be 1 to 64"], run(["--9p", "/tmp," + String(repeating: "t", count: 65)])),
        option("--9p directory the user may not read", ["cannot share", "Permission denied"], unprivileged: true) { ws in
            let private_ = try ws.directory("private-share")
            chmod(private_, 0o700)
            return try run(["--9p", private_])(ws)
        },
        option("--trace-virtio unknown name", ["no virtio device is called 'toaster'"], run(["--trace-virtio", "blk,toaster"])),
        option("--trace-virtio empty", ["an empty device name"], run(["--trace-virtio", ""])),
        option("--arch unknown", ["sparc"], run(["--arch", "sparc"])),
        option("--console unknown", ["telegraph"], run(["--console", "telegraph"])),
        option("--virtio-transport unknown", ["smoke-signals"], run(["--virtio-transport", "smoke-signals"])),
        option("--name with a space", ["--name", "two words"], run(["--name", "two words"])),
        option("unknown option", ["frobnicate"], run(["--frobnicate"])),
        option("no kernel", ["kernel"]) { _ in ["run"] },
        option("initrd missing", ["initrd", "No such file"]) { ws in
            try run(["-i", ws.directory.appendingPathComponent("none.cpio").path])(ws)
        },
        option("initrd is a directory", ["initrd", "Is a directory"]) { ws in try run(["-i", try ws.directory("initrd.d")])(ws) },
        option("initrd larger than RAM", ["initrd of 80 MiB does not fit"]) { ws in
            try run(["-m", "64", "-i", try ws.file("big.cpio", [UInt8](repeating: 7, count: 80 << 20))])(ws)
        },
        option("command line longer than cmdline_size", ["accepts at most 2047 (cmdline_size)"],
               run(["-p", String(repeating: "x", count: 5000)])),
        option("--dump-dtb on an x86 board", ["device tree"]) { ws in
            try run(["--dump-dtb", ws.directory.appendingPathComponent("x.dtb").path])(ws)
        },
    ]
}
