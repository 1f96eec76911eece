import Glibc
import LKVMCore

// Glibc's module map shows accept4(2) only with _GNU_SOURCE; it takes and
// returns plain C values, so it is declared here (both pointers nil).
@_silgen_name("accept4")
private func systemAccept4(_ fd: Int32, _ address: UnsafeMutableRawPointer?, _ length: UnsafeMutableRawPointer?,
                           _ flags: Int32) -> Int32

/// Why the VM's vsock socket cannot be set up.
public enum VsockSocketError: Error, Equatable, CustomStringConvertible {
    case pathTooLong(String)
    case inUse(String)
    case notASocket(String)
    case hostCall(call: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .pathTooLong(let path):
            "vsock socket \(path) is too long for a Unix socket (at most \(RunDirectory.maxSocketPathBytes) bytes)"
        case .inUse(let path):
            "vsock socket \(path) is in use: another VM listens on it (pick another --name or socket=)"
        case .notASocket(let path):
            "vsock socket \(path) exists and is not a socket; not removing it"
        case .hostCall(let call, let path, let errno):
            "vsock socket \(path): \(call): \(String(cString: strerror(errno)))"
        }
    }
}

/// What a non-blocking read or peek gave.
enum VsockReadResult: Equatable {
    case bytes([UInt8])
    case wouldBlock
    case endOfStream
    case failed(Int32)
}

/// The host side of virtio-vsock: non-blocking, close-on-exec Unix stream
/// sockets. The only place here that builds a `sockaddr_un`.
enum VsockHostSockets {
    static let listenBacklog: Int32 = 16

    /// Listens on `path`: refused when something already listens there; a
    /// stale socket (nobody listening) is removed first. Returns the
    /// descriptor and the inode it bound, so that only our socket is unlinked later.
    static func listen(path: String) throws(VsockSocketError) -> (descriptor: Int32, inode: UInt64) {
        guard path.utf8.count <= RunDirectory.maxSocketPathBytes else { throw .pathTooLong(path) }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
            if case .success(let probe) = connect(path: path) {
                Glibc.close(probe)
                throw .inUse(path)
            }
            guard unlink(path) == 0 || errno == ENOENT else { throw .hostCall(call: "unlink", path: path, errno: errno) }
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                                    | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw .hostCall(call: "socket", path: path, errno: errno) }
        let bound = withAddress(path) { address, length in bind(descriptor, address, length) }
        guard bound == 0, Glibc.listen(descriptor, listenBacklog) == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw .hostCall(call: bound == 0 ? "listen" : "bind", path: path, errno: error)
        }
        guard lstat(path, &info) == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw .hostCall(call: "stat", path: path, errno: error)
        }
        return (descriptor, UInt64(info.st_ino))
    }

    /// Removes `path` if it is still the socket we bound (inode `inode`).
    static func unlinkIfOurs(path: String, inode: UInt64) {
        var info = stat()
        guard lstat(path, &info) == 0, UInt64(info.st_ino) == inode, info.st_mode & S_IFMT == S_IFSOCK else { return }
        unlink(path)
    }

    /// A non-blocking connect: a Unix stream connects at once or not at all
    /// (EAGAIN: the listener's backlog is full).
    static func connect(path: String) -> Result<Int32, VsockSocketError> {
        guard path.utf8.count <= RunDirectory.maxSocketPathBytes else { return .failure(.pathTooLong(path)) }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                                    | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return .failure(.hostCall(call: "socket", path: path, errno: errno)) }
        let result = withAddress(path) { address, length in Glibc.connect(descriptor, address, length) }
        guard result == 0 else {
            let error = errno
            Glibc.close(descriptor)
            return .failure(.hostCall(call: "connect", path: path, errno: error))
        }
        return .success(descriptor)
    }

    /// A waiting client of `listener`, non-blocking and close-on-exec; nil when none waits.
    static func accept(_ listener: Int32) -> Int32? {
        while true {
            let client = systemAccept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
            if client >= 0 { return client }
            if errno == EINTR { continue }
            // ECONNABORTED and friends: that client is gone; EAGAIN: no more.
            return errno == ECONNABORTED ? accept(listener) : nil
        }
    }

    /// Reads (or with `peek`, looks at) at most `limit` bytes.
    static func read(_ descriptor: Int32, limit: Int, peek: Bool = false) -> VsockReadResult {
        var buffer = [UInt8](repeating: 0, count: max(1, limit))
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, peek ? Int32(MSG_PEEK) : 0) }
            if count > 0 { return .bytes(Array(buffer[..<count])) }
            if count == 0 { return .endOfStream }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
        }
    }

    /// Writes what the socket takes now: the count (0 when full), or nil when the peer is gone.
    static func write(_ descriptor: Int32, _ bytes: [UInt8]) -> Int? {
        guard !bytes.isEmpty else { return 0 }
        while true {
            let count = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 { return count }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : nil
        }
    }

    /// Calls `body` with a `sockaddr_un` for `path` (already checked to fit).
    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        // SAFETY: sun_path is 108 bytes and `bytes` at most 107 (checked by
        // the callers), so the copy and its NUL stay inside the struct.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // SAFETY: sockaddr_un starts with the sa_family_t every sockaddr has;
        // the kernel reads only `length` bytes of it.
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}
