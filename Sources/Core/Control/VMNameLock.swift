import Glibc
import Synchronization
import SystemPackage

/// Why a VM cannot take its name, or its control socket cannot be served.
public enum ControlServerError: Error, Equatable, CustomStringConvertible {
    case alreadyRunning(name: String, pid: Int32?)
    case directory(RunDirectoryError)
    case system(call: String, path: String, Errno)

    public var description: String {
        switch self {
        case .alreadyRunning(let name, let pid):
            "a VM named \(name) is already running" + (pid.map { " (pid \($0))" } ?? "")
        case .directory(let error): error.description
        case .system(let call, let path, let errno):
            "\(call) \(path): \(String(cString: strerror(errno.rawValue)))"
        }
    }
}

/// A VM's claim on its name: an exclusive flock on `NAME.lock`, held for the
/// VM's whole life and dropped by the kernel when the process dies. A lock
/// that can be taken means its previous owner is dead, so its socket is stale.
public final class VMNameLock: Sendable {
    public let directory: RunDirectory
    public let name: String
    private let fd: Int32
    private let released = Mutex(false)

    /// Takes the name (the directory is prepared first), cleaning what a dead
    /// VM of the same name left behind; refuses when a live VM holds it.
    public init(directory: RunDirectory, name: String) throws(ControlServerError) {
        do { try directory.prepare() } catch { throw .directory(error) }
        do { try RunDirectory.checkSocketPath(directory.controlSocket(name: name)) } catch { throw .directory(error) }
        let path = directory.lockFile(name: name)
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw .system(call: "open", path: path, Errno(rawValue: errno)) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let error = errno
                let pid = Self.readPID(fd)
                close(fd)
                if error == EWOULDBLOCK { throw .alreadyRunning(name: name, pid: pid) }
                throw .system(call: "flock", path: path, Errno(rawValue: error))
            }
            // A cleaner may have unlinked the file between our open and flock:
            // then we hold a lock nobody else can see; take the new file instead.
            guard Self.isStillAt(path, fd) else { close(fd); continue }
            self.fd = fd
            break
        }
        self.directory = directory
        self.name = name
        // The previous owner is dead: its socket, if any, is stale.
        unlink(directory.controlSocket(name: name))
        let text = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Removes the socket and lock file, then drops the lock. Idempotent.
    public func release() {
        let first = released.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        unlink(directory.controlSocket(name: name))
        unlink(directory.lockFile(name: name))
        close(fd)
    }

    deinit { release() }

    /// Whether a live process holds `name`. When nobody does, removes what a
    /// dead owner left (socket and lock file) and returns false.
    public static func isHeld(directory: RunDirectory, name: String) -> Bool {
        let path = directory.lockFile(name: name)
        let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            // No lock file: nobody can be serving; a socket alone is stale.
            guard errno == ENOENT else { return true }
            unlink(directory.controlSocket(name: name))
            return false
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
        // We hold the dead VM's lock: nobody can claim the name until we close.
        if isStillAt(path, fd) {
            unlink(directory.controlSocket(name: name))
            unlink(path)
        }
        return false
    }

    /// The pid a live owner wrote into its lock file.
    public static func ownerPID(directory: RunDirectory, name: String) -> Int32? {
        let fd = open(directory.lockFile(name: name), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readPID(fd)
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[..<count].prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int32(String(decoding: digits, as: UTF8.self))
    }

    private static func isStillAt(_ path: String, _ fd: Int32) -> Bool {
        var opened = stat(), named = stat()
        guard fstat(fd, &opened) == 0, lstat(path, &named) == 0 else { return false }
        return opened.st_dev == named.st_dev && opened.st_ino == named.st_ino
    }
}
