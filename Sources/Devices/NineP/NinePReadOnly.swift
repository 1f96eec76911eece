import Glibc

extension NinePRequest {
    /// True for every request that would change the shared tree: a
    /// read-only share answers these with EROFS before touching the host.
    /// Tlopen counts when it asks for write access or truncation.
    var changesTheTree: Bool {
        switch self {
        case .lcreate, .symlink, .mkdir, .mknod, .rename, .renameat, .unlinkat, .link, .setattr,
             .xattrcreate, .write, .remove:
            true
        case .lopen(_, let flags):
            flags & NinePHostFlags.accessMode != UInt32(O_RDONLY) || flags & NinePHostFlags.truncate != 0
        case .version, .auth, .attach, .flush, .walk, .read, .clunk, .statfs, .readlink, .getattr, .xattrwalk,
             .readdir, .fsync, .lock, .getlock:
            false
        }
    }
}
