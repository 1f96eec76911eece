import Glibc
import LKVMCore

/// The sandbox's writable share: a fresh private directory under $TMPDIR
/// (or /tmp) whose tmp/ is the guest's /tmp and which receives the
/// command's exit status. Removed, with whatever the guest left, at exit.
struct SandboxScratch {
    let path: String

    init() throws(LKVMError) {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/lkvm-sandbox-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw LKVMError("cannot make a scratch directory in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    /// The command's exit status as the guest's init wrote it, or nil.
    func status() -> [UInt8]? {
        try? HostFile.read(path + "/" + SandboxInitScript.statusFileName, limit: 64)
    }

    func remove() {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 { Self.emptyDirectory(fd) }
        rmdir(path)
    }

    /// Removes everything in the directory `fd` (closed here), never
    /// following a symbolic link the guest made.
    private static func emptyDirectory(_ fd: Int32) {
        guard let stream = fdopendir(fd) else { close(fd); return }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            if unlinkat(fd, name, 0) == 0 { continue }
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child >= 0 { emptyDirectory(child) }
            unlinkat(fd, name, AT_REMOVEDIR)
        }
    }
}
