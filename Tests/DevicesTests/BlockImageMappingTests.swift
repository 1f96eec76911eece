import Foundation
import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// `BlockImageMapping` keeps lkvm's resident size bounded: the pages a guest
/// read through it leave lkvm's page tables after `releaseAfter` bytes.
final class BlockImageMappingTests: XCTestCase {
    private var path = ""

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-map-\(UUID().uuidString).img").path
        try Data(VirtioBlockTests.pattern(4 << 20)).write(to: URL(fileURLWithPath: path))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// This process's resident KiB of the mapping of `path` (smaps' Rss).
    private func residentKiB() throws -> Int {
        // Read to the end: /proc files have no size for a one-shot read.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inMapping = fields.count >= 6 && fields[5] == path
            } else if inMapping, fields.first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                return kib
            }
        }
        // smaps lists a mapping with no page resident too (Rss: 0 kB).
        throw NoMappingInSmaps()
    }

    private struct NoMappingInSmaps: Error {}

    private func read(_ mapping: BlockImageMapping, at offset: UInt64, _ count: Int, into memory: GuestMemory) throws {
        try memory.withIOVectors([GuestBuffer(address: GuestAddress(0), length: count)]) { vectors in
            Result { () throws(BlockImageError) in try mapping.read(at: offset, into: vectors) }
        }.get()
    }

    func testPagesReadAreReleasedOnceTheBudgetIsSpent() throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        let memory = try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 1 << 20)!])
        let mapping = try XCTUnwrap(BlockImageMapping(descriptor: descriptor, byteCount: 4 << 20, writable: false, path: path,
                                                      releaseAfter: 1 << 20))
        try read(mapping, at: 0, 512 << 10, into: memory)
        XCTAssertGreaterThanOrEqual(try residentKiB(), 512)
        XCTAssertEqual(try memory.read(16, at: GuestAddress(0)), Array(VirtioBlockTests.pattern(16)))
        try read(mapping, at: 512 << 10, 512 << 10, into: memory)  // 1 MiB read: released
        XCTAssertEqual(try residentKiB(), 0)
        try read(mapping, at: 3 << 20, 256 << 10, into: memory)   // and mapped again on demand
        XCTAssertGreaterThanOrEqual(try residentKiB(), 256)
        XCTAssertEqual(try memory.read(256 << 10, at: GuestAddress(0)),
                       Array(VirtioBlockTests.pattern(4 << 20)[(3 << 20)..<((3 << 20) + (256 << 10))]))
    }
}
