import Foundation
import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// A read-only share (`--9p DIR,TAG,ro`, the sandbox's host root): every
/// request that would change the tree gets EROFS and the host stays as it was.
final class NinePReadOnlyTests: XCTestCase {
    private var shared: URL!
    private var client: NinePTestClient!

    override func setUpWithError() throws {
        shared = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-9p-ro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: shared.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("hello 9p\n".utf8).write(to: shared.appendingPathComponent("hello.txt"))
        client = try NinePTestClient(sharing: shared.path, readOnly: true)
        try client.mount()
        try client.send(.walk(fid: 0, newFid: 1, names: ["hello.txt"]))
    }

    override func tearDownWithError() throws {
        client = nil
        try? FileManager.default.removeItem(at: shared)
    }

    private func assertUnchanged(file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: shared.path).sorted()
        XCTAssertEqual(names, ["hello.txt", "sub"], file: file, line: line)
        XCTAssertEqual(try String(contentsOf: shared.appendingPathComponent("hello.txt"), encoding: .utf8), "hello 9p\n",
                       file: file, line: line)
    }

    func testReadsStillWork() throws {
        guard case .lopen = try client.send(.lopen(fid: 1, flags: UInt32(O_RDONLY))) else { return XCTFail("no Rlopen") }
        XCTAssertEqual(try client.send(.read(fid: 1, offset: 0, count: 100)), .read(Array("hello 9p\n".utf8)))
        guard case .getattr = try client.send(.getattr(fid: 1, requestMask: 0x7FF)) else { return XCTFail("no Rgetattr") }
        guard case .statfs = try client.send(.statfs(fid: 0)) else { return XCTFail("no Rstatfs") }
    }

    func testOpeningForWritingOrTruncationIsRefused() throws {
        XCTAssertEqual(try client.errno(.lopen(fid: 1, flags: UInt32(O_WRONLY))), EROFS)
        XCTAssertEqual(try client.errno(.lopen(fid: 1, flags: UInt32(O_RDWR))), EROFS)
        XCTAssertEqual(try client.errno(.lopen(fid: 1, flags: UInt32(O_RDONLY | O_TRUNC))), EROFS)
        try assertUnchanged()
    }

    func testWriteOnAReadOpenFidIsRefused() throws {
        guard case .lopen = try client.send(.lopen(fid: 1, flags: UInt32(O_RDONLY))) else { return XCTFail("no Rlopen") }
        XCTAssertEqual(try client.errno(.write(fid: 1, offset: 0, data: Array("x".utf8))), EROFS)
        try assertUnchanged()
    }

    func testCreateMkdirSymlinkMknodAndLinkAreRefused() throws {
        try client.send(.walk(fid: 0, newFid: 2, names: []))
        XCTAssertEqual(try client.errno(.lcreate(fid: 2, name: "new", flags: 2, mode: 0o644, gid: 0)), EROFS)
        XCTAssertEqual(try client.errno(.mkdir(directoryFid: 0, name: "made", mode: 0o755, gid: 0)), EROFS)
        XCTAssertEqual(try client.errno(.symlink(fid: 0, name: "link", target: "hello.txt", gid: 0)), EROFS)
        XCTAssertEqual(try client.errno(.mknod(directoryFid: 0, name: "node", mode: 0o10644, major: 0, minor: 0,
                                               gid: 0)), EROFS)
        XCTAssertEqual(try client.errno(.link(directoryFid: 0, fid: 1, name: "hard")), EROFS)
        try assertUnchanged()
    }

    func testRenameUnlinkAndRemoveAreRefused() throws {
        XCTAssertEqual(try client.errno(.rename(fid: 1, directoryFid: 0, name: "moved")), EROFS)
        XCTAssertEqual(try client.errno(.renameat(oldDirectoryFid: 0, oldName: "hello.txt", newDirectoryFid: 0,
                                                  newName: "moved")), EROFS)
        XCTAssertEqual(try client.errno(.unlinkat(directoryFid: 0, name: "hello.txt", flags: 0)), EROFS)
        XCTAssertEqual(try client.errno(.unlinkat(directoryFid: 0, name: "sub", flags: UInt32(AT_REMOVEDIR))), EROFS)
        XCTAssertEqual(try client.errno(.remove(fid: 1)), EROFS)
        // Tremove clunks its fid even when it fails.
        XCTAssertEqual(try client.errno(.getattr(fid: 1, requestMask: 0x7FF)), EBADF)
        try assertUnchanged()
    }

    func testSetattrAndXattrCreateAreRefused() throws {
        let before = try FileManager.default.attributesOfItem(atPath: shared.appendingPathComponent("hello.txt").path)
        XCTAssertEqual(try client.errno(.setattr(fid: 1, NinePSetattr(valid: NinePSetattrField.size, size: 0))), EROFS)
        XCTAssertEqual(try client.errno(.setattr(fid: 1, NinePSetattr(valid: NinePSetattrField.mode, mode: 0o777))),
                       EROFS)
        XCTAssertEqual(try client.errno(.xattrcreate(fid: 1, name: "user.x", size: 1, flags: 0)), EROFS)
        let after = try FileManager.default.attributesOfItem(atPath: shared.appendingPathComponent("hello.txt").path)
        XCTAssertEqual(before[.posixPermissions] as? Int, after[.posixPermissions] as? Int)
        try assertUnchanged()
    }

    func testTheOptionParsesRo() throws {
        XCTAssertTrue(try Virtio9POptions(parsing: "/srv,root,ro").readOnly)
        XCTAssertFalse(try Virtio9POptions(parsing: "/srv,root").readOnly)
        XCTAssertThrowsError(try Virtio9POptions(parsing: "/srv,root,rw"))
        XCTAssertThrowsError(try Virtio9POptions(parsing: "/srv,root,ro,x"))
        let device = try Virtio9P(sharing: shared.path, tag: "root", readOnly: true)
        XCTAssertTrue(device.readOnly)
    }
}
