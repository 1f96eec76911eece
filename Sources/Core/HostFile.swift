import Glibc
import SystemPackage

/// Why a host file (kernel, initrd, board) could not be read.
public enum HostFileError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(Errno)
    case isADirectory
    case notARegularFile
    case tooLarge(limit: Int)
    case cannotRead(Errno)
    case cannotWrite(Errno)

    public var description: String {
        switch self {
        case .cannotOpen(let errno): Self.text(errno)
        case .isADirectory: "Is a directory"
        case .notARegularFile: "not a regular file"
        case .tooLarge(let limit): "larger than \(limit >> 20) MiB"
        case .cannotRead(let errno): "read failed: \(Self.text(errno))"
        case .cannotWrite(let errno): "write failed: \(Self.text(errno))"
        }
    }

    private static func text(_ errno: Errno) -> String { String(cString: strerror(errno.rawValue)) }
}

/// Whole-file reads on plain libc, so that Core stays free of Foundation.
public enum HostFile {
    /// Reads all of a regular file, refusing files above `limit` bytes
    /// (`-k /dev/zero` must not eat the host's memory).
    public static func read(_ path: String, limit: Int) throws(HostFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(Errno(rawValue: errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(Errno(rawValue: errno)) }
        guard (info.st_mode & S_IFMT) != S_IFDIR else { throw .isADirectory }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile }
        guard info.st_size <= limit else { throw .tooLarge(limit: limit) }
        // One allocation of the size fstat gave, returned as it is: a kernel
        // or initrd (tens of MiB) copied or regrown here would leave glibc
        // holding freed heap that it never gives back.
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while true {
            if filled == bytes.count {
                // The file may have grown since fstat: one more byte says.
                var probe: UInt8 = 0
                let got = Glibc.read(fd, &probe, 1)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw .cannotRead(Errno(rawValue: errno))
                }
                if got == 0 { break }
                guard bytes.count < limit else { throw .tooLarge(limit: limit) }
                bytes.append(probe)
                filled += 1
                bytes += [UInt8](repeating: 0, count: min(64 << 10, limit - bytes.count))
                continue
            }
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(Errno(rawValue: errno))
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeLast(bytes.count - filled)  // the file shrank or grew less than room was made
        return bytes
    }

    /// The first `count` bytes of a file (fewer when it is shorter).
    public static func readPrefix(_ path: String, count: Int) throws(HostFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(Errno(rawValue: errno)) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, count - filled) }
            if got < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(Errno(rawValue: errno))
            }
            if got == 0 { break }
            filled += got
        }
        return Array(bytes[..<filled])
    }
}
