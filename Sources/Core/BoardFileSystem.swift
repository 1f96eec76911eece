#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The little file access board loading needs, on plain libc: LKVMCore stays
/// free of Foundation.
enum BoardFileSystem {
    /// Board files are small; a cap stops `--board /dev/zero` from eating memory.
    static let maxFileSize = 1 << 20

    static func readText(path: String) throws(BoardError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BoardError(file: path, message: "cannot open board file: \(errnoText())") }
        defer { close(fd) }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BoardError(file: path, message: "cannot read board file: \(errnoText())")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maxFileSize else {
                throw BoardError(file: path, message: "larger than 1 MiB; not a board file")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names of the entries of `directory` (no "." or ".."); empty when unreadable.
    static func entries(of directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            // SAFETY: d_name is a NUL-terminated C array inside the dirent readdir returned,
            // valid until the next readdir call; we copy it into a String right here.
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { buffer in
                String(cString: buffer.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    private static func errnoText() -> String {
        let code = errno
        return "\(String(cString: strerror(code))) (errno \(code))"
    }
}
