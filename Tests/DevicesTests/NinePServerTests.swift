import Foundation
import LKVMCore
@testable import LKVMDevices
import XCTest

/// A 9P client in miniature: encodes requests, decodes replies.
final class NinePTestClient {
    let server: NinePServer
    private var nextTag: UInt16 = 1

    init(sharing path: String, readOnly: Bool = false) throws {
        server = try NinePServer(sharing: path, readOnly: readOnly)
    }

    @discardableResult
    func send(_ request: NinePRequest, capacity: Int = 512 * 1024) throws -> NinePReply {
        let tag = nextTag
        nextTag &+= 1
        let bytes = server.handle(NinePMessage(tag: tag, request).encoded(), replyCapacity: capacity)
        let reply = try NinePMessage<NinePReply>(decoding: bytes)
        XCTAssertEqual(reply.tag, tag)
        return reply.body
    }

    /// Tversion then Tattach of fid 0 to the root.
    func mount() throws {
        XCTAssertEqual(try send(.version(msize: 1 << 20, version: "9P2000.L")),
                       .version(msize: 512 * 1024, version: "9P2000.L"))
        guard case .attach(let qid) = try send(.attach(fid: 0, afid: NinePSizes.noFid, uname: "root", aname: "",
                                                        uid: 0)) else { return XCTFail("no Rattach") }
        XCTAssertEqual(qid.type, NinePQid.directory)
    }

    func errno(_ request: NinePRequest) throws -> Int32? {
        if case .error(let code) = try send(request) { return Int32(code) }
        return nil
    }
}

final class NinePServerTests: XCTestCase {
    private var base: URL!
    private var shared: URL!
    private var client: NinePTestClient!

    override func setUpWithError() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-9p-\(UUID().uuidString)")
        shared = base.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: shared.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("hello 9p\n".utf8).write(to: shared.appendingPathComponent("hello.txt"))
        try Data("secret".utf8).write(to: base.appendingPathComponent("outside.txt"))
        client = try NinePTestClient(sharing: shared.path)
        try client.mount()
    }

    override func tearDownWithError() throws {
        client = nil
        try? FileManager.default.removeItem(at: base)
    }

    private func names(inDirectoryFid fid: UInt32) throws -> [String] {
        guard case .readdir(let packed) = try client.send(.readdir(fid: fid, offset: 0, count: 8192)) else {
            XCTFail("no Rreaddir"); return []
        }
        return try ninePDirectoryEntries(packed).map(\.name).sorted()
    }

    func testWalkGetattrOpenReadAndClunk() throws {
        guard case .walk(let qids) = try client.send(.walk(fid: 0, newFid: 1, names: ["hello.txt"])) else {
            return XCTFail("no Rwalk")
        }
        XCTAssertEqual(qids.count, 1)
        guard case .getattr(let attributes) = try client.send(.getattr(fid: 1, requestMask: 0x7FF)) else {
            return XCTFail("no Rgetattr")
        }
        XCTAssertEqual(attributes.size, 9)
        XCTAssertEqual(attributes.mode & 0o170000, 0o100000)
        XCTAssertEqual(attributes.qid, qids[0])
        guard case .lopen = try client.send(.lopen(fid: 1, flags: 0)) else { return XCTFail("no Rlopen") }
        XCTAssertEqual(try client.send(.read(fid: 1, offset: 0, count: 100)), .read(Array("hello 9p\n".utf8)))
        XCTAssertEqual(try client.send(.read(fid: 1, offset: 6, count: 2)), .read(Array("9p".utf8)))
        XCTAssertEqual(try client.send(.clunk(fid: 1)), .clunk)
        XCTAssertEqual(try client.errno(.read(fid: 1, offset: 0, count: 1)), EBADF)
    }

    func testReaddirListsTheRootAndResumesFromACookie() throws {
        try client.send(.walk(fid: 0, newFid: 1, names: []))
        guard case .lopen = try client.send(.lopen(fid: 1, flags: 0)) else { return XCTFail("no Rlopen") }
        XCTAssertEqual(try names(inDirectoryFid: 1), [".", "..", "hello.txt", "sub"])
        // Small replies: one entry at a time, continuing from each cookie.
        var offset: UInt64 = 0
        var seen: [String] = []
        while case .readdir(let packed) = try client.send(.readdir(fid: 1, offset: offset, count: 40)), !packed.isEmpty {
            let entries = try ninePDirectoryEntries(packed)
            seen += entries.map(\.name)
            offset = entries.last!.offset
        }
        XCTAssertEqual(seen.sorted(), [".", "..", "hello.txt", "sub"])
    }

    func testStatfsAnswers() throws {
        guard case .statfs(let status) = try client.send(.statfs(fid: 0)) else { return XCTFail("no Rstatfs") }
        XCTAssertGreaterThan(status.blockSize, 0)
    }

    func testCreateWriteMkdirRenameSymlinkSetattrAndUnlink() throws {
        try client.send(.walk(fid: 0, newFid: 1, names: []))
        guard case .lcreate = try client.send(.lcreate(fid: 1, name: "new.txt", flags: 2, mode: 0o644, gid: 0)) else {
            return XCTFail("no Rlcreate")
        }
        XCTAssertEqual(try client.send(.write(fid: 1, offset: 0, data: Array("written".utf8))), .write(count: 7))
        XCTAssertEqual(try client.send(.fsync(fid: 1, dataOnly: 0)), .fsync)
        XCTAssertEqual(try String(contentsOf: shared.appendingPathComponent("new.txt"), encoding: .utf8), "written")

        guard case .mkdir = try client.send(.mkdir(directoryFid: 0, name: "made", mode: 0o755, gid: 0)) else {
            return XCTFail("no Rmkdir")
        }
        try client.send(.walk(fid: 0, newFid: 2, names: ["made"]))
        XCTAssertEqual(try client.send(.renameat(oldDirectoryFid: 0, oldName: "new.txt", newDirectoryFid: 2,
                                                 newName: "moved.txt")), .renameat)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shared.appendingPathComponent("made/moved.txt").path))

        guard case .symlink = try client.send(.symlink(fid: 2, name: "link", target: "moved.txt", gid: 0)) else {
            return XCTFail("no Rsymlink")
        }
        try client.send(.walk(fid: 2, newFid: 3, names: ["link"]))
        XCTAssertEqual(try client.send(.readlink(fid: 3)), .readlink("moved.txt"))

        try client.send(.walk(fid: 2, newFid: 4, names: ["moved.txt"]))
        XCTAssertEqual(try client.send(.setattr(fid: 4, NinePSetattr(valid: NinePSetattrField.size | NinePSetattrField.mode,
                                                                       mode: 0o600, size: 3))), .setattr)
        guard case .getattr(let attributes) = try client.send(.getattr(fid: 4, requestMask: 0x7FF)) else {
            return XCTFail("no Rgetattr")
        }
        XCTAssertEqual(attributes.size, 3)
        XCTAssertEqual(attributes.mode & 0o7777, 0o600)

        XCTAssertEqual(try client.send(.unlinkat(directoryFid: 2, name: "link", flags: 0)), .unlinkat)
        XCTAssertEqual(try client.send(.unlinkat(directoryFid: 2, name: "moved.txt", flags: 0)), .unlinkat)
        XCTAssertEqual(try client.errno(.unlinkat(directoryFid: 0, name: "made", flags: 0)), EISDIR)
        XCTAssertEqual(try client.send(.unlinkat(directoryFid: 0, name: "made", flags: 0x200)), .unlinkat)
        XCTAssertFalse(FileManager.default.fileExists(atPath: shared.appendingPathComponent("made").path))
    }

    // MARK: escapes

    func testDotDotAtTheRootStaysAtTheRoot() throws {
        guard case .walk(let qids) = try client.send(.walk(fid: 0, newFid: 1, names: ["..", "..", ".."])) else {
            return XCTFail("no Rwalk")
        }
        XCTAssertEqual(qids.count, 3)
        guard case .attach(let rootQid) = try client.send(.attach(fid: 9, afid: NinePSizes.noFid, uname: "", aname: "",
                                                                   uid: 0)) else { return XCTFail() }
        XCTAssertEqual(qids.last, rootQid)
        try client.send(.lopen(fid: 1, flags: 0))
        XCTAssertEqual(try names(inDirectoryFid: 1), [".", "..", "hello.txt", "sub"])
        // "../outside.txt": ".." is the root, which has no outside.txt: a
        // partial walk (one qid) that binds nothing.
        XCTAssertEqual(try client.send(.walk(fid: 0, newFid: 2, names: ["..", "outside.txt"])), .walk([rootQid]))
        XCTAssertEqual(try client.errno(.clunk(fid: 2)), EBADF)
        // From a subdirectory, ".." reaches the root and no further.
        guard case .walk(let up) = try client.send(.walk(fid: 0, newFid: 3, names: ["sub", "..", ".."])) else {
            return XCTFail("no Rwalk")
        }
        XCTAssertEqual(up.last, rootQid)
    }

    func testNamesWithSlashesDotsOrNothingAreRefused() throws {
        for name in ["../outside.txt", "sub/../..", "/etc", "", ".", "a\u{0}b"] {
            XCTAssertNotNil(try client.errno(.walk(fid: 0, newFid: 1, names: [name])), name)
            XCTAssertNotNil(try client.errno(.mkdir(directoryFid: 0, name: name, mode: 0o755, gid: 0)), name)
            XCTAssertNotNil(try client.errno(.lcreate(fid: 0, name: name, flags: 2, mode: 0o644, gid: 0)), name)
        }
        XCTAssertEqual(try client.errno(.renameat(oldDirectoryFid: 0, oldName: "hello.txt", newDirectoryFid: 0,
                                                  newName: "../stolen.txt")), EINVAL)
        XCTAssertEqual(try client.errno(.unlinkat(directoryFid: 0, name: "../outside.txt", flags: 0)), EINVAL)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base.appendingPathComponent("outside.txt").path))
    }

    func testHostSymlinksAreNeverFollowed() throws {
        try FileManager.default.createSymbolicLink(atPath: shared.appendingPathComponent("to-root").path,
                                                   withDestinationPath: "/")
        try FileManager.default.createSymbolicLink(atPath: shared.appendingPathComponent("to-outside").path,
                                                   withDestinationPath: "../outside.txt")
        try FileManager.default.createSymbolicLink(atPath: shared.appendingPathComponent("to-parent").path,
                                                   withDestinationPath: "..")
        XCTAssertEqual(try client.errno(.walk(fid: 0, newFid: 1, names: ["to-root", "etc"])), nil,
                       "a partial walk answers with the qids so far")
        XCTAssertEqual(try client.send(.walk(fid: 0, newFid: 1, names: ["to-root", "etc"])),
                       try client.send(.walk(fid: 0, newFid: 2, names: ["to-root"])))
        XCTAssertEqual(try client.errno(.clunk(fid: 1)), EBADF, "a partial walk binds no fid")
        XCTAssertEqual(try client.errno(.walk(fid: 2, newFid: 3, names: ["etc"])), ENOTDIR)
        XCTAssertEqual(try client.errno(.lopen(fid: 2, flags: 0)), ELOOP)
        XCTAssertEqual(try client.send(.readlink(fid: 2)), .readlink("/"))
        try client.send(.walk(fid: 0, newFid: 4, names: ["to-outside"]))
        XCTAssertEqual(try client.errno(.lopen(fid: 4, flags: 0)), ELOOP)
        XCTAssertEqual(try client.errno(.setattr(fid: 4, NinePSetattr(valid: NinePSetattrField.size, size: 0))),
                       EOPNOTSUPP)
        try client.send(.walk(fid: 0, newFid: 5, names: ["to-parent"]))
        XCTAssertEqual(try client.errno(.walk(fid: 5, newFid: 6, names: ["outside.txt"])), ENOTDIR)
        // Creating through a link's name refuses instead of following it.
        XCTAssertEqual(try client.errno(.lcreate(fid: 0, name: "to-outside", flags: 0o1001, mode: 0o644, gid: 0)),
                       ELOOP)
        XCTAssertEqual(try String(contentsOf: base.appendingPathComponent("outside.txt"), encoding: .utf8), "secret")
    }

    func testAGuestMadeSymlinkOutsideCannotBeOpened() throws {
        guard case .symlink = try client.send(.symlink(fid: 0, name: "evil", target: "../outside.txt", gid: 0)) else {
            return XCTFail("no Rsymlink")
        }
        try client.send(.walk(fid: 0, newFid: 1, names: ["evil"]))
        XCTAssertEqual(try client.errno(.lopen(fid: 1, flags: 2)), ELOOP)
        guard case .walk(let partial) = try client.send(.walk(fid: 0, newFid: 2, names: ["evil", "x"])) else {
            return XCTFail("no Rwalk")
        }
        XCTAssertEqual(partial.map(\.type), [NinePQid.symlink], "stops at the link")
        XCTAssertEqual(try client.errno(.clunk(fid: 2)), EBADF)
        XCTAssertEqual(try client.errno(.link(directoryFid: 0, fid: 1, name: "hard")), EINVAL)
    }

    func testARenameRaceCannotCarryAWalkOutside() throws {
        // The guest holds a fid in sub/, then renames sub/ away and puts a
        // link to "/" in its place: the fid still names the same directory.
        try client.send(.walk(fid: 0, newFid: 1, names: ["sub"]))
        XCTAssertEqual(try client.send(.renameat(oldDirectoryFid: 0, oldName: "sub", newDirectoryFid: 0,
                                                 newName: "sub2")), .renameat)
        guard case .symlink = try client.send(.symlink(fid: 0, name: "sub", target: "/", gid: 0)) else {
            return XCTFail("no Rsymlink")
        }
        guard case .mkdir = try client.send(.mkdir(directoryFid: 1, name: "inside", mode: 0o755, gid: 0)) else {
            return XCTFail("no Rmkdir")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: shared.appendingPathComponent("sub2/inside").path))
        XCTAssertEqual(try client.errno(.walk(fid: 0, newFid: 2, names: ["sub", "etc"])), nil)
        XCTAssertEqual(try client.errno(.clunk(fid: 2)), EBADF)
    }

    func testMalformedMessagesGetErrorsNotCrashes() throws {
        let good = NinePMessage(tag: 7, NinePRequest.walk(fid: 0, newFid: 1, names: ["hello.txt"])).encoded()
        for cut in [0, 3, 7, 12, good.count - 1] {
            let reply = client.server.handle(Array(good.prefix(cut)), replyCapacity: 4096)
            guard case .error = try NinePMessage<NinePReply>(decoding: reply).body else { return XCTFail("cut \(cut)") }
        }
        var lying = good
        lying[0] = 0xFF  // size field larger than the message
        XCTAssertEqual(try NinePMessage<NinePReply>(decoding: client.server.handle(lying, replyCapacity: 4096)).body,
                       .error(errno: UInt32(EPROTO)))
        var unknown = good
        unknown[4] = 99
        XCTAssertEqual(try NinePMessage<NinePReply>(decoding: client.server.handle(unknown, replyCapacity: 4096)).body,
                       .error(errno: UInt32(EOPNOTSUPP)))
        // A read larger than the reply room is cut to fit.
        try client.send(.walk(fid: 0, newFid: 1, names: ["hello.txt"]))
        try client.send(.lopen(fid: 1, flags: 0))
        XCTAssertEqual(try client.send(.read(fid: 1, offset: 0, count: 1000), capacity: 11 + 4), .read(Array("hell".utf8)))
        XCTAssertEqual(try client.errno(.read(fid: 1, offset: UInt64.max, count: 10)), EINVAL)
    }
}

/// virtio-9p behind the mmio transport: the tag in the configuration space,
/// and a Tversion answered through the queue.
final class NinePDeviceTests: XCTestCase {
    func testTagAndVersionThroughTheQueue() throws {
        let device = try Virtio9P(sharing: FileManager.default.temporaryDirectory.path, tag: "share")
        let driver = FakeMMIODriver(device: device)
        XCTAssertEqual(driver.probe(), 9)
        XCTAssertEqual(driver.deviceFeatures() & 1, 1)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config, size: 2), 5)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 2, size: 1), UInt64(UInt8(ascii: "s")))
        driver.bringUp()
        let request = NinePMessage(tag: 3, NinePRequest.version(msize: 8192, version: "9P2000.L")).encoded()
        try driver.memory.write(request[...], at: GuestAddress(0x10000))
        driver.ring.setDescriptor(0, address: 0x10000, length: UInt32(request.count), flags: Desc.next, next: 1)
        driver.ring.setDescriptor(1, address: 0x20000, length: 8192, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 1)
        let length = Int(driver.ring.usedEntry(0).length)
        let reply = try NinePMessage<NinePReply>(decoding: driver.memory.read(length, at: GuestAddress(0x20000)))
        XCTAssertEqual(reply, NinePMessage(tag: 3, .version(msize: 8192, version: "9P2000.L")))
    }

    /// Sends one request through the queue with the reply buffer cut into
    /// `replyPieces` writable descriptors; returns the used length and the
    /// reply bytes gathered from those pieces.
    private func exchange(_ driver: FakeMMIODriver, _ request: NinePMessage<NinePRequest>,
                          replyPieces: [UInt32], slot: UInt16, requestPieces: [Int]? = nil,
                          sizeField: UInt32? = nil) throws -> (used: Int, reply: [UInt8]) {
        var bytes = request.encoded()
        if let sizeField { bytes.replaceSubrange(0..<4, with: (0..<4).map { UInt8(truncatingIfNeeded: sizeField >> (8 * $0)) }) }
        // The request in the given pieces (the rest in one), each at its own
        // address with a gap after it.
        var cuts = requestPieces ?? [bytes.count]
        if cuts.reduce(0, +) < bytes.count { cuts.append(bytes.count - cuts.reduce(0, +)) }
        var next: UInt16 = 0, done = 0, requestAddress: UInt64 = 0x10000
        for cut in cuts {
            try driver.memory.write(bytes[done..<(done + cut)], at: GuestAddress(requestAddress))
            driver.ring.setDescriptor(next, address: requestAddress, length: UInt32(cut), flags: Desc.next, next: next + 1)
            requestAddress += UInt64(cut) + 0x1000
            done += cut
            next += 1
        }
        let first = Int(next)
        var address: UInt64 = 0x40000
        var pieces: [(UInt64, UInt32)] = []
        for (index, length) in replyPieces.enumerated() {
            let last = index == replyPieces.count - 1
            driver.ring.setDescriptor(UInt16(first + index), address: address, length: length,
                                      flags: Desc.write | (last ? 0 : Desc.next), next: UInt16(first + index + 1))
            pieces.append((address, length))
            address += UInt64(length) + 0x1000  // gaps: the pieces are not contiguous
        }
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, slot + 1)
        let used = Int(driver.ring.usedEntry(slot).length)
        var gathered: [UInt8] = []
        for (start, length) in pieces where gathered.count < used {
            gathered += try driver.memory.read(min(Int(length), used - gathered.count), at: GuestAddress(start))
        }
        return (used, gathered)
    }

    func testReadDataGoesStraightIntoTheGuestsScatteredBuffers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-9p-dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let content = (0..<20000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try Data(content).write(to: directory.appendingPathComponent("data.bin"))
        let device = try Virtio9P(sharing: directory.path)
        let driver = FakeMMIODriver(device: device)
        XCTAssertEqual(driver.probe(), 9)
        driver.bringUp()
        var slot: UInt16 = 0
        func send(_ body: NinePRequest, pieces: [UInt32] = [8192]) throws -> (used: Int, reply: NinePReply) {
            let (used, bytes) = try exchange(driver, NinePMessage(tag: 7, body), replyPieces: pieces, slot: slot)
            slot += 1
            let reply = try NinePMessage<NinePReply>(decoding: bytes)
            XCTAssertEqual(reply.tag, 7)
            return (used, reply.body)
        }
        _ = try send(.version(msize: 65536, version: "9P2000.L"))
        _ = try send(.attach(fid: 0, afid: NinePSizes.noFid, uname: "root", aname: "", uid: 0))
        _ = try send(.walk(fid: 0, newFid: 1, names: ["data.bin"]))
        guard case .lopen = try send(.lopen(fid: 1, flags: 0)).reply else { return XCTFail("no Rlopen") }

        // The header straddles the first two pieces; the data runs on
        // through pieces of odd sizes; the last one is not filled.
        let (used, reply) = try send(.read(fid: 1, offset: 100, count: 12000), pieces: [5, 9, 4000, 3, 9000])
        XCTAssertEqual(used, NinePSizes.readReplyHeader + 12000, "used length counts header and data")
        XCTAssertEqual(reply, .read(Array(content[100..<12100])))

        // Cut to what the reply buffers hold; at the end of the file, short.
        XCTAssertEqual(try send(.read(fid: 1, offset: 0, count: 5000), pieces: [11 + 300]).reply,
                       .read(Array(content[0..<300])))
        XCTAssertEqual(try send(.read(fid: 1, offset: 19990, count: 100)).reply, .read(Array(content[19990...])))
        XCTAssertEqual(try send(.read(fid: 1, offset: 50000, count: 100)).reply, .read([]))
        // Failures still come back as Rlerror through the queue.
        XCTAssertEqual(try send(.read(fid: 9, offset: 0, count: 10)).reply, .error(errno: UInt32(EBADF)))
        XCTAssertEqual(try send(.read(fid: 1, offset: UInt64.max, count: 10)).reply, .error(errno: UInt32(EINVAL)))
        XCTAssertFalse(driver.needsReset)
    }

    func testWriteDataGoesStraightFromTheGuestsBuffersToTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-9p-dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("out.bin")
        try Data(repeating: 0xEE, count: 100).write(to: target)
        for readOnly in [false, true] {
            let device = try Virtio9P(sharing: directory.path, readOnly: readOnly)
            let driver = FakeMMIODriver(device: device)
            XCTAssertEqual(driver.probe(), 9)
            driver.bringUp()
            var slot: UInt16 = 0
            func send(_ body: NinePRequest, pieces: [Int]? = nil, sizeField: UInt32? = nil) throws -> NinePReply {
                let (_, bytes) = try exchange(driver, NinePMessage(tag: 9, body), replyPieces: [4096], slot: slot,
                                              requestPieces: pieces, sizeField: sizeField)
                slot += 1
                let reply = try NinePMessage<NinePReply>(decoding: bytes)
                XCTAssertEqual(reply.tag, 9)
                return reply.body
            }
            _ = try send(.version(msize: 65536, version: "9P2000.L"))
            _ = try send(.attach(fid: 0, afid: NinePSizes.noFid, uname: "root", aname: "", uid: 0))
            _ = try send(.walk(fid: 0, newFid: 1, names: ["out.bin"]))
            _ = try send(.lopen(fid: 1, flags: UInt32(readOnly ? O_RDONLY : O_RDWR)))
            let data = (0..<9000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
            // The 23-byte header straddles two pieces; the data runs on through odd sizes.
            let reply = try send(.write(fid: 1, offset: 50, data: data), pieces: [7, 20, 1000, 3, 5000])
            if readOnly {
                XCTAssertEqual(reply, .error(errno: UInt32(EROFS)))
                continue
            }
            XCTAssertEqual(reply, .write(count: 9000))
            let written = try [UInt8](Data(contentsOf: target))
            XCTAssertEqual(written.count, 9050)
            XCTAssertEqual(Array(written[0..<50]), [UInt8](repeating: 0xEE, count: 50), "bytes before the offset kept")
            XCTAssertEqual(Array(written[50...]), data)
            // An unknown fid, an offset past 2^63, a size field that lies: errors, file unchanged.
            XCTAssertEqual(try send(.write(fid: 7, offset: 0, data: [1, 2, 3])), .error(errno: UInt32(EBADF)))
            XCTAssertEqual(try send(.write(fid: 1, offset: UInt64.max, data: [1, 2, 3])), .error(errno: UInt32(EINVAL)))
            XCTAssertEqual(try send(.write(fid: 1, offset: 0, data: [1, 2, 3]), sizeField: 40), .error(errno: UInt32(EPROTO)))
            XCTAssertEqual(try [UInt8](Data(contentsOf: target)), written)
            XCTAssertFalse(driver.needsReset)
        }
    }
}
