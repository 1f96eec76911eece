import XCTest
@testable import ArchARM64
import LKVMCore

final class ARM64ImageTests: XCTestCase {
    func testDebianCloudImageHeader() throws {
        let image = try ARM64Image(try ARM64Fixtures.debianImageHead())
        XCTAssertEqual(image.textOffset, 0)
        XCTAssertEqual(image.imageSize, 0x1AB_0000)
        XCTAssertEqual(image.pageSize, .kib4)
        XCTAssertTrue(image.placeAnywhere)
        XCTAssertFalse(image.isLegacyHeader)
    }

    func testTruncatedAtEveryHeaderField() throws {
        let head = try ARM64Fixtures.debianImageHead()
        let expected: [(end: Int, field: String)] = [(4, "code0"), (8, "code1"), (16, "text_offset"), (24, "image_size"),
                                                     (32, "flags"), (56, "reserved fields"), (60, "magic"),
                                                     (64, "PE header offset")]
        for size in 0..<64 {
            let field = expected.first { size < $0.end }!
            XCTAssertEqual(thrownError(ARM64ImageError.self) { try ARM64Image(Array(head.prefix(size))) },
                           .truncated(size: size, needed: field.end, field: field.field), "size \(size)")
        }
        let error = ARM64ImageError.truncated(size: 20, needed: 24, field: "image_size")
        XCTAssertEqual(error.description, "is truncated: 20 bytes, but the arm64 Image header's image_size needs 24")
    }

    func testWrongMagic() {
        var bytes = ARM64Fixtures.syntheticImage()
        bytes[59] = 0x65
        let error = thrownError(ARM64ImageError.self) { try ARM64Image(bytes) }
        XCTAssertEqual(error, .badMagic(0x654D_5241))
        XCTAssertTrue(error?.description.contains("expected 0x644d5241") == true)
    }

    func testBigEndianRefused() {
        let error = thrownError(ARM64ImageError.self) { try ARM64Image(ARM64Fixtures.syntheticImage(flags: 0xB)) }
        XCTAssertEqual(error, .bigEndian)
        XCTAssertTrue(error?.description.contains("big-endian") == true)
    }

    func testLegacyHeaderAssumesTextOffsetAndFileSize() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage(size: 0x3000, textOffset: 0x1234, imageSize: 0, flags: 0))
        XCTAssertTrue(image.isLegacyHeader)
        XCTAssertEqual(image.textOffset, 0x80000)
        XCTAssertEqual(image.imageSize, 0x3000)
        XCTAssertEqual(image.pageSize, .unspecified)
        XCTAssertFalse(image.placeAnywhere)
    }

    func testImageSizeBelowFileSizeAndBadTextOffset() {
        XCTAssertEqual(thrownError(ARM64ImageError.self) {
            try ARM64Image(ARM64Fixtures.syntheticImage(size: 0x30000, imageSize: 0x20000))
        }, .imageSizeBelowFileSize(imageSize: 0x20000, fileSize: 0x30000))
        XCTAssertEqual(thrownError(ARM64ImageError.self) {
            try ARM64Image(ARM64Fixtures.syntheticImage(textOffset: 0x20_0000))
        }, .badTextOffset(0x20_0000))
        XCTAssertEqual(thrownError(ARM64ImageError.self) {
            try ARM64Image(ARM64Fixtures.syntheticImage(textOffset: 0x80010))
        }, .badTextOffset(0x80010))
    }

    func testCompressedAndForeignFilesAreNamed() {
        func file(_ prefix: [UInt8], at offset: Int = 0) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 0x400)
            bytes.replaceSubrange(offset..<(offset + prefix.count), with: prefix)
            return bytes
        }
        let cases: [(bytes: [UInt8], kind: ARM64KernelFileKind, text: String)] = [
            (file([0x1F, 0x8B, 8]), .gzip, "is gzip-compressed: decompress it"),
            (file([0x28, 0xB5, 0x2F, 0xFD]), .zstd, "is zstd-compressed"),
            (file([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0]), .xz, "is xz-compressed"),
            (file(Array("BZh9".utf8)), .bzip2, "is bzip2-compressed"),
            (file([0x04, 0x22, 0x4D, 0x18]), .lz4, "is lz4-compressed"),
            (file([0x7F] + Array("ELF".utf8)), .elf, "ELF file (a vmlinux?)"),
            (file(Array("HdrS".utf8), at: 0x202), .x86BzImage, "is an x86 bzImage"),
            (file(Array("MZ\0\0zimg".utf8)), .efiZboot, "EFI zboot"),
            (file([0x27, 0x05, 0x19, 0x56]), .uImage, "U-Boot uImage"),
            (file([0x18, 0x28, 0x6F, 0x01], at: 0x24), .arm32zImage, "32-bit ARM zImage"),
        ]
        for entry in cases {
            let error = thrownError(ARM64ImageError.self) { try ARM64Image(entry.bytes) }
            XCTAssertEqual(error, .foreignFormat(entry.kind))
            let text = error?.description ?? ""
            XCTAssertTrue(text.contains(entry.text), "\(text) lacks \(entry.text)")
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertEqual(thrownError(ARM64ImageError.self) { try ARM64Image([UInt8](repeating: 0x41, count: 100)) },
                       .badMagic(0x4141_4141))
    }

    func testRealImageIsNotMistakenForZboot() throws {
        // A raw Image with an EFI stub also starts with "MZ"; the arm64 magic decides.
        let head = try ARM64Fixtures.debianImageHead()
        XCTAssertEqual(Array(head.prefix(2)), Array("MZ".utf8))
        XCTAssertNoThrow(try ARM64Image(head))
    }
}
