import FuzzSupport
import Glibc
import LKVMDevices

/// 9P2000.L: message decoding (requests, replies, directory entries) and a
/// NinePServer over a temporary directory answering the input as a sequence
/// of messages, each cut at its own size field (the server sees lies too).
///
///     byte 0      reply room: 64 << (b % 8) bytes
///     then        messages
///
/// LKVM_FUZZ_SEEDS=DIR writes the seed corpus (Tversion, Tattach, walks,
/// creates, reads, writes, readdir, ...) into DIR and exits.
let directory = fuzzTemporaryDirectory("9p")
nonisolated(unsafe) var runs = 0

/// A small tree for the server to walk, put back every 4096 runs so that
/// creates and writes cannot fill the disk.
func populate() {
    _ = system("rm -rf '\(directory)'/* '\(directory)'/.[!.]* 2>/dev/null")
    mkdir(directory + "/dir", 0o755)
    for (name, text) in [("file", "hello\n"), ("dir/inner", "inner file\n")] {
        let fd = open(directory + "/" + name, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
    symlink("file", directory + "/link")
    symlink("/etc/passwd", directory + "/escape")
}

func messages(_ requests: [NinePRequest]) -> [UInt8] {
    requests.enumerated().flatMap { NinePMessage(tag: UInt16($0.offset), $0.element).encoded() }
}

let seeds: [[UInt8]] = {
    let hello: [NinePRequest] = [.version(msize: 8192, version: "9P2000.L"),
                                 .attach(fid: 0, afid: ~0, uname: "root", aname: "", uid: 0)]
    return [
        [3] + messages(hello),
        [5] + messages(hello + [.walk(fid: 0, newFid: 1, names: ["dir", "inner"]), .lopen(fid: 1, flags: 0),
                                .read(fid: 1, offset: 0, count: 100), .getattr(fid: 1, requestMask: 0x3FFF),
                                .clunk(fid: 1)]),
        [4] + messages(hello + [.walk(fid: 0, newFid: 1, names: []), .lopen(fid: 1, flags: 0o200000),
                                .readdir(fid: 1, offset: 0, count: 4096), .statfs(fid: 0)]),
        [6] + messages(hello + [.walk(fid: 0, newFid: 1, names: ["dir"]),
                                .lcreate(fid: 1, name: "new", flags: 0o102, mode: 0o644, gid: 0),
                                .write(fid: 1, offset: 3, data: Array("data".utf8)), .fsync(fid: 1, dataOnly: 0),
                                .mkdir(directoryFid: 0, name: "sub", mode: 0o755, gid: 0),
                                .symlink(fid: 0, name: "sl", target: "../x", gid: 0),
                                .renameat(oldDirectoryFid: 0, oldName: "sub", newDirectoryFid: 0, newName: "sub2"),
                                .unlinkat(directoryFid: 0, name: "sub2", flags: 0x200)]),
        [2] + messages(hello + [.walk(fid: 0, newFid: 2, names: ["link"]), .readlink(fid: 2),
                                .walk(fid: 0, newFid: 3, names: ["escape"]), .lopen(fid: 3, flags: 0),
                                .setattr(fid: 2, NinePSetattr(valid: 1, mode: 0o600)),
                                .xattrwalk(fid: 0, newFid: 4, name: "user.x"), .flush(oldTag: 1),
                                .remove(fid: 2)]),
    ]
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let target = getenv("LKVM_FUZZ_SEEDS") {
        let path = String(cString: target)
        for (index, seed) in seeds.enumerated() {
            let fd = open(path + "/seed-\(index)", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            _ = seed.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        exit(0)
    }
    populate()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNineP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let room = 64 << Int(input.byte() % 8)
    var bytes = Array(input.rest)
    _ = try? NinePMessage<NinePRequest>(decoding: bytes)
    _ = try? NinePMessage<NinePReply>(decoding: bytes)
    _ = try? ninePDirectoryEntries(bytes)
    _ = NinePMessage<NinePRequest>.tag(of: bytes)

    runs += 1
    if runs % 4096 == 0 { populate() }
    guard let server = try? NinePServer(sharing: directory) else { fatalError("cannot share \(directory)") }
    var count = 0
    while bytes.count >= 4, count < 64 {
        let length = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let take = max(4, min(length, bytes.count))
        let reply = server.handle(Array(bytes.prefix(take)), replyCapacity: room)
        // Every reply is one whole message: its size field tells its length.
        precondition(reply.count >= 7 && Int(UInt32(reply[0]) | UInt32(reply[1]) << 8 | UInt32(reply[2]) << 16
                         | UInt32(reply[3]) << 24) == reply.count, "a reply whose size field lies")
        bytes.removeFirst(take)
        count += 1
    }
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzNineP_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
