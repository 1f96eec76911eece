import Glibc

/// Loopback TCP sockets for the hostfwd tests; nothing here leaves 127.0.0.1.
enum SlirpTestSockets {
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let errno: Int32
        var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }

    /// A TCP socket bound to 127.0.0.1:`port` (0: the kernel picks), its
    /// descriptor and port; listening when asked.
    static func bound(port: UInt16 = 0, listening: Bool) throws(Failure) -> (descriptor: Int32, port: UInt16) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(call: "socket", errno: errno) }
        var address = loopback(port: port)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) }
        }
        guard result == 0 else {
            let error = errno
            close(descriptor)
            throw Failure(call: "bind", errno: error)
        }
        if listening { _ = listen(descriptor, 4) }
        var length = size
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }

    /// A port nobody listened on a moment ago.
    static func freePort() throws(Failure) -> UInt16 {
        let (descriptor, port) = try bound(listening: false)
        close(descriptor)
        return port
    }

    /// A connected TCP socket to 127.0.0.1:`port` (the kernel completes the
    /// handshake from the listener's backlog, before libslirp accepts).
    static func connect(port: UInt16) throws(Failure) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(call: "socket", errno: errno) }
        var address = loopback(port: port)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            close(descriptor)
            throw Failure(call: "connect", errno: error)
        }
        return descriptor
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return address
    }
}
