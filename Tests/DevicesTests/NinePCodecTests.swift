@testable import LKVMDevices
import XCTest

final class NinePCodecTests: XCTestCase {
    func testRequestsRoundTrip() throws {
        let requests: [NinePRequest] = [
            .version(msize: 8192, version: "9P2000.L"),
            .attach(fid: 1, afid: NinePSizes.noFid, uname: "root", aname: "/", uid: 0),
            .walk(fid: 1, newFid: 2, names: ["a", "bé", ".."]),
            .read(fid: 2, offset: 1 << 40, count: 4096),
            .write(fid: 2, offset: 3, data: [1, 2, 3]),
            .lcreate(fid: 1, name: "f", flags: 0o102, mode: 0o644, gid: 5),
            .setattr(fid: 3, NinePSetattr(valid: 0x1FF, mode: 1, uid: 2, gid: 3, size: 4, atimeSeconds: 5,
                                          atimeNanoseconds: 6, mtimeSeconds: 7, mtimeNanoseconds: 8)),
            .renameat(oldDirectoryFid: 1, oldName: "x", newDirectoryFid: 2, newName: "y"),
            .unlinkat(directoryFid: 1, name: "z", flags: 0x200),
            .lock(fid: 1, type: 1, flags: 0, start: 0, length: 10, processID: 9, clientID: "host"),
            .readdir(fid: 1, offset: 0, count: 100),
        ]
        for (index, request) in requests.enumerated() {
            let message = NinePMessage(tag: UInt16(index), request)
            XCTAssertEqual(try NinePMessage<NinePRequest>(decoding: message.encoded()), message)
        }
    }

    func testRepliesRoundTripAndHaveTheProtocolsSizes() throws {
        let qid = NinePQid(type: NinePQid.directory, version: 3, path: 99)
        let replies: [NinePReply] = [
            .error(errno: 2), .version(msize: 8192, version: "9P2000.L"), .attach(qid), .walk([qid, qid]),
            .read([9, 8, 7]), .write(count: 3), .clunk, .lopen(qid, ioUnit: 0), .readlink("../x"),
            .getattr(NinePAttributes(qid: qid, mode: 0o40755, uid: 1, gid: 2, linkCount: 3, rdev: 0, size: 4096,
                                     blockSize: 4096, blocks: 8, atimeSeconds: 1, atimeNanoseconds: 2,
                                     mtimeSeconds: 3, mtimeNanoseconds: 4, ctimeSeconds: 5, ctimeNanoseconds: 6)),
            .statfs(NinePStatfs(type: 1, blockSize: 2, blocks: 3, freeBlocks: 4, availableBlocks: 5, files: 6,
                                freeFiles: 7, fsid: 8, nameLength: 255)),
        ]
        for reply in replies {
            let message = NinePMessage(tag: 42, reply)
            XCTAssertEqual(try NinePMessage<NinePReply>(decoding: message.encoded()), message)
        }
        XCTAssertEqual(NinePMessage(tag: 1, NinePReply.error(errno: 2)).encoded(), [11, 0, 0, 0, 7, 1, 0, 2, 0, 0, 0])
        XCTAssertEqual(NinePMessage(tag: 1, NinePReply.attach(qid)).encoded().count, 7 + 13)
        XCTAssertEqual(NinePMessage(tag: 1, replies[9]).encoded().count, 7 + 153)  // Rgetattr: 153-byte body
    }

    func testTruncatedAndOversizedFieldsAreErrors() {
        let bytes = NinePMessage(tag: 1, NinePRequest.write(fid: 1, offset: 0, data: [1, 2, 3])).encoded()
        var lying = bytes
        lying[7 + 12] = 200  // count says 200 bytes of data, 3 follow
        XCTAssertThrowsError(try NinePMessage<NinePRequest>(decoding: lying))
        let tooManyNames = NinePMessage(tag: 1, NinePRequest.walk(fid: 1, newFid: 2,
                                                                  names: Array(repeating: "a", count: 17))).encoded()
        XCTAssertThrowsError(try NinePMessage<NinePRequest>(decoding: tooManyNames)) { error in
            XCTAssertEqual(error as? NinePDecodeError, .tooManyWalkNames(17))
        }
    }
}
