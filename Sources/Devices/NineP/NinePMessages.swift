/// 9P2000.L messages (the Linux kernel's Documentation/filesystems/9p.rst and
/// the protocol's message formats). Every message is size[4] type[1] tag[2]
/// then its fields; a T-message's reply has the type number plus one.

public enum NinePMessageType: UInt8, Sendable {
    case rlerror = 7
    case tstatfs = 8, rstatfs
    case tlopen = 12, rlopen
    case tlcreate = 14, rlcreate
    case tsymlink = 16, rsymlink
    case tmknod = 18, rmknod
    case trename = 20, rrename
    case treadlink = 22, rreadlink
    case tgetattr = 24, rgetattr
    case tsetattr = 26, rsetattr
    case txattrwalk = 30, rxattrwalk
    case txattrcreate = 32, rxattrcreate
    case treaddir = 40, rreaddir
    case tfsync = 50, rfsync
    case tlock = 52, rlock
    case tgetlock = 54, rgetlock
    case tlink = 70, rlink
    case tmkdir = 72, rmkdir
    case trenameat = 74, rrenameat
    case tunlinkat = 76, runlinkat
    case tversion = 100, rversion
    case tauth = 102, rauth
    case tattach = 104, rattach
    case tflush = 108, rflush
    case twalk = 110, rwalk
    case tread = 116, rread
    case twrite = 118, rwrite
    case tclunk = 120, rclunk
    case tremove = 122, rremove
}

/// Sizes fixed by the protocol.
public enum NinePSizes {
    /// size[4] type[1] tag[2].
    public static let header = 7
    /// Header plus count[4]: what precedes the data of Rread and Rreaddir.
    public static let readReplyHeader = 11
    /// Names per Twalk (MAXWELEM).
    public static let maxWalkNames = 16
    public static let noTag: UInt16 = 0xFFFF
    public static let noFid: UInt32 = 0xFFFF_FFFF
}

/// Tsetattr's `valid` bits.
public enum NinePSetattrField {
    public static let mode: UInt32 = 0x1, uid: UInt32 = 0x2, gid: UInt32 = 0x4, size: UInt32 = 0x8
    public static let atime: UInt32 = 0x10, mtime: UInt32 = 0x20, ctime: UInt32 = 0x40
    public static let atimeSet: UInt32 = 0x80, mtimeSet: UInt32 = 0x100
}

public struct NinePSetattr: Equatable, Sendable {
    public var valid: UInt32
    public var mode: UInt32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
    public var size: UInt64 = 0
    public var atimeSeconds: UInt64 = 0, atimeNanoseconds: UInt64 = 0
    public var mtimeSeconds: UInt64 = 0, mtimeNanoseconds: UInt64 = 0

    public init(valid: UInt32, mode: UInt32 = 0, uid: UInt32 = 0, gid: UInt32 = 0, size: UInt64 = 0,
                atimeSeconds: UInt64 = 0, atimeNanoseconds: UInt64 = 0,
                mtimeSeconds: UInt64 = 0, mtimeNanoseconds: UInt64 = 0) {
        self.valid = valid
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atimeSeconds = atimeSeconds
        self.atimeNanoseconds = atimeNanoseconds
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
    }
}

/// What Rgetattr carries (the "basic" fields: valid = 0x7ff).
public struct NinePAttributes: Equatable, Sendable {
    public static let basicFields: UInt64 = 0x7FF
    public var valid: UInt64 = basicFields
    public var qid: NinePQid
    public var mode: UInt32, uid: UInt32, gid: UInt32
    public var linkCount: UInt64, rdev: UInt64, size: UInt64, blockSize: UInt64, blocks: UInt64
    public var atimeSeconds: UInt64, atimeNanoseconds: UInt64
    public var mtimeSeconds: UInt64, mtimeNanoseconds: UInt64
    public var ctimeSeconds: UInt64, ctimeNanoseconds: UInt64
}

public struct NinePStatfs: Equatable, Sendable {
    public var type: UInt32, blockSize: UInt32
    public var blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64
    public var files: UInt64, freeFiles: UInt64, fsid: UInt64
    public var nameLength: UInt32
}

/// A request the client sends.
public enum NinePRequest: Equatable, Sendable {
    case version(msize: UInt32, version: String)
    case auth(afid: UInt32, uname: String, aname: String, uid: UInt32)
    case attach(fid: UInt32, afid: UInt32, uname: String, aname: String, uid: UInt32)
    case flush(oldTag: UInt16)
    case walk(fid: UInt32, newFid: UInt32, names: [String])
    case read(fid: UInt32, offset: UInt64, count: UInt32)
    case write(fid: UInt32, offset: UInt64, data: [UInt8])
    case clunk(fid: UInt32)
    case remove(fid: UInt32)
    case statfs(fid: UInt32)
    case lopen(fid: UInt32, flags: UInt32)
    case lcreate(fid: UInt32, name: String, flags: UInt32, mode: UInt32, gid: UInt32)
    case symlink(fid: UInt32, name: String, target: String, gid: UInt32)
    case mknod(directoryFid: UInt32, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32)
    case rename(fid: UInt32, directoryFid: UInt32, name: String)
    case readlink(fid: UInt32)
    case getattr(fid: UInt32, requestMask: UInt64)
    case setattr(fid: UInt32, NinePSetattr)
    case xattrwalk(fid: UInt32, newFid: UInt32, name: String)
    case xattrcreate(fid: UInt32, name: String, size: UInt64, flags: UInt32)
    case readdir(fid: UInt32, offset: UInt64, count: UInt32)
    case fsync(fid: UInt32, dataOnly: UInt32)
    case lock(fid: UInt32, type: UInt8, flags: UInt32, start: UInt64, length: UInt64, processID: UInt32, clientID: String)
    case getlock(fid: UInt32, type: UInt8, start: UInt64, length: UInt64, processID: UInt32, clientID: String)
    case link(directoryFid: UInt32, fid: UInt32, name: String)
    case mkdir(directoryFid: UInt32, name: String, mode: UInt32, gid: UInt32)
    case renameat(oldDirectoryFid: UInt32, oldName: String, newDirectoryFid: UInt32, newName: String)
    case unlinkat(directoryFid: UInt32, name: String, flags: UInt32)
}

/// One directory entry of Rreaddir.
public struct NinePDirectoryEntry: Equatable, Sendable {
    public var qid: NinePQid
    /// The cookie that continues the listing after this entry.
    public var offset: UInt64
    public var type: UInt8
    public var name: String

    var encodedSize: Int { NinePQid.encodedSize + 8 + 1 + NinePWriter.encodedSize(of: name) }

    func encode(into writer: inout NinePWriter) {
        writer.qid(qid)
        writer.u64(offset)
        writer.u8(type)
        writer.string(name)
    }
}

/// A reply the server sends.
public enum NinePReply: Equatable, Sendable {
    case error(errno: UInt32)
    case version(msize: UInt32, version: String)
    case attach(NinePQid)
    case flush
    case walk([NinePQid])
    case read([UInt8])
    case write(count: UInt32)
    case clunk
    case remove
    case statfs(NinePStatfs)
    case lopen(NinePQid, ioUnit: UInt32)
    case lcreate(NinePQid, ioUnit: UInt32)
    case symlink(NinePQid)
    case rename
    case readlink(String)
    case getattr(NinePAttributes)
    case setattr
    case xattrwalk(size: UInt64)
    /// Already-encoded entries (the server packs them to fit `count`).
    case readdir([UInt8])
    case fsync
    case lock(status: UInt8)
    case getlock(type: UInt8, start: UInt64, length: UInt64, processID: UInt32, clientID: String)
    case link
    case mkdir(NinePQid)
    case renameat
    case unlinkat
}

public struct NinePMessage<Body: Equatable & Sendable>: Equatable, Sendable {
    public var tag: UInt16
    public var body: Body

    public init(tag: UInt16, _ body: Body) {
        self.tag = tag
        self.body = body
    }
}

/// Reads size[4] type[1] tag[2] and checks the size against the bytes.
private func readHeader(_ bytes: [UInt8]) throws(NinePDecodeError) -> (NinePReader, type: UInt8, tag: UInt16) {
    var reader = NinePReader(bytes)
    let size = try reader.u32()
    guard Int(size) == bytes.count else { throw .badSize(declared: size, received: bytes.count) }
    let type = try reader.u8()
    let tag = try reader.u16()
    return (reader, type, tag)
}

private func frame(type: NinePMessageType, tag: UInt16, _ fill: (inout NinePWriter) -> Void) -> [UInt8] {
    var body = NinePWriter()
    fill(&body)
    var message = NinePWriter()
    message.u32(UInt32(truncatingIfNeeded: NinePSizes.header + body.bytes.count))
    message.u8(type.rawValue)
    message.u16(tag)
    message.data(body.bytes)
    return message.bytes
}

extension NinePMessage where Body == NinePRequest {
    /// The tag of a message too broken to decode, if its header is readable,
    /// so that the error reply can still name it.
    public static func tag(of bytes: [UInt8]) -> UInt16? {
        guard bytes.count >= NinePSizes.header else { return nil }
        return UInt16(bytes[5]) | UInt16(bytes[6]) << 8
    }

    public init(decoding bytes: [UInt8]) throws(NinePDecodeError) {
        var (r, rawType, tag) = try readHeader(bytes)
        guard let type = NinePMessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let body: NinePRequest
        switch type {
        case .tversion: body = .version(msize: try r.u32(), version: try r.string())
        case .tauth: body = .auth(afid: try r.u32(), uname: try r.string(), aname: try r.string(), uid: try r.u32())
        case .tattach:
            body = .attach(fid: try r.u32(), afid: try r.u32(), uname: try r.string(), aname: try r.string(),
                           uid: try r.u32())
        case .tflush: body = .flush(oldTag: try r.u16())
        case .twalk:
            let fid = try r.u32(), newFid = try r.u32()
            let count = Int(try r.u16())
            guard count <= NinePSizes.maxWalkNames else { throw .tooManyWalkNames(count) }
            var names: [String] = []
            for _ in 0..<count { names.append(try r.string()) }
            body = .walk(fid: fid, newFid: newFid, names: names)
        case .tread: body = .read(fid: try r.u32(), offset: try r.u64(), count: try r.u32())
        case .twrite:
            let fid = try r.u32(), offset = try r.u64(), count = try r.u32()
            body = .write(fid: fid, offset: offset, data: try r.data(Int(count)))
        case .tclunk: body = .clunk(fid: try r.u32())
        case .tremove: body = .remove(fid: try r.u32())
        case .tstatfs: body = .statfs(fid: try r.u32())
        case .tlopen: body = .lopen(fid: try r.u32(), flags: try r.u32())
        case .tlcreate:
            body = .lcreate(fid: try r.u32(), name: try r.string(), flags: try r.u32(), mode: try r.u32(),
                            gid: try r.u32())
        case .tsymlink: body = .symlink(fid: try r.u32(), name: try r.string(), target: try r.string(), gid: try r.u32())
        case .tmknod:
            body = .mknod(directoryFid: try r.u32(), name: try r.string(), mode: try r.u32(), major: try r.u32(),
                          minor: try r.u32(), gid: try r.u32())
        case .trename: body = .rename(fid: try r.u32(), directoryFid: try r.u32(), name: try r.string())
        case .treadlink: body = .readlink(fid: try r.u32())
        case .tgetattr: body = .getattr(fid: try r.u32(), requestMask: try r.u64())
        case .tsetattr:
            let fid = try r.u32()
            let attributes = NinePSetattr(valid: try r.u32(), mode: try r.u32(), uid: try r.u32(), gid: try r.u32(),
                                          size: try r.u64(), atimeSeconds: try r.u64(), atimeNanoseconds: try r.u64(),
                                          mtimeSeconds: try r.u64(), mtimeNanoseconds: try r.u64())
            body = .setattr(fid: fid, attributes)
        case .txattrwalk: body = .xattrwalk(fid: try r.u32(), newFid: try r.u32(), name: try r.string())
        case .txattrcreate:
            body = .xattrcreate(fid: try r.u32(), name: try r.string(), size: try r.u64(), flags: try r.u32())
        case .treaddir: body = .readdir(fid: try r.u32(), offset: try r.u64(), count: try r.u32())
        case .tfsync: body = .fsync(fid: try r.u32(), dataOnly: r.remaining >= 4 ? try r.u32() : 0)
        case .tlock:
            body = .lock(fid: try r.u32(), type: try r.u8(), flags: try r.u32(), start: try r.u64(),
                         length: try r.u64(), processID: try r.u32(), clientID: try r.string())
        case .tgetlock:
            body = .getlock(fid: try r.u32(), type: try r.u8(), start: try r.u64(), length: try r.u64(),
                            processID: try r.u32(), clientID: try r.string())
        case .tlink: body = .link(directoryFid: try r.u32(), fid: try r.u32(), name: try r.string())
        case .tmkdir: body = .mkdir(directoryFid: try r.u32(), name: try r.string(), mode: try r.u32(), gid: try r.u32())
        case .trenameat:
            body = .renameat(oldDirectoryFid: try r.u32(), oldName: try r.string(), newDirectoryFid: try r.u32(),
                             newName: try r.string())
        case .tunlinkat: body = .unlinkat(directoryFid: try r.u32(), name: try r.string(), flags: try r.u32())
        default: throw .unknownType(rawType)
        }
        try r.expectEnd()
        self.init(tag: tag, body)
    }

    /// The client's encoding (for tests and tools).
    public func encoded() -> [UInt8] {
        switch body {
        case .version(let msize, let version):
            frame(type: .tversion, tag: tag) { $0.u32(msize); $0.string(version) }
        case .auth(let afid, let uname, let aname, let uid):
            frame(type: .tauth, tag: tag) { $0.u32(afid); $0.string(uname); $0.string(aname); $0.u32(uid) }
        case .attach(let fid, let afid, let uname, let aname, let uid):
            frame(type: .tattach, tag: tag) { $0.u32(fid); $0.u32(afid); $0.string(uname); $0.string(aname); $0.u32(uid) }
        case .flush(let oldTag): frame(type: .tflush, tag: tag) { $0.u16(oldTag) }
        case .walk(let fid, let newFid, let names):
            frame(type: .twalk, tag: tag) { w in
                w.u32(fid); w.u32(newFid); w.u16(UInt16(truncatingIfNeeded: names.count))
                for name in names { w.string(name) }
            }
        case .read(let fid, let offset, let count):
            frame(type: .tread, tag: tag) { $0.u32(fid); $0.u64(offset); $0.u32(count) }
        case .write(let fid, let offset, let data):
            frame(type: .twrite, tag: tag) { $0.u32(fid); $0.u64(offset); $0.u32(UInt32(data.count)); $0.data(data) }
        case .clunk(let fid): frame(type: .tclunk, tag: tag) { $0.u32(fid) }
        case .remove(let fid): frame(type: .tremove, tag: tag) { $0.u32(fid) }
        case .statfs(let fid): frame(type: .tstatfs, tag: tag) { $0.u32(fid) }
        case .lopen(let fid, let flags): frame(type: .tlopen, tag: tag) { $0.u32(fid); $0.u32(flags) }
        case .lcreate(let fid, let name, let flags, let mode, let gid):
            frame(type: .tlcreate, tag: tag) { $0.u32(fid); $0.string(name); $0.u32(flags); $0.u32(mode); $0.u32(gid) }
        case .symlink(let fid, let name, let target, let gid):
            frame(type: .tsymlink, tag: tag) { $0.u32(fid); $0.string(name); $0.string(target); $0.u32(gid) }
        case .mknod(let directoryFid, let name, let mode, let major, let minor, let gid):
            frame(type: .tmknod, tag: tag) { w in
                w.u32(directoryFid); w.string(name); w.u32(mode); w.u32(major); w.u32(minor); w.u32(gid)
            }
        case .rename(let fid, let directoryFid, let name):
            frame(type: .trename, tag: tag) { $0.u32(fid); $0.u32(directoryFid); $0.string(name) }
        case .readlink(let fid): frame(type: .treadlink, tag: tag) { $0.u32(fid) }
        case .getattr(let fid, let mask): frame(type: .tgetattr, tag: tag) { $0.u32(fid); $0.u64(mask) }
        case .setattr(let fid, let a):
            frame(type: .tsetattr, tag: tag) { w in
                w.u32(fid); w.u32(a.valid); w.u32(a.mode); w.u32(a.uid); w.u32(a.gid); w.u64(a.size)
                w.u64(a.atimeSeconds); w.u64(a.atimeNanoseconds); w.u64(a.mtimeSeconds); w.u64(a.mtimeNanoseconds)
            }
        case .xattrwalk(let fid, let newFid, let name):
            frame(type: .txattrwalk, tag: tag) { $0.u32(fid); $0.u32(newFid); $0.string(name) }
        case .xattrcreate(let fid, let name, let size, let flags):
            frame(type: .txattrcreate, tag: tag) { $0.u32(fid); $0.string(name); $0.u64(size); $0.u32(flags) }
        case .readdir(let fid, let offset, let count):
            frame(type: .treaddir, tag: tag) { $0.u32(fid); $0.u64(offset); $0.u32(count) }
        case .fsync(let fid, let dataOnly): frame(type: .tfsync, tag: tag) { $0.u32(fid); $0.u32(dataOnly) }
        case .lock(let fid, let type, let flags, let start, let length, let processID, let clientID):
            frame(type: .tlock, tag: tag) { w in
                w.u32(fid); w.u8(type); w.u32(flags); w.u64(start); w.u64(length); w.u32(processID); w.string(clientID)
            }
        case .getlock(let fid, let type, let start, let length, let processID, let clientID):
            frame(type: .tgetlock, tag: tag) { w in
                w.u32(fid); w.u8(type); w.u64(start); w.u64(length); w.u32(processID); w.string(clientID)
            }
        case .link(let directoryFid, let fid, let name):
            frame(type: .tlink, tag: tag) { $0.u32(directoryFid); $0.u32(fid); $0.string(name) }
        case .mkdir(let directoryFid, let name, let mode, let gid):
            frame(type: .tmkdir, tag: tag) { $0.u32(directoryFid); $0.string(name); $0.u32(mode); $0.u32(gid) }
        case .renameat(let oldDirectoryFid, let oldName, let newDirectoryFid, let newName):
            frame(type: .trenameat, tag: tag) { w in
                w.u32(oldDirectoryFid); w.string(oldName); w.u32(newDirectoryFid); w.string(newName)
            }
        case .unlinkat(let directoryFid, let name, let flags):
            frame(type: .tunlinkat, tag: tag) { $0.u32(directoryFid); $0.string(name); $0.u32(flags) }
        }
    }
}

extension NinePMessage where Body == NinePReply {
    /// Rread's header alone: size[4] (counting `dataCount` bytes of data that
    /// the server placed after it), type, tag, count[4].
    static func readReplyHeader(tag: UInt16, dataCount: Int) -> [UInt8] {
        var writer = NinePWriter()
        writer.u32(UInt32(truncatingIfNeeded: NinePSizes.readReplyHeader + dataCount))
        writer.u8(NinePMessageType.rread.rawValue)
        writer.u16(tag)
        writer.u32(UInt32(truncatingIfNeeded: dataCount))
        return writer.bytes
    }

    public func encoded() -> [UInt8] {
        switch body {
        case .error(let errno): frame(type: .rlerror, tag: tag) { $0.u32(errno) }
        case .version(let msize, let version): frame(type: .rversion, tag: tag) { $0.u32(msize); $0.string(version) }
        case .attach(let qid): frame(type: .rattach, tag: tag) { $0.qid(qid) }
        case .flush: frame(type: .rflush, tag: tag) { _ in }
        case .walk(let qids):
            frame(type: .rwalk, tag: tag) { w in
                w.u16(UInt16(qids.count))
                for qid in qids { w.qid(qid) }
            }
        case .read(let data): frame(type: .rread, tag: tag) { $0.u32(UInt32(data.count)); $0.data(data) }
        case .write(let count): frame(type: .rwrite, tag: tag) { $0.u32(count) }
        case .clunk: frame(type: .rclunk, tag: tag) { _ in }
        case .remove: frame(type: .rremove, tag: tag) { _ in }
        case .statfs(let s):
            frame(type: .rstatfs, tag: tag) { w in
                w.u32(s.type); w.u32(s.blockSize); w.u64(s.blocks); w.u64(s.freeBlocks); w.u64(s.availableBlocks)
                w.u64(s.files); w.u64(s.freeFiles); w.u64(s.fsid); w.u32(s.nameLength)
            }
        case .lopen(let qid, let ioUnit): frame(type: .rlopen, tag: tag) { $0.qid(qid); $0.u32(ioUnit) }
        case .lcreate(let qid, let ioUnit): frame(type: .rlcreate, tag: tag) { $0.qid(qid); $0.u32(ioUnit) }
        case .symlink(let qid): frame(type: .rsymlink, tag: tag) { $0.qid(qid) }
        case .rename: frame(type: .rrename, tag: tag) { _ in }
        case .readlink(let target): frame(type: .rreadlink, tag: tag) { $0.string(target) }
        case .getattr(let a):
            frame(type: .rgetattr, tag: tag) { w in
                w.u64(a.valid); w.qid(a.qid); w.u32(a.mode); w.u32(a.uid); w.u32(a.gid)
                w.u64(a.linkCount); w.u64(a.rdev); w.u64(a.size); w.u64(a.blockSize); w.u64(a.blocks)
                w.u64(a.atimeSeconds); w.u64(a.atimeNanoseconds); w.u64(a.mtimeSeconds); w.u64(a.mtimeNanoseconds)
                w.u64(a.ctimeSeconds); w.u64(a.ctimeNanoseconds)
                for _ in 0..<4 { w.u64(0) }  // btime sec/nsec, gen, data_version: not in the basic set
            }
        case .setattr: frame(type: .rsetattr, tag: tag) { _ in }
        case .xattrwalk(let size): frame(type: .rxattrwalk, tag: tag) { $0.u64(size) }
        case .readdir(let packed): frame(type: .rreaddir, tag: tag) { $0.u32(UInt32(packed.count)); $0.data(packed) }
        case .fsync: frame(type: .rfsync, tag: tag) { _ in }
        case .lock(let status): frame(type: .rlock, tag: tag) { $0.u8(status) }
        case .getlock(let type, let start, let length, let processID, let clientID):
            frame(type: .rgetlock, tag: tag) { w in
                w.u8(type); w.u64(start); w.u64(length); w.u32(processID); w.string(clientID)
            }
        case .link: frame(type: .rlink, tag: tag) { _ in }
        case .mkdir(let qid): frame(type: .rmkdir, tag: tag) { $0.qid(qid) }
        case .renameat: frame(type: .rrenameat, tag: tag) { _ in }
        case .unlinkat: frame(type: .runlinkat, tag: tag) { _ in }
        }
    }

    /// The client's decoding (for tests and tools).
    public init(decoding bytes: [UInt8]) throws(NinePDecodeError) {
        var (r, rawType, tag) = try readHeader(bytes)
        guard let type = NinePMessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let body: NinePReply
        switch type {
        case .rlerror: body = .error(errno: try r.u32())
        case .rversion: body = .version(msize: try r.u32(), version: try r.string())
        case .rattach: body = .attach(try r.qid())
        case .rflush: body = .flush
        case .rwalk:
            var qids: [NinePQid] = []
            for _ in 0..<(try r.u16()) { qids.append(try r.qid()) }
            body = .walk(qids)
        case .rread: body = .read(try r.data(Int(try r.u32())))
        case .rwrite: body = .write(count: try r.u32())
        case .rclunk: body = .clunk
        case .rremove: body = .remove
        case .rstatfs:
            body = .statfs(NinePStatfs(type: try r.u32(), blockSize: try r.u32(), blocks: try r.u64(),
                                       freeBlocks: try r.u64(), availableBlocks: try r.u64(), files: try r.u64(),
                                       freeFiles: try r.u64(), fsid: try r.u64(), nameLength: try r.u32()))
        case .rlopen: body = .lopen(try r.qid(), ioUnit: try r.u32())
        case .rlcreate: body = .lcreate(try r.qid(), ioUnit: try r.u32())
        case .rsymlink: body = .symlink(try r.qid())
        case .rrename: body = .rename
        case .rreadlink: body = .readlink(try r.string())
        case .rgetattr:
            let valid = try r.u64(), qid = try r.qid()
            let mode = try r.u32(), uid = try r.u32(), gid = try r.u32()
            var attributes = NinePAttributes(
                qid: qid, mode: mode, uid: uid, gid: gid, linkCount: try r.u64(), rdev: try r.u64(), size: try r.u64(),
                blockSize: try r.u64(), blocks: try r.u64(), atimeSeconds: try r.u64(), atimeNanoseconds: try r.u64(),
                mtimeSeconds: try r.u64(), mtimeNanoseconds: try r.u64(), ctimeSeconds: try r.u64(),
                ctimeNanoseconds: try r.u64())
            attributes.valid = valid
            for _ in 0..<4 { _ = try r.u64() }
            body = .getattr(attributes)
        case .rsetattr: body = .setattr
        case .rxattrwalk: body = .xattrwalk(size: try r.u64())
        case .rreaddir: body = .readdir(try r.data(Int(try r.u32())))
        case .rfsync: body = .fsync
        case .rlock: body = .lock(status: try r.u8())
        case .rgetlock:
            body = .getlock(type: try r.u8(), start: try r.u64(), length: try r.u64(), processID: try r.u32(),
                            clientID: try r.string())
        case .rlink: body = .link
        case .rmkdir: body = .mkdir(try r.qid())
        case .rrenameat: body = .renameat
        case .runlinkat: body = .unlinkat
        default: throw .unknownType(rawType)
        }
        try r.expectEnd()
        self.init(tag: tag, body)
    }
}

/// Splits Rreaddir's packed entries (for tests and tools).
public func ninePDirectoryEntries(_ packed: [UInt8]) throws(NinePDecodeError) -> [NinePDirectoryEntry] {
    var reader = NinePReader(packed)
    var entries: [NinePDirectoryEntry] = []
    while reader.remaining > 0 {
        entries.append(NinePDirectoryEntry(qid: try reader.qid(), offset: try reader.u64(), type: try reader.u8(),
                                           name: try reader.string()))
    }
    return entries
}
