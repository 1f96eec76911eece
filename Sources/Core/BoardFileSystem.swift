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
        do {
            return String(decoding: try HostFile.read(path, limit: maxFileSize), as: UTF8.self)
        } catch {
            let verb = if case .cannotRead = error { "read" } else { "open" }
            throw BoardError(file: path, message: "cannot \(verb) board file: \(error)")
        }
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
}
