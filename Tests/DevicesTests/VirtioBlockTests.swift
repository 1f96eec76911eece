import Foundation
import LKVMCore
@testable import LKVMDevices
import XCTest

/// virtio-blk behind the mmio transport, driven the way Linux's virtio_blk
/// lays out requests (header, data, status), against a temporary image.
final class VirtioBlockTests: XCTestCase {
    static let sector = 512
    static let headerAddress: UInt64 = 0x10000
    static let readableDataAddress: UInt64 = 0x20000
    static let writableDataAddress: UInt64 = 0x60000
    static let statusAddress: UInt64 = 0xF0000

    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-blk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A recognisable byte for every offset of an image.
    static func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 7 &+ $0 / 512 &+ seed) % 251) }
    }

    func makeImage(_ bytes: [UInt8], in folder: URL? = nil, name: String = "disk.img") throws -> String {
        let url = (folder ?? directory).appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func fileBytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func bringUp(_ device: VirtioBlock, queueSize: UInt16 = 8, memory: GuestMemory = makeGuestMemory()) -> FakeMMIODriver {
        let driver = FakeMMIODriver(device: device, queueSize: queueSize, memory: memory)
        XCTAssertEqual(driver.probe(), 2)
        driver.bringUp()
        return driver
    }

    static func header(type: UInt32, sector: UInt64 = 0) -> [UInt8] {
        withUnsafeBytes(of: type.littleEndian) { Array($0) } + [0, 0, 0, 0]
            + withUnsafeBytes(of: sector.littleEndian) { Array($0) }
    }

    /// One buffer of a request as the test lays it out.
    struct Buffer {
        var address: UInt64
        var length: UInt32
        var writable: Bool
    }

    /// The usual layout: header, then `readableData` (one buffer) or
    /// `writableData` buffers of the given lengths, then the status byte.
    static func layout(header: [UInt8], readableData: [UInt8] = [], writableData: [UInt32] = [],
                       statusLength: UInt32 = 1, memory: GuestMemory) -> [Buffer] {
        try! memory.write(header, at: GuestAddress(headerAddress))
        var buffers = [Buffer(address: headerAddress, length: UInt32(header.count), writable: false)]
        if !readableData.isEmpty {
            try! memory.write(readableData, at: GuestAddress(readableDataAddress))
            buffers.append(Buffer(address: readableDataAddress, length: UInt32(readableData.count), writable: false))
        }
        var next = writableDataAddress
        for length in writableData {
            buffers.append(Buffer(address: next, length: length, writable: true))
            next += UInt64(length)
        }
        if statusLength > 0 {
            try! memory.store(UInt8(0xEE), at: GuestAddress(statusAddress))
            buffers.append(Buffer(address: statusAddress, length: statusLength, writable: true))
        }
        return buffers
    }

    /// Chains the buffers from descriptor 0, makes it available, notifies,
    /// and returns the used length.
    @discardableResult
    func submit(_ driver: FakeMMIODriver, _ buffers: [Buffer]) -> UInt32 {
        let before = driver.ring.usedIndex
        for (index, buffer) in buffers.enumerated() {
            let last = index == buffers.count - 1
            driver.ring.setDescriptor(UInt16(index), address: buffer.address, length: buffer.length,
                                      flags: (buffer.writable ? Desc.write : 0) | (last ? 0 : Desc.next),
                                      next: UInt16(index + 1))
        }
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, before &+ 1, "the request was answered")
        XCTAssertEqual(driver.ring.usedEntry(before).head, 0)
        return driver.ring.usedEntry(before).length
    }

    func status(_ driver: FakeMMIODriver) -> UInt8 {
        try! driver.memory.load(UInt8.self, at: GuestAddress(Self.statusAddress))
    }

    // MARK: - Normal requests

    func testReadReturnsTheImageBytesAcrossSplitBuffers() throws {
        let image = Self.pattern(16 * Self.sector)
        let driver = bringUp(try VirtioBlock(path: try makeImage(image)))
        let buffers = Self.layout(header: Self.header(type: 0, sector: 3), writableData: [100, 924, 512],
                                  memory: driver.memory)
        XCTAssertEqual(submit(driver, buffers), 1536 + 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ok.rawValue)
        XCTAssertEqual(try driver.memory.read(1536, at: GuestAddress(Self.writableDataAddress)),
                       Array(image[(3 * 512)..<(6 * 512)]))
        XCTAssertEqual(driver.handleInterrupt() & 1, 1)
    }

    func testWriteLandsInTheImageEvenWithHeaderAndDataInOneBuffer() throws {
        let path = try makeImage(Self.pattern(8 * Self.sector))
        let driver = bringUp(try VirtioBlock(path: path))
        let data = Self.pattern(2 * Self.sector, seed: 99)
        // The device must not assume framing: header and data share a buffer.
        try driver.memory.write(Self.header(type: 1, sector: 5) + data, at: GuestAddress(Self.headerAddress))
        try driver.memory.store(UInt8(0xEE), at: GuestAddress(Self.statusAddress))
        let used = submit(driver, [Buffer(address: Self.headerAddress, length: 16 + 1024, writable: false),
                                   Buffer(address: Self.statusAddress, length: 1, writable: true)])
        XCTAssertEqual(used, 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ok.rawValue)
        var expected = Self.pattern(8 * Self.sector)
        expected.replaceSubrange((5 * 512)..<(7 * 512), with: data)
        XCTAssertEqual(try fileBytes(path), expected)
    }

    func testRequestsLargerThanOneTransferWindowAreMovedWhole() throws {
        let size = 3 << 20
        let image = Self.pattern(size)
        let path = try makeImage(image)
        let memory = makeGuestMemory(size: 0x80_0000)
        let driver = bringUp(try VirtioBlock(path: path), memory: memory)
        // 2.5 MiB read into two uneven buffers, crossing window boundaries mid-buffer.
        let first: UInt32 = (1 << 20) + 1536, second = UInt32(5 << 19) - first
        let buffers = [Buffer(address: Self.headerAddress, length: 16, writable: false),
                       Buffer(address: 0x10_0000, length: first, writable: true),
                       Buffer(address: 0x40_0000, length: second, writable: true),
                       Buffer(address: Self.statusAddress, length: 1, writable: true)]
        try memory.write(Self.header(type: 0, sector: 1), at: GuestAddress(Self.headerAddress))
        XCTAssertEqual(submit(driver, buffers), first + second + 1)
        XCTAssertEqual(status(driver), 0)
        let read = try memory.read(Int(first), at: GuestAddress(0x10_0000)) + memory.read(Int(second), at: GuestAddress(0x40_0000))
        XCTAssertEqual(read, Array(image[512..<(512 + Int(first + second))]))

        // And the same bytes written back from 512 KiB on.
        let writeBuffers = [Buffer(address: Self.headerAddress, length: 16, writable: false),
                            Buffer(address: 0x10_0000, length: first, writable: false),
                            Buffer(address: 0x40_0000, length: second, writable: false),
                            Buffer(address: Self.statusAddress, length: 1, writable: true)]
        try memory.write(Self.header(type: 1, sector: 1024), at: GuestAddress(Self.headerAddress))
        XCTAssertEqual(submit(driver, writeBuffers), 1)
        XCTAssertEqual(status(driver), 0)
        let file = try fileBytes(path)
        XCTAssertEqual(Array(file[(1 << 19)..<((1 << 19) + read.count)]), read)
        XCTAssertEqual(Array(file[..<(1 << 19)]), Array(image[..<(1 << 19)]), "nothing else moved")
    }

    func testLargeWindowsAreCutIntoPageAlignedPartsOnePerThread() {
        typealias Part = VirtioBlockTransferPart
        XCTAssertEqual(Part.sizes(200 << 10, threads: 4), [200 << 10], "below the threshold: one part")
        XCTAssertEqual(Part.sizes(1 << 20, threads: 1), [1 << 20])
        XCTAssertEqual(Part.sizes(1 << 20, threads: 2), [512 << 10, 512 << 10])
        XCTAssertEqual(Part.sizes(1 << 20, threads: 4), Array(repeating: 256 << 10, count: 4))
        // 300.5 KiB: two parts at most (128 KiB each at least), the first page-aligned.
        XCTAssertEqual(Part.sizes((300 << 10) + 512, threads: 4), [151_552, 156_160])
    }

    /// A file cut short after lkvm opened it fails mid-request: with the
    /// request split between threads, the first part that failed (in image
    /// order) decides what the guest hears, as if the parts ran in turn.
    func testAPartThatFailsReportsTheBytesOfThePartsBeforeIt() throws {
        let image = Self.pattern(1 << 20)
        let split = HostWorkerPool.onlineCPUs > 1
        for (cut, bytesBeforeFailure) in [(600 << 10, split ? UInt32(512 << 10) : 0), (200 << 10, UInt32(0))] {
            let memory = makeGuestMemory(size: 0x80_0000)
            let path = try makeImage(image, name: "cut-\(cut).img")
            let driver = bringUp(try VirtioBlock(path: path), memory: memory)
            XCTAssertEqual(truncate(path, off_t(cut)), 0)
            try memory.write(Self.header(type: 0, sector: 0), at: GuestAddress(Self.headerAddress))
            let buffers = [Buffer(address: Self.headerAddress, length: 16, writable: false),
                           Buffer(address: 0x10_0000, length: 1 << 20, writable: true),
                           Buffer(address: Self.statusAddress, length: 1, writable: true)]
            XCTAssertEqual(submit(driver, buffers), bytesBeforeFailure + 1, "file cut at \(cut)")
            XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
            XCTAssertEqual(try memory.read(Int(bytesBeforeFailure), at: GuestAddress(0x10_0000)),
                           Array(image[..<Int(bytesBeforeFailure)]))
        }
    }

    func testFlushSucceeds() throws {
        let driver = bringUp(try VirtioBlock(path: try makeImage(Self.pattern(4096))))
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 4), memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ok.rawValue)
    }

    func testGetIDAnswersAStableSerialPerImage() throws {
        let path = try makeImage(Self.pattern(4096))
        let device = try VirtioBlock(path: path)
        let driver = bringUp(device)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 8), writableData: [20], memory: driver.memory)), 21)
        XCTAssertEqual(status(driver), 0)
        let serial = try driver.memory.read(20, at: GuestAddress(Self.writableDataAddress))
        XCTAssertEqual(serial, device.image.serial)
        XCTAssertEqual(String(decoding: serial.prefix(5), as: UTF8.self), "lkvm-")
        XCTAssertEqual(try BlockImage(path: path, readOnly: true).serial, serial, "same file, same serial")
        let other = try makeImage(Self.pattern(4096), name: "other.img")
        XCTAssertNotEqual(try BlockImage(path: other).serial, serial)

        // A shorter buffer gets what fits.
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 8), writableData: [8], memory: driver.memory)), 9)
        XCTAssertEqual(try driver.memory.read(8, at: GuestAddress(Self.writableDataAddress)), Array(serial.prefix(8)))
    }

    func testConfigSpaceAndFeatures() throws {
        let path = try makeImage(Self.pattern(10 * Self.sector + 100))  // a partial last sector is ignored
        let driver = FakeMMIODriver(device: try VirtioBlock(path: path))
        let features = driver.deviceFeatures()
        XCTAssertEqual(features, Feature.indirect | Feature.eventIndex | Feature.version1
                       | VirtioBlockFeature.segmentMax | VirtioBlockFeature.flush)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config, size: 8), 10, "capacity in sectors")
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 12, size: 4), 254, "seg_max: queue size - 2")
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 20, size: 4), 512, "blk_size")
        let readOnly = FakeMMIODriver(device: try VirtioBlock(path: path, readOnly: true))
        XCTAssertEqual(readOnly.deviceFeatures() & VirtioBlockFeature.readOnly, VirtioBlockFeature.readOnly)
    }

    // MARK: - Refused requests

    func testReadOnlyImageRefusesWritesAndStaysUntouched() throws {
        let image = Self.pattern(8 * Self.sector)
        let path = try makeImage(image)
        let driver = bringUp(try VirtioBlock(path: path, readOnly: true))
        let buffers = Self.layout(header: Self.header(type: 1, sector: 0), readableData: Self.pattern(512, seed: 5),
                                  memory: driver.memory)
        XCTAssertEqual(submit(driver, buffers), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(try fileBytes(path), image)
        // Reads still work.
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0), writableData: [512], memory: driver.memory)), 513)
        XCTAssertEqual(status(driver), 0)
        XCTAssertFalse(driver.needsReset)
    }

    func testRequestsBeyondTheCapacityAreIOErrors() throws {
        let image = Self.pattern(8 * Self.sector)
        let path = try makeImage(image)
        let driver = bringUp(try VirtioBlock(path: path))
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0, sector: 7), writableData: [512],
                                                  memory: driver.memory)), 513, "the last sector is fine")
        XCTAssertEqual(status(driver), 0)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0, sector: 7), writableData: [1024],
                                                  memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 1, sector: 8), readableData: Self.pattern(512),
                                                  memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(try fileBytes(path), image)
    }

    func testSectorsNearTheTopOfSixtyFourBitsDoNotWrapIntoRange() throws {
        let image = Self.pattern(8 * Self.sector)
        let path = try makeImage(image)
        let driver = bringUp(try VirtioBlock(path: path))
        for sector in [UInt64.max, UInt64.max - 1, UInt64.max / 512, UInt64.max / 512 + 1] {
            XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 1, sector: sector),
                                                      readableData: Self.pattern(1024), memory: driver.memory)), 1)
            XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue, "write at \(sector)")
            XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0, sector: sector),
                                                      writableData: [512], memory: driver.memory)), 1)
            XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue, "read at \(sector)")
        }
        XCTAssertEqual(try fileBytes(path), image)
    }

    func testDataLengthsThatAreNotWholeSectorsAreIOErrors() throws {
        let image = Self.pattern(8 * Self.sector)
        let path = try makeImage(image)
        let driver = bringUp(try VirtioBlock(path: path))
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0), writableData: [100], memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 1), readableData: Self.pattern(513),
                                                  memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(try fileBytes(path), image)
    }

    func testARequestWithNoStatusByteGetsUsedLengthZeroAndTheQueueGoesOn() throws {
        let driver = bringUp(try VirtioBlock(path: try makeImage(Self.pattern(4096))))
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 4), statusLength: 0, memory: driver.memory)), 0)
        XCTAssertFalse(driver.needsReset)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 4), memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), 0)
    }

    func testAShortHeaderIsAnIOError() throws {
        let driver = bringUp(try VirtioBlock(path: try makeImage(Self.pattern(4096))))
        let buffers = Self.layout(header: Array(Self.header(type: 0).prefix(8)), writableData: [512], memory: driver.memory)
        XCTAssertEqual(submit(driver, buffers), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        // Nothing readable at all.
        XCTAssertEqual(submit(driver, [Buffer(address: Self.statusAddress, length: 1, writable: true)]), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
    }

    func testUnknownTypesAreUnsupported() throws {
        let driver = bringUp(try VirtioBlock(path: try makeImage(Self.pattern(4096))))
        for type: UInt32 in [2, 10, 11, 13, 14, 99, .max] {  // incl. DISCARD, WRITE_ZEROES, SECURE_ERASE
            XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: type), memory: driver.memory)), 1)
            XCTAssertEqual(status(driver), VirtioBlockStatus.unsupported.rawValue, "type \(type)")
        }
    }

    func testDataOnTheWrongSideIsRefused() throws {
        let image = Self.pattern(8 * Self.sector)
        let path = try makeImage(image)
        let driver = bringUp(try VirtioBlock(path: path))
        // IN whose data buffer is device-readable.
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0), readableData: Self.pattern(512),
                                                  memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        // OUT whose data buffer is device-writable.
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 1), writableData: [512], memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), VirtioBlockStatus.ioError.rawValue)
        XCTAssertEqual(try fileBytes(path), image)
        XCTAssertFalse(driver.needsReset)
    }

    func testWritableHeaderBeforeReadableStatusBreaksTheQueueRules() throws {
        let driver = bringUp(try VirtioBlock(path: try makeImage(Self.pattern(4096))))
        driver.ring.setDescriptor(0, address: Self.headerAddress, length: 16, flags: Desc.write | Desc.next, next: 1)
        driver.ring.setDescriptor(1, address: Self.statusAddress, length: 1)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertTrue(driver.needsReset, "readable after writable is a queue error")
        XCTAssertEqual(driver.ring.usedIndex, 0)
    }

    // MARK: - Threads and reset

    func testConcurrentCallsAnswerEveryRequestOnce() throws {
        let image = Self.pattern(64 * Self.sector)
        let device = try VirtioBlock(path: try makeImage(image))
        let driver = bringUp(device, queueSize: 16)
        for request in UInt16(0)..<8 {
            let header = Self.headerAddress + 32 * UInt64(request)
            try driver.memory.write(Self.header(type: 0, sector: UInt64(request)), at: GuestAddress(header))
            driver.ring.setDescriptor(2 * request, address: header, length: 16, flags: Desc.next, next: 2 * request + 1)
            driver.ring.setDescriptor(2 * request + 1, address: 0x80000 + 1024 * UInt64(request), length: 513, flags: Desc.write)
        }
        for request in UInt16(0)..<8 { driver.ring.makeAvailable(2 * request) }
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { try device.processQueue() } catch { XCTFail("\(error)") }
        }
        XCTAssertEqual(driver.ring.usedIndex, 8)
        for request in 0..<8 {
            let bytes = try driver.memory.read(513, at: GuestAddress(0x80000 + 1024 * UInt64(request)))
            XCTAssertEqual(Array(bytes.prefix(512)), Array(image[(request * 512)..<((request + 1) * 512)]))
            XCTAssertEqual(bytes[512], 0)
        }
    }

    func testResetDropsTheQueue() throws {
        let device = try VirtioBlock(path: try makeImage(Self.pattern(4096)))
        let driver = bringUp(device)
        driver.write(MMIO.status, 0)
        XCTAssertNoThrow(try device.processQueue())
        XCTAssertEqual(driver.ring.usedIndex, 0)
    }

    // MARK: - Opening images

    func testTheCatalogBuildsItAndNamesTheFileOnErrors() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "blk")
        XCTAssertEqual(entry.type, .block)
        let path = try makeImage(Self.pattern(4096))
        let device = try entry.make("\(path),ro")
        XCTAssertEqual(device.deviceType, .block)
        XCTAssertEqual(device.deviceFeatures & VirtioBlockFeature.readOnly, VirtioBlockFeature.readOnly)
        XCTAssertEqual(try VirtioBlockOptions(parsing: "a.img,direct,ro"),
                       VirtioBlockOptions(path: "a.img", readOnly: true, direct: true))

        let missing = directory.appendingPathComponent("missing.img").path
        XCTAssertThrowsError(try entry.make(missing)) {
            XCTAssertEqual("\($0)", "virtio blk '\(missing)': cannot open disk image \(missing) for writing: No such file or directory")
        }
        XCTAssertThrowsError(try entry.make("\(missing),ro")) {
            XCTAssertEqual("\($0)", "virtio blk '\(missing),ro': cannot open disk image \(missing): No such file or directory")
        }
        XCTAssertThrowsError(try entry.make(nil)) { XCTAssertTrue("\($0)".contains("needs an image file"), "\($0)") }
        XCTAssertThrowsError(try entry.make(",ro")) { XCTAssertTrue("\($0)".contains("needs an image file"), "\($0)") }
        XCTAssertThrowsError(try entry.make("\(path),rw")) { XCTAssertTrue("\($0)".contains("unknown option 'rw'"), "\($0)") }
        XCTAssertThrowsError(try entry.make(directory.path)) { XCTAssertTrue("\($0)".hasSuffix("Is a directory"), "\($0)") }
        XCTAssertThrowsError(try entry.make("\(directory.path),ro")) {
            XCTAssertTrue("\($0)".hasSuffix("is not a regular file"), "\($0)")
        }
    }

    func testImagesWithoutAWholeSectorAreRefused() throws {
        for size in [0, 511] {
            let path = try makeImage(Self.pattern(size), name: "small-\(size).img")
            XCTAssertThrowsError(try BlockImage(path: path)) {
                XCTAssertEqual($0 as? BlockImageError, .empty(path: path))
                XCTAssertEqual("\($0)", "disk image \(path) holds no whole 512-byte sector")
            }
        }
    }

    func testAnUnwritableImageSuggestsReadOnly() throws {
        guard getuid() != 0 else { throw XCTSkip("root can write any file") }
        let path = try makeImage(Self.pattern(4096))
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        XCTAssertThrowsError(try BlockImage(path: path)) { XCTAssertTrue("\($0)".hasSuffix("(add ,ro to use it read-only)")) }
        XCTAssertNoThrow(try BlockImage(path: path, readOnly: true))
    }

    /// Reads and writes with O_DIRECT through guest buffers that are not
    /// aligned at all: the bounce buffer must make them acceptable.
    func checkDirectIO(in folder: URL) throws {
        let image = Self.pattern(16 * Self.sector)
        let path = try makeImage(image, in: folder, name: "direct-\(UUID().uuidString).img")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let device: VirtioBlock
        do {
            device = try VirtioBlock(path: path, direct: true)
        } catch {
            // The file system refused O_DIRECT: the error must say so and name the file.
            XCTAssertEqual(error, .directIOUnsupported(path: path))
            XCTAssertTrue("\(error)".contains("does not support direct I/O"))
            return
        }
        XCTAssertTrue(device.image.usesDirectIO)
        let driver = bringUp(device)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0, sector: 1), writableData: [3, 1021],
                                                  memory: driver.memory)), 1025)
        XCTAssertEqual(status(driver), 0)
        XCTAssertEqual(try driver.memory.read(1024, at: GuestAddress(Self.writableDataAddress)), Array(image[512..<1536]))
        let data = Self.pattern(1024, seed: 3)
        try driver.memory.write(Self.header(type: 1, sector: 9) + data, at: GuestAddress(Self.headerAddress + 1))
        try driver.memory.store(UInt8(0xEE), at: GuestAddress(Self.statusAddress))
        XCTAssertEqual(submit(driver, [Buffer(address: Self.headerAddress + 1, length: 16 + 1024, writable: false),
                                       Buffer(address: Self.statusAddress, length: 1, writable: true)]), 1)
        XCTAssertEqual(status(driver), 0)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 4), memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), 0)
        // Sector-aligned guest buffers go straight between guest RAM and the file.
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 0, sector: 12), writableData: [512, 1024],
                                                  memory: driver.memory)), 1537)
        XCTAssertEqual(status(driver), 0)
        XCTAssertEqual(try driver.memory.read(1536, at: GuestAddress(Self.writableDataAddress)), Array(image[(12 * 512)...(15 * 512 - 1)]))
        let aligned = Self.pattern(1024, seed: 5)
        XCTAssertEqual(submit(driver, Self.layout(header: Self.header(type: 1, sector: 2), readableData: aligned,
                                                  memory: driver.memory)), 1)
        XCTAssertEqual(status(driver), 0)
        var expected = image
        expected.replaceSubrange((9 * 512)..<(11 * 512), with: data)
        expected.replaceSubrange((2 * 512)..<(4 * 512), with: aligned)
        XCTAssertEqual(try fileBytes(path), expected)
    }

    func testDirectIOOnTheTemporaryDirectory() throws {
        try checkDirectIO(in: directory)
    }

    /// tmpfs refused O_DIRECT before Linux 6.6 and accepts it since: either
    /// the clear error or a working device is right.
    func testDirectIOOnTmpfs() throws {
        let shm = URL(fileURLWithPath: "/dev/shm")
        guard FileManager.default.isWritableFile(atPath: shm.path) else { throw XCTSkip("no writable /dev/shm") }
        try checkDirectIO(in: shm)
    }
}
