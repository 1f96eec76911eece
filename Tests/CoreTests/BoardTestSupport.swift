import Foundation
import XCTest
@testable import LKVMCore

/// A small valid x86 board; tests break one thing in it at a time.
let validX86Board = """
name = "tiny"
architecture = "x86_64"
default_transport = "pci"

[cpus]
default = 1
max = 4

[ram]
base = 0
default_mib = 128
minimum_mib = 16
holes = [{ base = 0xC0000000, size = 0x40000000 }]

[interrupt_controller]
kind = "x86-ioapic"
ioapic = 0xFEC00000
lapic = 0xFEE00000
lines = 24

[[devices]]
kind = "uart8250"
port = 0x3F8
irq = 4

[[devices]]
kind = "cmos-rtc"
port = 0x70
irq = 8

[pci]
ecam = { base = 0xE0000000, size = 0x10000000 }
mmio32 = { base = 0xC0000000, size = 0x20000000 }
io_ports = { base = 0x1000, size = 0xF000 }

[virtio_mmio]
base = 0xF0000000
stride = 0x1000
count = 4
first_irq = 9
"""

/// A small valid arm64 board, laid out like kvmtool's arm64 map.
let validARM64Board = """
name = "tinyarm"
architecture = "arm64"
default_transport = "mmio"

[cpus]
default = 1
max = 8

[ram]
base = 0x80000000
default_mib = 256

[interrupt_controller]
kind = "gicv3"
distributor = { base = 0x3FFF0000, size = 0x10000 }
redistributors = { base = 0x3FEF0000, size = 0x100000 }
its = { base = 0x3FED0000, size = 0x20000 }
spis = 96

[[devices]]
kind = "pl011"
address = 0x9000000
irq = 1

[[devices]]
kind = "pl031"
address = 0x9010000
irq = 2

[virtio_mmio]
base = 0x3000000
stride = 0x200
count = 32
first_irq = 16
"""

extension String {
    /// `self` with `old` replaced; fails the test if `old` is absent, so a
    /// mutation test can never pass by accident on an unchanged board.
    func replacing(_ old: String, with new: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertTrue(contains(old), "fixture lacks \(old)", file: file, line: line)
        return replacingOccurrences(of: old, with: new)
    }
}

/// The error parsing `text` throws, or nil (with a test failure) when it parses.
func parseError(_ text: String, fileName: String = "test.toml",
                file: StaticString = #filePath, line: UInt = #line) -> BoardError? {
    do {
        let board = try BoardCatalog.parse(text: text, fileName: fileName)
        XCTFail("expected an error, parsed board \(board.name)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Asserts that parsing fails with a one-line message starting with
/// `test.toml: KEYPATH:` and containing every fragment.
func assertBoardError(_ text: String, keyPath: String?, _ fragments: String...,
                      file: StaticString = #filePath, line: UInt = #line) {
    guard let error = parseError(text, file: file, line: line) else { return }
    assertOneLine(error, file: "test.toml", keyPath: keyPath, fragments, sourceFile: file, line: line)
}

func assertOneLine(_ error: BoardError, file: String, keyPath: String?, _ fragments: [String],
                   sourceFile: StaticString = #filePath, line: UInt = #line) {
    let text = error.description
    XCTAssertFalse(text.contains("\n"), "not one line: \(text)", file: sourceFile, line: line)
    let prefix = keyPath.map { "\(file): \($0): " } ?? "\(file)"
    XCTAssertTrue(text.hasPrefix(prefix), "\(text) does not start with \(prefix)", file: sourceFile, line: line)
    for fragment in fragments {
        XCTAssertTrue(text.contains(fragment), "\(text) lacks \(fragment)", file: sourceFile, line: line)
    }
}
