import Foundation
import XCTest
@testable import ArchX86
import LKVMCore

/// The first 24 KiB of Debian's vmlinuz-6.1.0-57-amd64 (bookworm 6.1.192-3):
/// 20 KiB of setup code plus the first 4 KiB of the protected-mode payload.
func debianKernelHead() throws -> [UInt8] {
    let directory = String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let path = directory + "/Fixtures/debian-6.1.0-57-amd64-bzimage-first-24k.bin"
    let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "missing fixture \(path)")
    return [UInt8](data)
}

/// Facts about that kernel, read with a hex dump.
enum Debian61 {
    static let setupSectors = 39
    static let protectedModeOffset = 0x5000
    static let payloadSize: UInt64 = 0x7_D820 * 16  // syssize, in 16-byte paragraphs
    static let initSize: UInt32 = 0x3F9_8000
    static let headerEnd = 0x26C
}

/// A minimal but valid 64-bit bzImage: setup_sects 1, 2.15 header, relocatable.
func syntheticKernel(payloadSize: Int = 4096, trailer: Int = 0) -> [UInt8] {
    let setup = 2 * 512
    var file = [UInt8](repeating: 0, count: setup + payloadSize + trailer)
    file[0x1F1] = 1
    LittleEndian.put(UInt32(payloadSize / 16), into: &file, at: 0x1F4)
    LittleEndian.put(UInt16(0xAA55), into: &file, at: 0x1FE)
    file[0x200] = 0xEB
    file[0x201] = 0x6A  // header ends at 0x26C
    file.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
    LittleEndian.put(UInt16(0x020F), into: &file, at: 0x206)
    file[0x211] = 0x01  // LOADED_HIGH
    LittleEndian.put(UInt32(0x7FFF_FFFF), into: &file, at: 0x22C)
    LittleEndian.put(UInt32(0x20_0000), into: &file, at: 0x230)
    file[0x234] = 1
    LittleEndian.put(UInt16(0x7F), into: &file, at: 0x236)
    LittleEndian.put(UInt32(2047), into: &file, at: 0x238)
    LittleEndian.put(UInt64(0x100_0000), into: &file, at: 0x258)
    LittleEndian.put(UInt32(0x40_0000), into: &file, at: 0x260)
    for index in 0..<payloadSize { file[setup + index] = UInt8(truncatingIfNeeded: index &* 7 &+ 1) }
    for index in 0..<trailer { file[setup + payloadSize + index] = 0xEE }
    return file
}

// Closures infer an untyped `throws` (Swift 6.0 has no typed-throws inference
// for closures), so these helpers take any error and insist it is a BootError.
func assertBootError<T>(_ expected: BootError, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? BootError, expected, file: file, line: line)
    }
}

func bootError<T>(_ body: () throws -> T) -> BootError? {
    do {
        _ = try body()
        return nil
    } catch let error as BootError {
        return error
    } catch {
        XCTFail("not a BootError: \(error)")
        return nil
    }
}

func makeGuestMemory(_ ranges: [(UInt64, UInt64)]) throws -> GuestMemory {
    try GuestMemory(ranges: ranges.map { GuestRange(start: GuestAddress($0.0), size: $0.1)! })
}

func guestRange(_ start: UInt64, _ size: UInt64) -> GuestRange { GuestRange(start: GuestAddress(start), size: size)! }

func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { LittleEndian.u32(bytes, offset) }
func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { LittleEndian.u16(bytes, offset) }
func le64(_ bytes: [UInt8], _ offset: Int) -> UInt64 { LittleEndian.u64(bytes, offset) }

/// Deterministic pseudo-random bytes for robustness tests.
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
}
