import Glibc
import SystemPackage

extension HostFile {
    /// Creates or truncates the file at `path` (mode 0644 before umask) and writes all of `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws(HostFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(Errno(rawValue: errno)) }
        var written = 0
        while written < bytes.count {
            // SAFETY: [written, count) lies inside the array's buffer, which outlives the call.
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let error = Errno(rawValue: errno)
                close(fd)
                throw .cannotWrite(error)
            }
            written += count
        }
        guard close(fd) == 0 else { throw .cannotWrite(Errno(rawValue: errno)) }
    }
}
