import XCTest
@testable import ArchX86
import LKVMCore

final class BzImageTests: XCTestCase {
    func testDebianHeaderParses() throws {
        let header = try SetupHeader(parsing: debianKernelHead())
        XCTAssertEqual(header.protocolVersion, 0x020F)
        XCTAssertEqual(header.setupSectors, Debian61.setupSectors)
        XCTAssertEqual(header.protectedModeOffset, Debian61.protectedModeOffset)
        XCTAssertEqual(header.payloadSize, Debian61.payloadSize)
        XCTAssertTrue(header.relocatable)
        XCTAssertEqual(header.kernelAlignment, 0x20_0000)
        XCTAssertEqual(header.preferredAddress, 0x100_0000)
        XCTAssertEqual(header.initSize, Debian61.initSize)
        XCTAssertEqual(header.commandLineSize, 2047)
        XCTAssertEqual(header.initrdAddressMax, 0x7FFF_FFFF)
        XCTAssertEqual(header.xloadFlags & SetupHeader.xlfKernel64, SetupHeader.xlfKernel64)
        XCTAssertEqual(header.loadAddress, GuestAddress(0x100_0000))
        XCTAssertEqual(header.rawBytes.count, Debian61.headerEnd - 0x1F1)
        XCTAssertEqual(Array(header.rawBytes[(0x202 - 0x1F1)..<(0x206 - 0x1F1)]), Array("HdrS".utf8))
    }

    func testDebianHeadIsDetectedAsTruncated() throws {
        let head = try debianKernelHead()
        assertBootError(.payloadTruncated(expected: Debian61.payloadSize,
                                          available: UInt64(head.count - Debian61.protectedModeOffset))) {
            try BzImage(head)
        }
        XCTAssertTrue(bootError { try BzImage(head) }!.description.contains("truncated"))
    }

    func testDebianKernelPaddedToSyssizeLoads() throws {
        let head = try debianKernelHead()
        // The real file is followed by its signature; model that with a trailer.
        let full = head + [UInt8](repeating: 0x5A, count: Debian61.protectedModeOffset + Int(Debian61.payloadSize) - head.count + 1472)
        let kernel = try BzImage(full)
        XCTAssertEqual(kernel.payload.count, Int(Debian61.payloadSize))
        XCTAssertTrue(kernel.versionString?.hasPrefix("6.1.0-57-amd64 (debian-kernel@lists.debian.org)") ?? false,
                      kernel.versionString ?? "nil")

        let ram = try makeGuestMemory([(0, 128 << 20)])
        let loaded = try kernel.load(into: ram)
        XCTAssertEqual(loaded.loadAddress, GuestAddress(0x100_0000))
        XCTAssertEqual(loaded.entry64, GuestAddress(0x100_0200))
        XCTAssertEqual(loaded.end, GuestAddress(0x100_0000 + UInt64(Debian61.initSize)))
        XCTAssertEqual(try ram.read(4096, at: GuestAddress(0x100_0000)), Array(head[0x5000..<0x6000]))
        // Nothing beyond syssize*16 (the signature) is copied.
        let after = 0x100_0000 + Debian61.payloadSize
        XCTAssertEqual(try ram.read(16, at: GuestAddress(after - 16)), [UInt8](repeating: 0x5A, count: 16))
        XCTAssertEqual(try ram.read(16, at: GuestAddress(after)), [UInt8](repeating: 0, count: 16))

        // 64 MiB is too little: init_size is ~64 MiB on top of the 16 MiB load address.
        let small = try makeGuestMemory([(0, 64 << 20)])
        let error = bootError { try kernel.load(into: small) }
        XCTAssertEqual(error, .kernelDoesNotFit(load: GuestAddress(0x100_0000), needed: UInt64(Debian61.initSize), ramEnd: 64 << 20))
        XCTAssertEqual(error?.description,
                       "kernel needs 64 MiB at 0x1000000 (init_size) but guest RAM ends at 0x4000000: give the guest more memory")
    }

    func testEmptyFile() {
        assertBootError(.fileTooSmall(size: 0, needed: 0x200, field: "boot flag at 0x1fe")) { try BzImage([]) }
        XCTAssertEqual(bootError { try BzImage([]) }?.description, "kernel file is empty")
    }

    func testTruncatedAtEachHeaderBoundary() throws {
        let head = try debianKernelHead()
        let cases: [(length: Int, needed: Int)] = [
            (1, 0x200), (0x1F1, 0x200), (0x1FF, 0x200),
            (0x200, 0x206), (0x202, 0x206), (0x205, 0x206),
            (0x206, 0x208), (0x207, 0x208),
            (0x208, Debian61.headerEnd), (0x236, Debian61.headerEnd), (0x264, Debian61.headerEnd),
            (Debian61.headerEnd - 1, Debian61.headerEnd),
        ]
        for (length, needed) in cases {
            let error = bootError { try BzImage(Array(head[0..<length])) }
            guard case .fileTooSmall(let size, let reportedNeed, _)? = error else {
                XCTFail("length \(hex(length)): \(String(describing: error))")
                continue
            }
            XCTAssertEqual(size, length)
            XCTAssertEqual(reportedNeed, needed, "length \(hex(length))")
            XCTAssertTrue(error!.description.contains("truncated"), error!.description)
        }
        // Whole header, but the setup code is cut short.
        for length in [Debian61.headerEnd, 0x1000, Debian61.protectedModeOffset - 1] {
            assertBootError(.setupBeyondEndOfFile(setupSize: Debian61.protectedModeOffset, fileSize: length)) {
                try BzImage(Array(head[0..<length]))
            }
            XCTAssertNoThrow(try SetupHeader(parsing: Array(head[0..<length])))
        }
        // Setup complete, payload missing entirely.
        assertBootError(.payloadTruncated(expected: Debian61.payloadSize, available: 0)) {
            try BzImage(Array(head[0..<Debian61.protectedModeOffset]))
        }
    }

    func testGarbage() {
        var random = TestRandom(state: 42)
        let garbage = (0..<8192).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        guard case .notBzImage(.badBootFlag)? = bootError({ try BzImage(garbage) }) else {
            return XCTFail("garbage accepted or wrong error")
        }
        let zeros = [UInt8](repeating: 0, count: 8192)
        assertBootError(.notBzImage(.badBootFlag(0))) { try BzImage(zeros) }
    }

    func testBadMagic() throws {
        var head = try debianKernelHead()
        head[0x205] = UInt8(ascii: "s")
        assertBootError(.notBzImage(.noHeaderMagic)) { try BzImage(head) }
        XCTAssertTrue(bootError { try BzImage(head) }!.description.contains("HdrS"))
    }

    func testOldProtocol() {
        for version: UInt16 in [0x0200, 0x0205, 0x0206, 0x020B] {
            var file = syntheticKernel()
            LittleEndian.put(version, into: &file, at: 0x206)
            assertBootError(.protocolTooOld(version: version, minimum: 0x020C)) { try BzImage(file) }
        }
        var file = syntheticKernel()
        LittleEndian.put(UInt16(0x0206), into: &file, at: 0x206)
        XCTAssertEqual(bootError { try BzImage(file) }?.description,
                       "kernel boot protocol 2.06 is too old: lkvm's 64-bit entry needs 2.12 or later (Linux 3.8+)")
    }

    func testNot64Bit() {
        var file = syntheticKernel()
        LittleEndian.put(UInt16(0x7E), into: &file, at: 0x236)
        assertBootError(.notSixtyFourBit) { try BzImage(file) }
    }

    func testZImageRejected() {
        var file = syntheticKernel()
        file[0x211] = 0
        assertBootError(.notBzImage(.notLoadedHigh)) { try BzImage(file) }
    }

    func testForeignFormats() {
        let padding = [UInt8](repeating: 0, count: 0x1000)
        let cases: [([UInt8], BootError.NotBzImageReason, String)] = [
            ([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1], .elf, "ELF"),
            ([0x1F, 0x8B, 0x08], .gzip, "gzip"),
            ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], .xz, "xz"),
            ([0x28, 0xB5, 0x2F, 0xFD], .zstd, "zstd"),
            ([0x42, 0x5A, 0x68, 0x39], .bzip2, "bzip2"),
        ]
        for (magic, reason, word) in cases {
            assertBootError(.notBzImage(reason)) { try BzImage(magic + padding) }
            // Even a short file says what it is rather than "truncated".
            assertBootError(.notBzImage(reason)) { try BzImage(magic) }
            XCTAssertTrue(bootError { try BzImage(magic) }!.description.contains(word))
        }
    }

    func testHeaderLengthIsChecked() {
        var short = syntheticKernel()
        short[0x201] = 0x50  // header would end at 0x252, before init_size
        guard case .badSetupHeader? = bootError({ try BzImage(short) }) else { return XCTFail() }
        var long = syntheticKernel()
        long[0x201] = 0xFF  // 0x301: past the zero page's room for the header
        guard case .badSetupHeader? = bootError({ try BzImage(long) }) else { return XCTFail() }
        var maximal = syntheticKernel()
        maximal[0x201] = 0x8E  // exactly 0x290
        XCTAssertEqual(try BzImage(maximal).header.rawBytes.count, 0x290 - 0x1F1)
    }

    func testAlignmentChecks() throws {
        var file = syntheticKernel()
        LittleEndian.put(UInt32(0x30_0000), into: &file, at: 0x230)
        guard case .badSetupHeader? = bootError({ try BzImage(file) }) else { return XCTFail() }
        LittleEndian.put(UInt32(0), into: &file, at: 0x230)
        guard case .badSetupHeader? = bootError({ try BzImage(file) }) else { return XCTFail() }

        // Relocatable: an unaligned pref_address is rounded up to kernel_alignment.
        var unaligned = syntheticKernel()
        LittleEndian.put(UInt64(0x110_0000), into: &unaligned, at: 0x258)
        XCTAssertEqual(try BzImage(unaligned).header.loadAddress, GuestAddress(0x120_0000))
        // Not relocatable: pref_address as is, alignment ignored.
        unaligned[0x234] = 0
        LittleEndian.put(UInt32(0x30_0000), into: &unaligned, at: 0x230)
        XCTAssertEqual(try BzImage(unaligned).header.loadAddress, GuestAddress(0x110_0000))
        // No pref_address: the classic 1 MiB.
        LittleEndian.put(UInt64(0), into: &unaligned, at: 0x258)
        XCTAssertEqual(try BzImage(unaligned).header.loadAddress, GuestAddress(0x10_0000))
    }

    func testSetupSectorsZeroMeansFour() throws {
        var file = syntheticKernel()
        file[0x1F1] = 0
        let error = bootError { try BzImage(file) }
        // 5 * 512 = 2560 bytes of setup now; 1024 + 4096 bytes of file remain.
        XCTAssertEqual(error, .payloadTruncated(expected: 4096, available: UInt64(file.count - 2560)))
        let header = try SetupHeader(parsing: file)
        XCTAssertEqual(header.setupSectors, 4)
        XCTAssertEqual(header.protectedModeOffset, 2560)
    }

    func testEmptyPayload() {
        var file = syntheticKernel()
        LittleEndian.put(UInt32(0), into: &file, at: 0x1F4)
        assertBootError(.emptyPayload) { try BzImage(file) }
        LittleEndian.put(UInt32(0x20), into: &file, at: 0x1F4)  // 512 bytes: no room for the entry
        assertBootError(.emptyPayload) { try BzImage(file) }
    }

    func testSyntheticLoad() throws {
        let file = syntheticKernel(payloadSize: 8192, trailer: 100)
        let kernel = try BzImage(file)
        let ram = try makeGuestMemory([(0, 32 << 20)])
        let loaded = try kernel.load(into: ram)
        XCTAssertEqual(loaded, LoadedKernel(loadAddress: GuestAddress(0x100_0000), entry64: GuestAddress(0x100_0200),
                                            end: GuestAddress(0x140_0000)))
        XCTAssertEqual(try ram.read(8192, at: GuestAddress(0x100_0000)), Array(file[1024..<(1024 + 8192)]))
        XCTAssertEqual(try ram.load(UInt8.self, at: GuestAddress(0x100_0000 + 8192)), 0)
        XCTAssertNil(kernel.versionString)
    }

    func testLoadNeedsRAMAtLoadAddress() throws {
        let kernel = try BzImage(syntheticKernel())
        // RAM exists, but not at 16 MiB.
        let ram = try makeGuestMemory([(0, 8 << 20), (32 << 20, 8 << 20)])
        assertBootError(.kernelDoesNotFit(load: GuestAddress(0x100_0000), needed: 0x40_0000, ramEnd: nil)) {
            try kernel.load(into: ram)
        }
        // RAM at 16 MiB, ending before init_size does.
        let short = try makeGuestMemory([(0, 18 << 20)])
        assertBootError(.kernelDoesNotFit(load: GuestAddress(0x100_0000), needed: 0x40_0000, ramEnd: 18 << 20)) {
            try kernel.load(into: short)
        }
    }

    /// Random corruption of a real header must give an error or a kernel, never a crash.
    func testCorruptHeadersNeverCrash() throws {
        let base = syntheticKernel()
        let head = try debianKernelHead()
        var random = TestRandom(state: 7)
        for round in 0..<3000 {
            var file = round % 2 == 0 ? base : head
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let offset = 0x1F0 + Int(random.next() % 0x80)
                file[offset] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 3 == 0 { file = Array(file[0..<Int(random.next() % UInt64(file.count))]) }
            if let kernel = try? BzImage(file) {
                _ = kernel.versionString
                _ = kernel.header.loadAddress
                XCTAssertLessThanOrEqual(kernel.payload.count, file.count)
            }
        }
    }
}
