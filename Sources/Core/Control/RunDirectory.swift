import Glibc
import SystemPackage

/// Why the per-user run directory cannot be used.
public enum RunDirectoryError: Error, Equatable, CustomStringConvertible {
    case cannotCreate(path: String, Errno)
    case notADirectory(path: String)
    case wrongOwner(path: String, owner: UInt32)
    case openToOthers(path: String, mode: UInt32)
    case pathTooLong(path: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let errno):
            "cannot create the run directory \(path): \(String(cString: strerror(errno.rawValue)))"
        case .notADirectory(let path):
            "the run directory \(path) is not a directory"
        case .wrongOwner(let path, let owner):
            "the run directory \(path) belongs to uid \(owner), not to you (uid \(geteuid())): set LKVM_RUN_DIR"
        case .openToOthers(let path, let mode):
            "the run directory \(path) has mode \(String(mode, radix: 8)): other users could reach your VMs (chmod 700 it)"
        case .pathTooLong(let path):
            "\(path) is too long for a Unix socket (at most \(RunDirectory.maxSocketPathBytes) bytes): set LKVM_RUN_DIR to a shorter directory"
        }
    }
}

/// Where a user's running VMs keep their control sockets, lock files and
/// vsock sockets: one directory per user, mode 0700, so that only its owner
/// can reach the VMs. `LKVM_RUN_DIR` wins; else `$XDG_RUNTIME_DIR/lkvm`;
/// else `$HOME/.lkvm` (kvmtool's place); else `/tmp/lkvm-UID`.
public struct RunDirectory: Sendable, Equatable {
    public let path: String

    /// sun_path holds 108 bytes including the terminating NUL.
    public static let maxSocketPathBytes = 107

    public init(path: String) { self.path = path }

    /// The directory the environment names, not yet checked or created.
    /// XDG_RUNTIME_DIR and HOME count only when they belong to us: under
    /// `sudo -u` or `setpriv` they are often another user's, and lkvm must
    /// not fail to boot for want of a place it could have chosen itself.
    public static func resolve(environment: (String) -> String? = { name in getenv(name).map { String(cString: $0) } },
                               isOurs: (String) -> Bool = RunDirectory.isOwnedByUs) -> RunDirectory {
        if let dir = environment("LKVM_RUN_DIR"), !dir.isEmpty { return RunDirectory(path: dir) }
        if let dir = environment("XDG_RUNTIME_DIR"), !dir.isEmpty, isOurs(dir) { return RunDirectory(path: dir + "/lkvm") }
        if let home = environment("HOME"), !home.isEmpty, home != "/", isOurs(home) {
            return RunDirectory(path: home + "/.lkvm")
        }
        return RunDirectory(path: "/tmp/lkvm-\(geteuid())")
    }

    /// Whether `path` is a directory owned by the effective user.
    public static func isOwnedByUs(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == geteuid()
    }

    /// Creates the directory (0700) if needed and checks that it is ours and
    /// closed to other users.
    public func prepare() throws(RunDirectoryError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .cannotCreate(path: path, Errno(rawValue: errno))
        }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path: path) }
        guard info.st_uid == geteuid() else { throw .wrongOwner(path: path, owner: info.st_uid) }
        guard info.st_mode & 0o077 == 0 else { throw .openToOthers(path: path, mode: info.st_mode & 0o7777) }
    }

    /// The VM's control socket (`lkvm list`, `stop`, `pause`, ...).
    public func controlSocket(name: String) -> String { "\(path)/\(name).sock" }
    /// Held with flock for the VM's whole life: a VM whose lock can be taken is dead.
    public func lockFile(name: String) -> String { "\(path)/\(name).lock" }
    /// virtio-vsock: the host connects here to reach the guest's ports;
    /// guest connections to host port P go to `"\(vsockSocket)_P"`.
    public func vsockSocket(name: String) -> String { "\(path)/\(name).vsock" }

    /// Refuses a socket path that sun_path cannot hold.
    public static func checkSocketPath(_ socketPath: String) throws(RunDirectoryError) {
        guard socketPath.utf8.count <= maxSocketPathBytes else { throw .pathTooLong(path: socketPath) }
    }
}
