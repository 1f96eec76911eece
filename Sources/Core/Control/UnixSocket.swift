import Glibc
import SystemPackage

/// The Unix-socket calls the control server and client share.
enum UnixSocket {
    /// A stream socket, close-on-exec.
    static func make() throws(Errno) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        return fd
    }

    /// Runs `body` with `path` as a sockaddr_un; the caller checked its length.
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(RunDirectory.maxSocketPathBytes))
        // SAFETY: sun_path holds 108 bytes; at most 107 are copied and the
        // zero-initialised rest terminates the string.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Receive and send timeouts, so that a peer that never reads or writes
    /// costs at most `seconds`.
    static func setTimeouts(_ fd: Int32, seconds: Double) {
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, size)
    }

    /// struct ucred (Glibc hides it behind _GNU_SOURCE): the peer's pid, uid, gid.
    struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The connected peer's user id, as the kernel recorded it at connect.
    static func peerUID(_ fd: Int32) -> UInt32? {
        var credentials = PeerCredentials()
        var size = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0,
              size == socklen_t(MemoryLayout<PeerCredentials>.size) else { return nil }
        return credentials.uid
    }

    enum ReadOutcome: Equatable {
        case line([UInt8])
        case tooLong
        case timedOut
        case closed
    }

    /// Reads up to the first newline (not included), or to end of stream,
    /// never keeping more than `limit` bytes.
    static func readLine(_ fd: Int32, limit: Int) -> ReadOutcome {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .closed
            }
            if count == 0 { return line.isEmpty ? .closed : .line(line) }
            if let newline = chunk[..<count].firstIndex(of: 0x0A) {
                line += chunk[..<newline]
                return line.count > limit ? .tooLong : .line(line)
            }
            line += chunk[..<count]
            if line.count > limit { return .tooLong }
        }
    }

    /// Sends all of `bytes` (no SIGPIPE); false when the peer went away or timed out.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            sent += count
        }
        return true
    }
}
