import Glibc
import Synchronization
import SystemPackage

/// Serves a VM's control socket on a thread of its own: one request line per
/// connection, one response line back. Only the VM's own user may talk to it
/// (0700 directory, 0600 socket, SO_PEERCRED), and a client that stalls costs
/// at most `clientTimeout` seconds; the vCPUs never wait for it.
public final class ControlServer: Sendable {
    public let lock: VMNameLock
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<HostThread?>(nil)

    /// Binds `NAME.sock` next to the claimed lock and starts serving.
    public init(lock: VMNameLock, handler: any ControlHandler, clientTimeout: Double = 2)
        throws(ControlServerError) {
        let path = lock.directory.controlSocket(name: lock.name)
        let fd: Int32
        do { fd = try UnixSocket.make() } catch { throw .system(call: "socket", path: path, error) }
        unlink(path)
        let bound = UnixSocket.withAddress(path) { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = Errno(rawValue: errno)
            close(fd)
            throw .system(call: "bind", path: path, error)
        }
        // The 0700 directory already keeps others out; the socket says so too.
        chmod(path, 0o600)
        guard listen(fd, 16) == 0 else {
            let error = Errno(rawValue: errno)
            close(fd)
            unlink(path)
            throw .system(call: "listen", path: path, error)
        }
        self.lock = lock
        self.listener = fd
        do {
            let started = try HostThread(name: "control") { [self] in
                serve(handler: handler, clientTimeout: clientTimeout)
            }
            thread.withLock { $0 = started }
        } catch {
            close(fd)
            unlink(path)
            throw .system(call: "pthread_create", path: path, Errno(rawValue: EAGAIN))
        }
    }

    /// Stops serving, then removes the socket and lock file and drops the lock.
    public func shutdown() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // Ends a blocked accept (Linux returns EINVAL on a shut-down listener).
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        thread.withLock { $0 }?.join()
        close(listener)
        lock.release()
    }

    private func serve(handler: any ControlHandler, clientTimeout: Double) {
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let client = accept(listener, nil, nil)
            if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
            if client < 0 {
                if errno == EINVAL || errno == EBADF { return }  // shut down
                // Out of descriptors: back off instead of spinning.
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(10_000) }
                continue
            }
            answer(client, handler: handler, clientTimeout: clientTimeout)
            close(client)
        }
    }

    private func answer(_ client: Int32, handler: any ControlHandler, clientTimeout: Double) {
        UnixSocket.setTimeouts(client, seconds: clientTimeout)
        // Only the VM's owner: another user should not even get an answer.
        guard UnixSocket.peerUID(client) == geteuid() else { return }
        let response: ControlResponse
        switch UnixSocket.readLine(client, limit: JSONValue.maxBytes) {
        case .closed, .timedOut: return
        case .tooLong: response = .failure(ControlProtocolError.tooLong(limit: JSONValue.maxBytes).description)
        case .line(let line):
            do { response = handler.handle(try ControlRequest(line: line)) } catch {
                response = .failure(error.description)
            }
        }
        UnixSocket.writeAll(client, Array(response.line.utf8))
    }
}
