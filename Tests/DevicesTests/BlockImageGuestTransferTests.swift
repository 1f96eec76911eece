import Foundation
import LKVMCore
@testable import LKVMDevices
import XCTest

/// `BlockImage.read(at:into:of:)` and `write(at:from:of:)`: image bytes
/// straight to and from guest RAM (preadv/pwritev on GuestMemory's vectors).
final class BlockImageGuestTransferTests: XCTestCase {
    private var path = ""

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-blkio-\(UUID().uuidString).img").path
        try Data(Self.image).write(to: URL(fileURLWithPath: path))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: path)
    }

    static let image = VirtioBlockTests.pattern(32 * 512)

    /// Two regions that touch at 0x10000, host-separate.
    private func makeMemory() throws -> GuestMemory {
        try GuestMemory(ranges: [
            GuestRange(start: GuestAddress(0), size: 0x10000)!,
            GuestRange(start: GuestAddress(0x10000), size: 0x10000)!,
        ])
    }

    private func buffer(_ address: UInt64, _ length: Int) -> GuestBuffer {
        GuestBuffer(address: GuestAddress(address), length: length)
    }

    private func fileBytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testReadFillsBuffersInBothRegionsInOrder() throws {
        let memory = try makeMemory()
        let image = try BlockImage(path: path)
        try image.read(at: 1000, into: [buffer(0xFFF0, 16), buffer(0x10000, 100), buffer(0x100, 7)], of: memory)
        XCTAssertEqual(try memory.read(16, at: GuestAddress(0xFFF0)), Array(Self.image[1000..<1016]))
        XCTAssertEqual(try memory.read(100, at: GuestAddress(0x10000)), Array(Self.image[1016..<1116]))
        XCTAssertEqual(try memory.read(7, at: GuestAddress(0x100)), Array(Self.image[1116..<1123]))
    }

    func testWriteTakesBuffersInOrder() throws {
        let memory = try makeMemory()
        try memory.write([UInt8](repeating: 0xA1, count: 300), at: GuestAddress(0x2000))
        try memory.write([UInt8](repeating: 0xB2, count: 212), at: GuestAddress(0x18000))
        try BlockImage(path: path).write(at: 512, from: [buffer(0x2000, 300), buffer(0x18000, 212)], of: memory)
        var expected = Self.image
        expected.replaceSubrange(512..<812, with: [UInt8](repeating: 0xA1, count: 300))
        expected.replaceSubrange(812..<1024, with: [UInt8](repeating: 0xB2, count: 212))
        XCTAssertEqual(try fileBytes(), expected)
    }

    /// More buffers than one preadv/pwritev takes: moved in batches, whole.
    func testMoreBuffersThanOneSystemCallTakes() throws {
        let memory = try makeMemory()
        let count = BlockImage.maxVectors * 2 + 5
        let buffers = (0..<count).map { buffer(UInt64($0) * 8, 4) }  // every other 4 bytes
        let image = try BlockImage(path: path)
        try image.read(at: 0, into: buffers, of: memory)
        for index in [0, 1, BlockImage.maxVectors, count - 1] {
            XCTAssertEqual(try memory.read(4, at: GuestAddress(UInt64(index) * 8)), Array(Self.image[(index * 4)..<(index * 4 + 4)]))
        }
        try image.write(at: 4 * 512, from: buffers, of: memory)
        XCTAssertEqual(Array(try fileBytes()[(4 * 512)..<(4 * 512 + count * 4)]), Array(Self.image[0..<(count * 4)]))
    }

    func testABufferSpanningTwoRegionsIsAGuestMemoryErrorAndTheImageIsUntouched() throws {
        let memory = try makeMemory()
        let image = try BlockImage(path: path)
        let spanning = buffer(0xFF00, 0x200)
        XCTAssertThrowsError(try image.write(at: 0, from: [buffer(0, 512), spanning], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .guestMemory(.outOfRange(spanning.address, length: 0x200)))
        }
        XCTAssertThrowsError(try image.read(at: 0, into: [spanning], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .guestMemory(.outOfRange(spanning.address, length: 0x200)))
        }
        XCTAssertEqual(try fileBytes(), Self.image)
    }

    func testTransfersOutsideTheImageOrToAReadOnlyImageAreImageErrors() throws {
        let memory = try makeMemory()
        XCTAssertThrowsError(try BlockImage(path: path).read(at: 31 * 512, into: [buffer(0, 1024)], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .image(.outsideImage(offset: 31 * 512, count: 1024)))
        }
        XCTAssertThrowsError(try BlockImage(path: path, readOnly: true).write(at: 0, from: [buffer(0, 512)], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .image(.readOnly))
        }
        XCTAssertEqual(try fileBytes(), Self.image)
    }

    /// Reads copy from the file's shared mapping: they see the image's own
    /// writes and another writer's at once, as preadv would.
    func testReadsThroughTheMappingSeeEveryWriteToTheFile() throws {
        let memory = try makeMemory()
        let image = try BlockImage(path: path)
        XCTAssertTrue(image.readsThroughMapping)
        try memory.write([UInt8](repeating: 0x5A, count: 512), at: GuestAddress(0x3000))
        try image.write(at: 1024, from: [buffer(0x3000, 512)], of: memory)
        try image.read(at: 1024, into: [buffer(0x4000, 512)], of: memory)
        XCTAssertEqual(try memory.read(512, at: GuestAddress(0x4000)), [UInt8](repeating: 0x5A, count: 512))
        let other = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try other.seek(toOffset: 2048)
        try other.write(contentsOf: Data(repeating: 0xC3, count: 100))
        try other.close()
        try image.read(at: 2000, into: [buffer(0x5000, 200)], of: memory)
        XCTAssertEqual(try memory.read(200, at: GuestAddress(0x5000)),
                       Array(Self.image[2000..<2048]) + [UInt8](repeating: 0xC3, count: 100) + Array(Self.image[2148..<2200]))
    }

    /// A read-write image takes writes through the mapping, a read-only one
    /// maps read-only; both land in the file as pwritev's would.
    func testWritesGoThroughAWritableMappingOnlyOnAReadWriteImage() throws {
        let memory = try makeMemory()
        XCTAssertFalse(try BlockImage(path: path, readOnly: true).writesThroughMapping)
        let image = try BlockImage(path: path)
        XCTAssertTrue(image.writesThroughMapping)
        try memory.write([UInt8](repeating: 0x77, count: 0x1800), at: GuestAddress(0x6000))
        try image.write(at: 0xA00, from: [buffer(0x6000, 0x1000), buffer(0x7000, 0x800)], of: memory)
        try image.flush()
        var expected = Self.image
        expected.replaceSubrange(0xA00..<0x2200, with: [UInt8](repeating: 0x77, count: 0x1800))
        XCTAssertEqual(try fileBytes(), expected)
    }

    /// The file shrank under a write: the stores stop at the first page the
    /// file no longer has, and pwritev writes the rest, as it would have
    /// written all of it (the file grows back to hold the data).
    func testAWriteToAFileThatShrankFinishesThroughPwritev() throws {
        let memory = try makeMemory()
        let image = try BlockImage(path: path)
        XCTAssertTrue(image.writesThroughMapping)
        XCTAssertEqual(truncate(path, 4096), 0)
        try memory.write(VirtioBlockTests.pattern(0x2000, seed: 3), at: GuestAddress(0x8000))
        try image.write(at: 0x800, from: [buffer(0x8000, 0x2000)], of: memory)
        let bytes = try fileBytes()
        XCTAssertEqual(bytes.count, 0x2800)
        XCTAssertEqual(Array(bytes[..<0x800]), Array(Self.image[..<0x800]))
        XCTAssertEqual(Array(bytes[0x800...]), VirtioBlockTests.pattern(0x2000, seed: 3))
    }

    /// O_DIRECT reads must bypass the page cache: no mapping.
    func testADirectImageIsNotMapped() throws {
        let image: BlockImage
        do { image = try BlockImage(path: path, direct: true) } catch .directIOUnsupported {
            throw XCTSkip("the temporary directory's file system has no O_DIRECT")
        }
        XCTAssertFalse(image.readsThroughMapping)
    }

    /// The file shrinks while the image is open: a read of pages it no longer
    /// has takes SIGBUS inside the mapping's copy, which must come back as
    /// endOfFile at the first missing page, with the bytes before it copied,
    /// and not end the process.
    func testAFileThatShrankUnderTheImageIsEndOfFileNotACrash() throws {
        let memory = try makeMemory()
        let image = try BlockImage(path: path)
        XCTAssertTrue(image.readsThroughMapping)
        try image.read(at: 0, into: [buffer(0, 16 * 512)], of: memory)  // pages mapped before the truncation
        XCTAssertEqual(truncate(path, 4096), 0)
        try memory.write([UInt8](repeating: 0, count: 0x4000), at: GuestAddress(0x8000))
        XCTAssertThrowsError(try image.read(at: 1024, into: [buffer(0x8000, 1024), buffer(0x9000, 8192)], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .image(.endOfFile(offset: 4096)))
        }
        XCTAssertEqual(try memory.read(1024, at: GuestAddress(0x8000)), Array(Self.image[1024..<2048]))
        XCTAssertEqual(try memory.read(2048, at: GuestAddress(0x9000)), Array(Self.image[2048..<4096]))
        XCTAssertThrowsError(try image.read(at: 12 * 512, into: [buffer(0x8000, 512)], of: memory)) {
            XCTAssertEqual($0 as? BlockGuestTransferError, .image(.endOfFile(offset: 12 * 512)))
        }
        // What is still in the file reads as before.
        try image.read(at: 512, into: [buffer(0xA000, 512)], of: memory)
        XCTAssertEqual(try memory.read(512, at: GuestAddress(0xA000)), Array(Self.image[512..<1024]))
    }
}
