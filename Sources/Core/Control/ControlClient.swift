import Glibc
import SystemPackage

/// Why a request did not get an answer.
public enum ControlClientError: Error, Equatable, CustomStringConvertible {
    /// Nobody serves NAME (a dead VM's leftovers were cleaned).
    case notRunning(name: String)
    /// The VM holds its name but did not answer in time.
    case timedOut(name: String)
    /// The VM holds its name but serves no socket yet (it is being built).
    case starting(name: String)
    case failed(name: String, String)

    public var description: String {
        switch self {
        case .notRunning(let name): "no VM named \(name) is running"
        case .timedOut(let name): "VM \(name) did not answer in time"
        case .starting(let name): "VM \(name) is starting (its control socket is not up yet)"
        case .failed(let name, let why): "VM \(name): \(why)"
        }
    }
}

/// Sends one request to a running VM and reads its answer.
public enum ControlClient {
    public static func send(_ request: ControlRequest, directory: RunDirectory, name: String, timeout: Double = 10)
        throws(ControlClientError) -> ControlResponse {
        try send(line: Array((request.json.serialized + "\n").utf8), directory: directory, name: name, timeout: timeout)
    }

    /// Sends raw bytes (tests use it to send what a buggy client would).
    public static func send(line: [UInt8], directory: RunDirectory, name: String, timeout: Double = 10)
        throws(ControlClientError) -> ControlResponse {
        let path = directory.controlSocket(name: name)
        guard path.utf8.count <= RunDirectory.maxSocketPathBytes else { throw .notRunning(name: name) }
        let fd: Int32
        do { fd = try UnixSocket.make() } catch { throw .failed(name: name, "socket: \(error)") }
        defer { close(fd) }
        UnixSocket.setTimeouts(fd, seconds: timeout)
        if UnixSocket.withAddress(path, { connect(fd, $0, $1) }) != 0 {
            let error = errno
            if error == ENOENT || error == ECONNREFUSED {
                // A socket nobody listens on: stale unless its VM is alive.
                if !VMNameLock.isHeld(directory: directory, name: name) { throw .notRunning(name: name) }
                throw .starting(name: name)
            }
            if error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS { throw .timedOut(name: name) }
            throw .failed(name: name, "connect: \(String(cString: strerror(error)))")
        }
        guard UnixSocket.writeAll(fd, line) else { throw .timedOut(name: name) }
        switch UnixSocket.readLine(fd, limit: 16 << 20) {
        case .timedOut: throw .timedOut(name: name)
        case .closed: throw .failed(name: name, "closed the connection without an answer")
        case .tooLong: throw .failed(name: name, "answered with an oversized message")
        case .line(let bytes):
            do { return try ControlResponse(json: try JSONValue.parse(bytes, maxBytes: 16 << 20)) } catch {
                throw .failed(name: name, "unreadable answer: \(error)")
            }
        }
    }

    /// Names that have a socket or lock file in `directory`, sorted.
    public static func candidateNames(in directory: RunDirectory) -> [String] {
        guard let dir = opendir(directory.path) else { return [] }
        defer { closedir(dir) }
        var names = Set<String>()
        while let entry = readdir(dir) {
            let fileName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            for suffix in [".sock", ".lock"] where fileName.hasSuffix(suffix) && fileName.count > suffix.count {
                names.insert(String(fileName.dropLast(suffix.count)))
            }
        }
        return names.sorted()
    }
}
