import Glibc
@testable import LKVMCore
import XCTest

/// `GuestMemory.withIOVectors`: the vectors point at the right guest bytes,
/// and every buffer is checked before `body` runs.
final class GuestMemoryIOVectorTests: XCTestCase {
    /// Two regions that touch at 0x10000 (guest-contiguous, host-separate),
    /// and a third after a gap.
    private func makeMemory() throws -> GuestMemory {
        try GuestMemory(ranges: [
            GuestRange(start: GuestAddress(0), size: 0x10000)!,
            GuestRange(start: GuestAddress(0x10000), size: 0x1000)!,
            GuestRange(start: GuestAddress(0x10_0000), size: 0x2000)!,
        ])
    }

    private func buffer(_ address: UInt64, _ length: Int) -> GuestBuffer {
        GuestBuffer(address: GuestAddress(address), length: length)
    }

    /// Asserts the call is refused with outOfRange for `bad`, and that `body` never ran.
    private func assertRefused(_ buffers: [GuestBuffer], bad: GuestBuffer,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let memory = try makeMemory()
        var ran = false
        XCTAssertThrowsError(try memory.withIOVectors(buffers) { _ in ran = true }, file: file, line: line) { error in
            XCTAssertEqual(error as? GuestMemoryError,
                           .outOfRange(bad.address, length: UInt64(max(bad.length, 0))), file: file, line: line)
        }
        XCTAssertFalse(ran, "body ran despite a bad buffer", file: file, line: line)
    }

    func testVectorsCoverTheGuestBytesInOrderAcrossRegions() throws {
        let memory = try makeMemory()
        try memory.write([1, 2, 3, 4], at: GuestAddress(0xFFFC))
        try memory.write([5, 6], at: GuestAddress(0x10000))
        try memory.write([7, 8, 9], at: GuestAddress(0x10_1FFD))
        let seen = try memory.withIOVectors([buffer(0xFFFC, 4), buffer(0x10000, 2), buffer(0x10_1FFD, 3)]) { vectors in
            vectors.map { Array(UnsafeRawBufferPointer(start: $0.iov_base, count: $0.iov_len)) }
        }
        XCTAssertEqual(seen, [[1, 2, 3, 4], [5, 6], [7, 8, 9]])
    }

    func testReadvThroughTheVectorsLandsInGuestMemory() throws {
        let memory = try makeMemory()
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]); close(ends[1]) }
        let payload: [UInt8] = Array(1...10)
        XCTAssertEqual(payload.withUnsafeBytes { Glibc.write(ends[1], $0.baseAddress, $0.count) }, 10)
        let moved = try memory.withIOVectors([buffer(0x2000, 3), buffer(0x10_0000, 7)]) { vectors in
            readv(ends[0], vectors.baseAddress, Int32(vectors.count))
        }
        XCTAssertEqual(moved, 10)
        XCTAssertEqual(try memory.read(3, at: GuestAddress(0x2000)), [1, 2, 3])
        XCTAssertEqual(try memory.read(7, at: GuestAddress(0x10_0000)), [4, 5, 6, 7, 8, 9, 10])
    }

    func testEmptyListAndEmptyBufferAtARegionEnd() throws {
        let memory = try makeMemory()
        XCTAssertEqual(try memory.withIOVectors([]) { $0.count }, 0)
        XCTAssertEqual(try memory.withIOVectors([buffer(0x10_2000, 0)]) { $0.map(\.iov_len) }, [0])
    }

    func testABufferPastARegionEndIsRefused() throws {
        try assertRefused([buffer(0, 16), buffer(0x10_1FF0, 0x11)], bad: buffer(0x10_1FF0, 0x11))
    }

    func testABufferInTheGapIsRefused() throws {
        try assertRefused([buffer(0x20000, 1)], bad: buffer(0x20000, 1))
    }

    func testABufferSpanningTwoTouchingRegionsIsRefused() throws {
        // [0xFFF0, 0x10010) is guest RAM end to end, but two host mappings.
        try assertRefused([buffer(0xFFF0, 0x20)], bad: buffer(0xFFF0, 0x20))
    }

    func testLengthsThatWrapOrAreNegativeAreRefused() throws {
        try assertRefused([buffer(0x100, Int.max)], bad: buffer(0x100, Int.max))
        try assertRefused([buffer(UInt64.max - 1, 4)], bad: buffer(UInt64.max - 1, 4))
        try assertRefused([buffer(0, 8), buffer(0x100, -1)], bad: buffer(0x100, -1))
    }
}
