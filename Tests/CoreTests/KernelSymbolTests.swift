import Glibc
import LKVMCore
import XCTest

final class KernelSymbolTests: XCTestCase {
    private let systemMap = """
        ffffffff81000000 T _text
        ffffffff81000000 T startup_64
        ffffffff81001000 t __startup_secondary
        ffffffff81e5a3a0 T default_idle
        ffffffff81e5a3c0 T default_idle_call
        ffffffff82000000 T entry_SYSCALL_64
        ffffffff82a00000 D some_data
        ffffffff82a00010 B some_bss
        garbage line
        ffffffffzzzz T bad_address
        """

    func testSystemMapKeepsTextSymbolsOnly() {
        let table = SystemMap.parse(systemMap)
        XCTAssertEqual(table.symbols.map(\.name),
                       ["startup_64", "_text", "__startup_secondary", "default_idle", "default_idle_call", "entry_SYSCALL_64"])
        XCTAssertEqual(table.address(of: "entry_SYSCALL_64"), 0xffffffff82000000)
        XCTAssertNil(table.address(of: "some_data"))
    }

    func testLookupNamesTheSymbolBelowAndItsOffset() {
        let table = SystemMap.parse(systemMap)
        XCTAssertEqual(table.describe(0xffffffff81e5a3b4), "default_idle+0x14")
        XCTAssertEqual(table.describe(0xffffffff81e5a3c0), "default_idle_call+0x0")
        XCTAssertNil(table.describe(0xffffffff80ffffff), "below the kernel")
        XCTAssertNil(table.describe(0x7f12_3456_7000), "user space")
        XCTAssertEqual(table.describe(0xffffffff82000010), "entry_SYSCALL_64+0x10")
        XCTAssertNil(table.describe(0xffffffff82000000 + (1 << 20)), "far past the last unsized symbol")
    }

    func testSizedSymbolsStopAtTheirEnd() {
        let table = KernelSymbolTable(symbols: [
            KernelSymbol(name: "f", address: 0x1000, size: 0x20),
            KernelSymbol(name: "g", address: 0x2000, size: 0x10),
        ])
        XCTAssertEqual(table.describe(0x101f), "f+0x1f/0x20")
        XCTAssertNil(table.describe(0x1020), "a gap between functions")
    }

    func testAliasesPreferThePlainName() {
        let table = KernelSymbolTable(symbols: [
            KernelSymbol(name: "__pfx_f", address: 0x1000), KernelSymbol(name: "f", address: 0x1000),
        ])
        XCTAssertEqual(table.describe(0x1004), "f+0x4")
    }

    func testKASLRSlideFromTheAnchorRegister() {
        let table = SystemMap.parse(systemMap)
        let slide: UInt64 = 0x1c00_0000
        let state = VCPUDebugState(instructionPointer: 0xffffffff81e5a3b4 + slide,
                                   anchorSymbol: "entry_SYSCALL_64", anchorValue: 0xffffffff82000000 + slide)
        XCTAssertEqual(KernelLocation.describe(state, symbols: table),
                       "ip 0xffffffff9de5a3b4 = default_idle+0x14 (KASLR slide 0x1c000000)")
        let early = VCPUDebugState(instructionPointer: 0xffffffff81000010, anchorSymbol: "entry_SYSCALL_64", anchorValue: 0)
        XCTAssertEqual(KernelLocation.describe(early, symbols: table), "ip 0xffffffff81000010 = startup_64+0x10")
        XCTAssertTrue(KernelLocation.describe(early, symbols: nil).contains("no kernel symbols"))
        let user = VCPUDebugState(instructionPointer: 0x401000, anchorSymbol: "entry_SYSCALL_64", anchorValue: 0)
        XCTAssertEqual(KernelLocation.describe(user, symbols: table), "ip 0x401000 (not in the kernel's text)")
    }

    /// /proc/kallsyms of another boot of the same kernel: tabs and module
    /// columns, addresses with that boot's slide, which may sit above ours.
    func testKallsymsFromAnotherBootUndoesEitherSlide() {
        let kallsyms = """
            ffffffffae000000 T _text
            ffffffffaee5a3a0 T default_idle
            ffffffffaf000000 T entry_SYSCALL_64
            ffffffffc0a01000 t kvm_init\t[kvm]
            0000000000000000 T hidden_by_kptr_restrict
            """
        let table = SystemMap.parse(kallsyms)
        XCTAssertEqual(table.symbols.map(\.name), ["_text", "default_idle", "entry_SYSCALL_64"])
        // This boot sits 0x3000000 below the table's: a negative slide.
        let below = VCPUDebugState(instructionPointer: 0xffffffffabe5a3b4, anchorSymbol: "entry_SYSCALL_64",
                                   anchorValue: 0xffffffffac000000)
        XCTAssertEqual(KernelLocation.describe(below, symbols: table),
                       "ip 0xffffffffabe5a3b4 = default_idle+0x14 (KASLR slide -0x3000000 from the symbols' addresses)")
        let same = VCPUDebugState(instructionPointer: 0xffffffffaee5a3b4, anchorSymbol: "entry_SYSCALL_64",
                                  anchorValue: 0xffffffffaf000000)
        XCTAssertEqual(KernelLocation.describe(same, symbols: table), "ip 0xffffffffaee5a3b4 = default_idle+0x14")
    }

    /// Debian ships a one-line placeholder System.map: say so, not "not ELF".
    func testDebianPlaceholderSystemMapIsExplained() throws {
        let path = NSTemporaryPath.write("placeholder",
                                         "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n")
        defer { unlink(path) }
        XCTAssertThrowsError(try KernelSymbolFiles.load(path: path)) { error in
            XCTAssertEqual(error as? KernelSymbolError, .noTextSymbols(path: path))
            XCTAssertTrue("\(error)".contains("-dbg"))
        }
    }

    func testCandidatesFollowBuildTreesAndDebianLayouts() {
        XCTAssertEqual(KernelSymbolFiles.candidates(kernelPath: "/src/linux/arch/x86/boot/bzImage"),
                       ["/src/linux/arch/x86/boot/System.map", "/src/linux/arch/x86/boot/vmlinux",
                        "/src/linux/System.map", "/src/linux/vmlinux"])
        XCTAssertEqual(KernelSymbolFiles.candidates(kernelPath: "/boot/vmlinuz-6.1.0-28-amd64").prefix(2),
                       ["/boot/System.map-6.1.0-28-amd64", "/usr/lib/debug/boot/vmlinux-6.1.0-28-amd64"])
        XCTAssertEqual(KernelSymbolFiles.candidates(kernelPath: "Image"), ["./System.map", "./vmlinux"])
    }

    /// libelf on a real ELF file: the test binary itself has function symbols.
    func testELFReaderReadsFunctionSymbols() throws {
        let table = try KernelSymbolFiles.load(path: "/proc/self/exe")
        XCTAssertFalse(table.isEmpty)
        XCTAssertNotNil(table.symbols.first { $0.name == "main" || $0.name.contains("KernelSymbolTests") })
        XCTAssertTrue(table.symbols.allSatisfy { $0.size != nil })
    }

    func testUnreadableAndForeignFilesAreNamed() throws {
        XCTAssertThrowsError(try KernelSymbolFiles.load(path: "/nonexistent/System.map")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/System.map"))
        }
        let path = NSTemporaryPath.write("not-symbols", "hello\nworld\n")
        defer { unlink(path) }
        XCTAssertThrowsError(try KernelSymbolFiles.load(path: path)) { error in
            XCTAssertEqual(error as? KernelSymbolError, .notELF(path: path))
        }
    }
}

/// A unique path under /tmp for one test.
enum NSTemporaryPath {
    static func make(_ stem: String) -> String { "/tmp/lkvm-test-\(stem)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    /// A new file holding `text`; the caller unlinks it.
    static func write(_ stem: String, _ text: String) -> String {
        let path = make(stem)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        return path
    }
}
