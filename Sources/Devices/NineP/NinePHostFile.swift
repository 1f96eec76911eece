import Glibc

/// A Linux errno for Rlerror: host failures pass through as they are (the
/// guest is Linux too), and the server's own refusals pick the closest one.
public struct NinePErrno: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }

    static var current: NinePErrno { NinePErrno(errno) }
    static let invalid = NinePErrno(EINVAL)
    static let badFid = NinePErrno(EBADF)
    static let notSupported = NinePErrno(EOPNOTSUPP)

    public var description: String { "errno \(code) (\(String(cString: strerror(code))))" }
}

/// Host-side access to the shared tree, built so that nothing can reach a
/// file outside it: every node is an O_PATH descriptor obtained one name at a
/// time with `openat(parent, name, O_PATH|O_NOFOLLOW)`, every change is an
/// `*at()` call relative to such a descriptor with a single checked name, and
/// no path string is ever resolved from the root. Symbolic links are never
/// followed on the host: the guest reads them and resolves them itself.
enum NinePHostFlags {
    /// O_PATH is behind _GNU_SOURCE in Glibc; the value is asm-generic's on
    /// both x86-64 and arm64.
    static let pathOnly: Int32 = 0o10000000
    /// AT_EMPTY_PATH (_GNU_SOURCE): operate on the descriptor itself.
    static let emptyPath: Int32 = 0x1000
    /// utimensat's UTIME_NOW and UTIME_OMIT (linux/stat.h).
    static let timeNow = (1 << 30) - 1
    static let timeOmitted = (1 << 30) - 2
    /// 9P2000.L open flags the server honours; the protocol's values are the
    /// generic Linux ones for these (the access mode, O_TRUNC, O_APPEND).
    static let accessMode: UInt32 = 0o3
    static let truncate: UInt32 = 0o1000
    static let append: UInt32 = 0o2000
    static let exclusive: UInt32 = 0o200

    static func hostOpenFlags(_ protocolFlags: UInt32) -> Int32 {
        var flags = Int32(protocolFlags & accessMode)
        if protocolFlags & truncate != 0 { flags |= O_TRUNC }
        if protocolFlags & append != 0 { flags |= O_APPEND }
        return flags
    }
}

/// A name the guest gave for one directory entry: not empty, not "." or
/// "..", without "/" or NUL. Anything else could step out of its directory.
struct NinePEntryName {
    let text: String

    init(_ text: String) throws(NinePErrno) {
        guard !text.isEmpty, text != ".", text != "..", !text.utf8.contains(UInt8(ascii: "/")),
              !text.utf8.contains(0) else { throw .invalid }
        self.text = text
    }
}

/// What fstat says about a node.
struct NinePHostStatus {
    let device: UInt64
    let inode: UInt64
    let mode: UInt32
    let uid: UInt32, gid: UInt32
    let linkCount: UInt64, rdev: UInt64, size: UInt64, blockSize: UInt64, blocks: UInt64
    let atime: timespec, mtime: timespec, ctime: timespec

    init(_ raw: stat) {
        device = UInt64(raw.st_dev)
        inode = UInt64(raw.st_ino)
        mode = UInt32(raw.st_mode)
        uid = raw.st_uid
        gid = raw.st_gid
        linkCount = UInt64(raw.st_nlink)
        rdev = UInt64(raw.st_rdev)
        size = UInt64(bitPattern: Int64(raw.st_size))
        blockSize = UInt64(raw.st_blksize)
        blocks = UInt64(bitPattern: Int64(raw.st_blocks))
        atime = raw.st_atim
        mtime = raw.st_mtim
        ctime = raw.st_ctim
    }

    var fileType: UInt32 { mode & UInt32(S_IFMT) }
    var isDirectory: Bool { fileType == UInt32(S_IFDIR) }
    var isRegularFile: Bool { fileType == UInt32(S_IFREG) }
    var isSymlink: Bool { fileType == UInt32(S_IFLNK) }

    var qid: NinePQid {
        let type = isDirectory ? NinePQid.directory : isSymlink ? NinePQid.symlink : NinePQid.regularFile
        // The version changes when the file does, so the guest's cache notices.
        let version = UInt32(truncatingIfNeeded: mtime.tv_sec ^ (mtime.tv_nsec << 8) ^ Int(truncatingIfNeeded: size))
        return NinePQid(type: type, version: version, path: inode)
    }

    var attributes: NinePAttributes {
        func seconds(_ time: timespec) -> UInt64 { UInt64(bitPattern: Int64(time.tv_sec)) }
        func nanoseconds(_ time: timespec) -> UInt64 { UInt64(bitPattern: Int64(time.tv_nsec)) }
        return NinePAttributes(qid: qid, mode: mode, uid: uid, gid: gid, linkCount: linkCount, rdev: rdev, size: size,
                               blockSize: blockSize, blocks: blocks,
                               atimeSeconds: seconds(atime), atimeNanoseconds: nanoseconds(atime),
                               mtimeSeconds: seconds(mtime), mtimeNanoseconds: nanoseconds(mtime),
                               ctimeSeconds: seconds(ctime), ctimeNanoseconds: nanoseconds(ctime))
    }
}

/// Retries a call interrupted by a signal; returns its result or throws errno.
private func retrying(_ call: () -> Int) throws(NinePErrno) -> Int {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno != EINTR { throw .current }
    }
}

private func check(_ result: Int32) throws(NinePErrno) {
    if result < 0 { throw .current }
}

/// One file or directory of the shared tree, held by an O_PATH descriptor
/// (or, for files the guest created, a descriptor of the open file). Owns
/// the descriptor and closes it when the last fid lets go.
final class NinePHostNode {
    let descriptor: Int32

    private init(adopting descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// The shared directory itself. The user named it, so its own path may
    /// go through symbolic links; nothing below it will.
    static func openRoot(path: String) throws(NinePErrno) -> NinePHostNode {
        let descriptor = Int32(try retrying { Int(open(path, NinePHostFlags.pathOnly | O_DIRECTORY | O_CLOEXEC)) })
        return NinePHostNode(adopting: descriptor)
    }

    /// The entry `name` of this directory, never following a symbolic link:
    /// a link is returned as itself.
    func child(_ name: NinePEntryName) throws(NinePErrno) -> NinePHostNode {
        let descriptor = Int32(try retrying {
            Int(openat(self.descriptor, name.text, NinePHostFlags.pathOnly | O_NOFOLLOW | O_CLOEXEC))
        })
        return NinePHostNode(adopting: descriptor)
    }

    /// The directory holding this one. The caller stops at the root.
    func parent() throws(NinePErrno) -> NinePHostNode {
        let descriptor = Int32(try retrying {
            Int(openat(self.descriptor, "..", NinePHostFlags.pathOnly | O_DIRECTORY | O_CLOEXEC))
        })
        return NinePHostNode(adopting: descriptor)
    }

    func status() throws(NinePErrno) -> NinePHostStatus {
        var raw = stat()
        try check(fstat(descriptor, &raw))
        return NinePHostStatus(raw)
    }

    func isSameFile(as other: NinePHostNode) -> Bool {
        guard let mine = try? status(), let theirs = try? other.status() else { return false }
        return mine.device == theirs.device && mine.inode == theirs.inode
    }

    /// This node's own inode through /proc/self/fd: the magic link names the
    /// very inode the descriptor holds, so no path is resolved. Only for
    /// regular files and directories (the caller checks), never a link.
    private var procPath: String { "/proc/self/fd/\(descriptor)" }

    /// Opens this regular file for I/O with the guest's access mode.
    func openFile(protocolFlags: UInt32) throws(NinePErrno) -> NinePOpenFile {
        let flags = NinePHostFlags.hostOpenFlags(protocolFlags) | O_CLOEXEC
        let descriptor = Int32(try retrying { Int(open(procPath, flags)) })
        return NinePOpenFile(adopting: descriptor)
    }

    /// Opens this directory for listing.
    func openDirectory() throws(NinePErrno) -> NinePDirectoryStream {
        let descriptor = Int32(try retrying { Int(openat(self.descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) })
        guard let stream = fdopendir(descriptor) else {
            let failure = NinePErrno.current
            close(descriptor)
            throw failure
        }
        return NinePDirectoryStream(adopting: stream)
    }

    /// Creates (or, without O_EXCL, opens) the regular file `name` here.
    /// O_NOFOLLOW: an existing link of that name is refused, not followed.
    func createFile(_ name: NinePEntryName, protocolFlags: UInt32,
                    mode: UInt32) throws(NinePErrno) -> (NinePHostNode, NinePOpenFile) {
        var flags = NinePHostFlags.hostOpenFlags(protocolFlags) | O_CREAT | O_NOFOLLOW | O_CLOEXEC
        if protocolFlags & NinePHostFlags.exclusive != 0 { flags |= O_EXCL }
        let permissions = mode_t(mode & 0o7777)
        let descriptor = Int32(try retrying { Int(openat(self.descriptor, name.text, flags, permissions)) })
        let file = NinePOpenFile(adopting: descriptor)
        let node = Int32(try retrying { Int(dup(descriptor)) })
        return (NinePHostNode(adopting: node), file)
    }

    func makeDirectory(_ name: NinePEntryName, mode: UInt32) throws(NinePErrno) {
        try check(mkdirat(descriptor, name.text, mode_t(mode & 0o7777)))
    }

    /// The link's target is the guest's text, stored as is and never
    /// followed on the host.
    func makeSymlink(_ name: NinePEntryName, target: String) throws(NinePErrno) {
        guard !target.isEmpty, !target.utf8.contains(0) else { throw .invalid }
        try check(symlinkat(target, descriptor, name.text))
    }

    /// A hard link to `node` (a file, not a directory) named `name` here.
    func makeHardLink(_ name: NinePEntryName, to node: NinePHostNode) throws(NinePErrno) {
        // linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link
        // with AT_SYMLINK_FOLLOW names the same inode without that.
        guard let status = try? node.status(), !status.isDirectory, !status.isSymlink else { throw .invalid }
        try check(linkat(AT_FDCWD, node.procPath, descriptor, name.text, AT_SYMLINK_FOLLOW))
    }

    func rename(_ name: NinePEntryName, into directory: NinePHostNode, as newName: NinePEntryName) throws(NinePErrno) {
        try check(renameat(descriptor, name.text, directory.descriptor, newName.text))
    }

    func remove(_ name: NinePEntryName, isDirectory: Bool) throws(NinePErrno) {
        try check(unlinkat(descriptor, name.text, isDirectory ? AT_REMOVEDIR : 0))
    }

    /// The target of this symbolic link, as text.
    func readLink() throws(NinePErrno) -> String {
        let capacity = Int(PATH_MAX) + 1
        // The error leaves the closure by a variable: before Swift 6.3 this
        // initializer rethrows `any Error`, not the closure's typed error.
        var failure: NinePErrno?
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            // SAFETY: readlinkat writes at most `capacity` bytes into the
            // buffer, which has room for that many; `count` is set to what it
            // wrote, so only initialised bytes become part of the array.
            count = 0
            let length = readlinkat(descriptor, "", buffer.baseAddress!, capacity)
            guard length >= 0 else { failure = NinePErrno.current; return }
            count = length
        }
        if let failure { throw failure }
        guard bytes.count < capacity else { throw NinePErrno(ENAMETOOLONG) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func fileSystemStatus() throws(NinePErrno) -> NinePStatfs {
        var raw = statvfs()
        try check(fstatvfs(descriptor, &raw))
        // statvfs has no file system type; the guest only shows it, so it
        // gets v9fs's own magic number.
        return NinePStatfs(type: 0x0102_1997, blockSize: UInt32(truncatingIfNeeded: raw.f_bsize),
                           blocks: UInt64(raw.f_blocks), freeBlocks: UInt64(raw.f_bfree),
                           availableBlocks: UInt64(raw.f_bavail), files: UInt64(raw.f_files),
                           freeFiles: UInt64(raw.f_ffree), fsid: UInt64(raw.f_fsid),
                           nameLength: UInt32(truncatingIfNeeded: raw.f_namemax))
    }

    /// Tsetattr: each field the guest marked valid, on this node only.
    func apply(_ change: NinePSetattr) throws(NinePErrno) {
        let status = try status()
        let touchesInode = change.valid & (NinePSetattrField.mode | NinePSetattrField.size | NinePSetattrField.atime
            | NinePSetattrField.mtime) != 0
        // A link's own mode, size and times are not worth following /proc's
        // magic link for; Linux cannot change a link's mode anyway.
        if touchesInode && status.isSymlink { throw .notSupported }
        if change.valid & NinePSetattrField.mode != 0 {
            try check(chmod(procPath, mode_t(change.mode & 0o7777)))
        }
        if change.valid & (NinePSetattrField.uid | NinePSetattrField.gid) != 0 {
            let uid = change.valid & NinePSetattrField.uid != 0 ? change.uid : UInt32.max  // -1: unchanged
            let gid = change.valid & NinePSetattrField.gid != 0 ? change.gid : UInt32.max
            try check(fchownat(descriptor, "", uid, gid, NinePHostFlags.emptyPath | AT_SYMLINK_NOFOLLOW))
        }
        if change.valid & NinePSetattrField.size != 0 {
            guard status.isRegularFile else { throw status.isDirectory ? NinePErrno(EISDIR) : .invalid }
            guard change.size <= UInt64(Int64.max) else { throw NinePErrno(EFBIG) }
            let file = try openFile(protocolFlags: UInt32(O_WRONLY))
            try file.truncate(to: Int64(change.size))
        }
        if change.valid & (NinePSetattrField.atime | NinePSetattrField.mtime) != 0 {
            func time(_ field: UInt32, _ setField: UInt32, _ seconds: UInt64, _ nanoseconds: UInt64) -> timespec {
                guard change.valid & field != 0 else { return timespec(tv_sec: 0, tv_nsec: NinePHostFlags.timeOmitted) }
                guard change.valid & setField != 0 else { return timespec(tv_sec: 0, tv_nsec: NinePHostFlags.timeNow) }
                return timespec(tv_sec: Int(truncatingIfNeeded: seconds),
                                tv_nsec: Int(truncatingIfNeeded: min(nanoseconds, 999_999_999)))
            }
            let times = [time(NinePSetattrField.atime, NinePSetattrField.atimeSet, change.atimeSeconds,
                              change.atimeNanoseconds),
                         time(NinePSetattrField.mtime, NinePSetattrField.mtimeSet, change.mtimeSeconds,
                              change.mtimeNanoseconds)]
            try check(utimensat(AT_FDCWD, procPath, times, 0))
        }
    }
}

/// A file opened for reading or writing; owns its descriptor.
final class NinePOpenFile: Sendable {
    let descriptor: Int32

    init(adopting descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// One preadv into, or pwritev from, the caller's buffers: 9P data
    /// straight between the file and the transport's buffers. Returns how
    /// many bytes moved.
    func transfer(_ direction: NinePPendingIO.Direction, _ vectors: UnsafeBufferPointer<iovec>,
                  at offset: UInt64) throws(NinePErrno) -> Int {
        guard offset <= UInt64(Int64.max) else { throw .invalid }
        guard let base = vectors.baseAddress, !vectors.isEmpty else { return 0 }
        let count = Int32(vectors.count)
        switch direction {
        case .read: return try retrying { preadv(descriptor, base, count, off_t(offset)) }
        case .write: return try retrying { pwritev(descriptor, base, count, off_t(offset)) }
        }
    }

    func read(_ count: Int, at offset: UInt64) throws(NinePErrno) -> [UInt8] {
        guard offset <= UInt64(Int64.max) else { throw .invalid }
        var failure: NinePErrno? // see readLink: Swift 6.0-6.2 rethrow `any Error` here
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            initialised = 0
            guard count > 0 else { return }
            // SAFETY: pread writes at most `count` bytes into the buffer of
            // `count`; `initialised` becomes the number it wrote.
            do throws(NinePErrno) {
                initialised = try retrying { pread(descriptor, buffer.baseAddress!, count, off_t(offset)) }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(NinePErrno) -> Int {
        guard offset <= UInt64(Int64.max) else { throw .invalid }
        guard !bytes.isEmpty else { return 0 }
        let result: Result<Int, NinePErrno> = bytes.withUnsafeBytes { buffer in
            // SAFETY: pwrite reads `buffer.count` bytes of the array's storage,
            // valid for the duration of this closure.
            do throws(NinePErrno) { return .success(try retrying { pwrite(descriptor, buffer.baseAddress!, buffer.count, off_t(offset)) }) }
            catch { return .failure(error) }
        }
        return try result.get()
    }

    func sync(dataOnly: Bool) throws(NinePErrno) {
        try check(dataOnly ? fdatasync(descriptor) : fsync(descriptor))
    }

    func truncate(to size: Int64) throws(NinePErrno) {
        try check(ftruncate(descriptor, off_t(size)))
    }
}

/// One entry read from a directory stream.
struct NinePHostDirectoryEntry {
    let inode: UInt64
    /// Where the stream continues after this entry (telldir's cookie).
    let nextOffset: UInt64
    let type: UInt8
    let name: String

    var qid: NinePQid {
        let qidType = type == UInt8(DT_DIR) ? NinePQid.directory
            : type == UInt8(DT_LNK) ? NinePQid.symlink : NinePQid.regularFile
        return NinePQid(type: qidType, path: inode)
    }
}

/// An open directory (a DIR stream); owns it.
final class NinePDirectoryStream {
    private let stream: OpaquePointer

    init(adopting stream: OpaquePointer) {
        self.stream = stream
    }

    deinit {
        closedir(stream)
    }

    /// Positions the stream at a cookie from an earlier entry (0: the start).
    func seek(to offset: UInt64) {
        if offset == 0 { rewinddir(stream) } else { seekdir(stream, Int(truncatingIfNeeded: offset)) }
    }

    /// The next entry, or nil at the end.
    func next() throws(NinePErrno) -> NinePHostDirectoryEntry? {
        errno = 0
        guard let pointer = readdir(stream) else {
            if errno != 0 { throw .current }
            return nil
        }
        // SAFETY: readdir's entry stays valid until the next call on this
        // stream; it is copied out here, before anything else touches it.
        let entry = pointer.pointee
        let name = withUnsafeBytes(of: entry.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return NinePHostDirectoryEntry(inode: UInt64(entry.d_ino), nextOffset: UInt64(bitPattern: Int64(entry.d_off)),
                                       type: entry.d_type, name: name)
    }
}
