import XCTest
@testable import LKVMCore

/// Errors a board file gets before its values mean anything: syntax, keys, types.
final class BoardSyntaxAndTypeTests: XCTestCase {
    func testValidFixturesParse() throws {
        let x86 = try BoardCatalog.parse(text: validX86Board, fileName: "test.toml")
        XCTAssertEqual(x86.name, "tiny")
        XCTAssertEqual(x86.description, "")
        let arm = try BoardCatalog.parse(text: validARM64Board, fileName: "test.toml")
        XCTAssertEqual(arm.architecture, .arm64)
        guard case .gicv3(let gic) = arm.interruptController else { return XCTFail("not gicv3") }
        XCTAssertEqual(gic.maxCPUs, 8)
        XCTAssertEqual(gic.spis, 96)
        XCTAssertEqual(gic.its?.start, GuestAddress(0x3FED_0000))
        XCTAssertEqual(arm.devices[0], .pl011(MMIODeviceSpec(range: GuestRange(start: GuestAddress(0x900_0000), size: 0x1000)!, irq: 1)))
    }

    func testSyntaxErrorNamesLineAndColumn() {
        let text = validX86Board.replacing("lines = 24", with: "lines = = 24")
        guard let error = parseError(text, fileName: "myboard.toml") else { return }
        let line = text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("lines = = 24") }! + 1
        XCTAssertEqual(error.line, line)
        XCTAssertNotNil(error.column)
        XCTAssertTrue(error.description.hasPrefix("myboard.toml:\(line):"), error.description)
        XCTAssertTrue(error.description.contains("TOML syntax error"), error.description)
        XCTAssertFalse(error.description.contains("\n"))
    }

    func testUnknownTopLevelKey() {
        assertBoardError("flavour = \"vanilla\"\n" + validX86Board, keyPath: "flavour", "unknown key", "default_transport")
    }

    func testUnknownNestedKeys() {
        assertBoardError(validX86Board.replacing("lines = 24", with: "lines = 24\npins = 24"),
                         keyPath: "interrupt_controller.pins", "unknown key", "lines")
        assertBoardError(validX86Board.replacing("port = 0x70", with: "port = 0x70\nirq_line = 3"),
                         keyPath: "devices[1].irq_line", "unknown key")
        assertBoardError(validX86Board.replacing("size = 0x10000000 }", with: "size = 0x10000000, buses = 256 }"),
                         keyPath: "pci.ecam.buses", "unknown key", "base, size")
        assertBoardError(validX86Board.replacing("{ base = 0xC0000000, size = 0x40000000 }",
                                                 with: "{ base = 0xC0000000, size = 0x40000000, name = \"pci\" }"),
                         keyPath: "ram.holes[0].name", "unknown key")
    }

    func testMissingKeys() {
        assertBoardError(validX86Board.replacing("default_mib = 128\n", with: ""), keyPath: "ram.default_mib", "missing required key")
        assertBoardError(validX86Board.replacing("name = \"tiny\"\n", with: ""), keyPath: "name", "missing required key")
        assertBoardError(validX86Board.replacing("port = 0x70\n", with: ""), keyPath: "devices[1].port", "missing required key")
        assertBoardError(validX86Board.replacing("[cpus]\ndefault = 1\nmax = 4\n", with: ""), keyPath: "cpus", "missing required table")
    }

    func testWrongTypes() {
        assertBoardError(validX86Board.replacing("port = 0x3F8", with: "port = \"0x3F8\""),
                         keyPath: "devices[0].port", "expected an integer", "found a string (\"0x3F8\")")
        assertBoardError(validX86Board.replacing("architecture = \"x86_64\"", with: "architecture = 64"),
                         keyPath: "architecture", "expected a string", "found an integer")
        assertBoardError(validX86Board.replacing("count = 4", with: "count = 4.0"),
                         keyPath: "virtio_mmio.count", "expected an integer", "floating-point")
        assertBoardError(validX86Board.replacing("[cpus]\ndefault = 1\nmax = 4\n", with: "cpus = 4\n"),
                         keyPath: "cpus", "expected a table", "found an integer")
    }

    func testNegativeAndTooLargeNumbers() {
        assertBoardError(validX86Board.replacing("irq = 4", with: "irq = -4"), keyPath: "devices[0].irq", "-4 must not be negative")
        assertBoardError(validX86Board.replacing("port = 0x3F8", with: "port = 0x10000"),
                         keyPath: "devices[0].port", "0x10000 is too large", "0xffff")
        assertBoardError(validX86Board.replacing("port = 0x3F8", with: "port = 0xFFFC"),
                         keyPath: "devices[0].port", "runs past port 0xffff")
        assertBoardError(validX86Board.replacing("base = 0\n", with: "base = -4096\n"), keyPath: "ram.base", "must not be negative")
    }

    func testUnknownArchitectureAndKinds() {
        assertBoardError(validX86Board.replacing("\"x86_64\"", with: "\"riscv64\""),
                         keyPath: "architecture", "unknown architecture \"riscv64\"", "x86_64, arm64")
        assertBoardError(validX86Board.replacing("\"cmos-rtc\"", with: "\"rtc\""),
                         keyPath: "devices[1].kind", "unknown device kind \"rtc\"", "cmos-rtc")
        assertBoardError(validX86Board.replacing("\"x86-ioapic\"", with: "\"apic\""),
                         keyPath: "interrupt_controller.kind", "unknown interrupt controller kind")
        assertBoardError(validX86Board.replacing("default_transport = \"pci\"", with: "default_transport = \"ccw\""),
                         keyPath: "default_transport", "unknown virtio transport \"ccw\"")
    }

    func testMessagesStayOnOneLine() {
        let error = BoardError(file: "f.toml", keyPath: "a.b", message: "first\nsecond")
        XCTAssertEqual(error.description, "f.toml: a.b: first second")
    }
}
