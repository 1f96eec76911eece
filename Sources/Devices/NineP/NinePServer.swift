import Glibc

/// What a fid (the client's handle) holds: a node of the shared tree and,
/// once Tlopen or Tlcreate opened it, the open file or directory stream.
struct NinePFid {
    let node: NinePHostNode
    var openFile: NinePOpenFile?
    var directory: NinePDirectoryStream?

    var isOpen: Bool { openFile != nil || directory != nil }
}

/// A 9P2000.L file server for one shared directory, as the Linux kernel's
/// v9fs client (trans=virtio) uses it. One message in, one reply out; no
/// state outside the fid table and the negotiated message size. Not
/// thread-safe: the device serialises calls.
///
/// Containment: see `NinePHostNode`. Walks go one checked name at a time
/// from a fid's node; ".." at the root stays at the root; no host symlink is
/// ever followed; creations, renames and removals are `*at()` calls on a
/// directory node with a single checked name.
public final class NinePServer {
    /// The largest message size offered (the kernel asks for up to 512 KiB
    /// over virtio); also the most the device reads from one request.
    public static let maxMessageSize: UInt32 = 512 * 1024
    /// Below this, Rgetattr and friends might not fit.
    public static let minMessageSize: UInt32 = 4096
    /// Open fids hold host descriptors: a guest cannot hold more than this.
    public static let maxFids = 32768
    public static let protocolVersion = "9P2000.L"

    private let root: NinePHostNode
    /// Every request that would change the tree is answered EROFS.
    public let readOnly: Bool
    private var fids: [UInt32: NinePFid] = [:]
    public private(set) var messageSize: UInt32 = NinePServer.maxMessageSize

    /// Opens the shared directory; fails if it is missing or not a directory.
    public init(sharing path: String, readOnly: Bool = false) throws(NinePErrno) {
        root = try NinePHostNode.openRoot(path: path)
        self.readOnly = readOnly
    }

    public var fidCount: Int { fids.count }

    /// Answers one request. `replyCapacity` is the room the client gave for
    /// the reply; reads and directory listings are cut to fit it.
    public func handle(_ request: [UInt8], replyCapacity: Int) -> [UInt8] {
        let limit = min(Int(messageSize), replyCapacity)
        let tag = NinePMessage<NinePRequest>.tag(of: request) ?? NinePSizes.noTag
        let reply: NinePReply
        do throws(NinePDecodeError) {
            let message = try NinePMessage<NinePRequest>(decoding: request)
            do throws(NinePErrno) {
                reply = try serve(message.body, replyLimit: limit)
            } catch {
                reply = .error(errno: UInt32(bitPattern: error.code))
            }
        } catch {
            switch error {
            case .unknownType: reply = .error(errno: UInt32(EOPNOTSUPP))
            case .badString, .tooManyWalkNames: reply = .error(errno: UInt32(EINVAL))
            case .truncated, .badSize, .trailingBytes: reply = .error(errno: UInt32(EPROTO))
            }
        }
        let encoded = NinePMessage(tag: tag, reply).encoded()
        if encoded.count > replyCapacity {
            return NinePMessage(tag: tag, NinePReply.error(errno: UInt32(ERANGE))).encoded()
        }
        return encoded
    }

    /// `handle` for a transport that takes Rread's data itself: a Tread on
    /// an open file comes back as a read to finish (straight into the
    /// transport's buffers, no copy through a reply); every other request,
    /// and a Tread that fails before any read, as the reply `handle` gives.
    func answer(_ request: [UInt8], replyCapacity: Int) -> NinePAnswer {
        guard request.count > 4, request[4] == NinePMessageType.tread.rawValue,
              let message = try? NinePMessage<NinePRequest>(decoding: request),
              case .read(let number, let offset, let count) = message.body,
              let file = fids[number]?.openFile, offset <= UInt64(Int64.max) else {
            return .reply(handle(request, replyCapacity: replyCapacity))
        }
        let room = max(min(Int(messageSize), replyCapacity) - NinePSizes.readReplyHeader, 0)
        return .transfer(NinePPendingIO(direction: .read, file: file, offset: offset, count: min(Int(count), room),
                                        tag: message.tag))
    }

    /// The write counterpart of `answer`, given only the first
    /// `NinePPendingIO.writeHeaderSize` bytes of a Twrite of `messageBytes`
    /// bytes in all: a write to finish from the transport's buffers, or the
    /// reply when it fails before any write (a read-only share, an unknown
    /// or unopened fid, an impossible offset). Nil when the header does not
    /// describe a well-formed Twrite: the transport then reads the whole
    /// message and calls `answer`, so that such a message gets the same
    /// reply either way.
    func answerWrite(header: [UInt8], messageBytes: Int) -> NinePAnswer? {
        var reader = NinePReader(header)
        guard header.count == NinePPendingIO.writeHeaderSize,
              let size = try? reader.u32(), Int(size) == messageBytes,
              let type = try? reader.u8(), type == NinePMessageType.twrite.rawValue,
              let tag = try? reader.u16(), let number = try? reader.u32(), let offset = try? reader.u64(),
              let count = try? reader.u32(), Int(count) == messageBytes - NinePPendingIO.writeHeaderSize else {
            return nil
        }
        func error(_ code: Int32) -> NinePAnswer {
            .reply(NinePMessage(tag: tag, NinePReply.error(errno: UInt32(code))).encoded())
        }
        // The checks `serve` makes for .write, in the same order.
        if readOnly { return error(EROFS) }
        guard let file = fids[number]?.openFile else { return error(NinePErrno.badFid.code) }
        guard offset <= UInt64(Int64.max) else { return error(NinePErrno.invalid.code) }
        return .transfer(NinePPendingIO(direction: .write, file: file, offset: offset, count: Int(count), tag: tag))
    }

    private func fid(_ number: UInt32) throws(NinePErrno) -> NinePFid {
        guard let fid = fids[number] else { throw .badFid }
        return fid
    }

    /// A fid number the client may bind: unused (or the one being replaced).
    private func checkUnused(_ number: UInt32, replacing original: UInt32? = nil) throws(NinePErrno) {
        guard number != NinePSizes.noFid else { throw .badFid }
        if number != original, fids[number] != nil { throw .badFid }
        if fids[number] == nil, fids.count >= Self.maxFids { throw NinePErrno(EMFILE) }
    }

    private func directoryNode(_ number: UInt32) throws(NinePErrno) -> NinePHostNode {
        let node = try fid(number).node
        guard try node.status().isDirectory else { throw NinePErrno(ENOTDIR) }
        return node
    }

    private func serve(_ request: NinePRequest, replyLimit: Int) throws(NinePErrno) -> NinePReply {
        if readOnly, request.changesTheTree {
            // Tremove clunks its fid even when it fails.
            if case .remove(let number) = request { fids.removeValue(forKey: number) }
            throw NinePErrno(EROFS)
        }
        switch request {
        case .version(let requested, let version):
            fids.removeAll()
            guard requested >= Self.minMessageSize else { throw .invalid }
            messageSize = min(requested, Self.maxMessageSize)
            return .version(msize: messageSize,
                            version: version.hasPrefix(Self.protocolVersion) ? Self.protocolVersion : "unknown")
        case .auth:
            throw .notSupported  // no authentication: Tattach takes afid = NOFID
        case .attach(let number, _, _, _, _):
            try checkUnused(number)
            fids[number] = NinePFid(node: root)
            return .attach(try root.status().qid)
        case .flush:
            return .flush  // every request is answered before the next is read
        case .walk(let number, let newNumber, let names):
            return try walk(from: number, to: newNumber, names)
        case .clunk(let number):
            guard fids.removeValue(forKey: number) != nil else { throw .badFid }
            return .clunk
        case .remove(let number):
            // Tremove clunks the fid even when it fails. v9fs uses Tunlinkat.
            guard fids.removeValue(forKey: number) != nil else { throw .badFid }
            throw .notSupported
        case .statfs(let number):
            return .statfs(try fid(number).node.fileSystemStatus())
        case .lopen(let number, let flags):
            return try open(number, flags: flags)
        case .lcreate(let number, let name, let flags, let mode, _):
            var directory = try fid(number)
            guard !directory.isOpen else { throw .badFid }
            guard try directory.node.status().isDirectory else { throw NinePErrno(ENOTDIR) }
            let (node, file) = try directory.node.createFile(try NinePEntryName(name), protocolFlags: flags, mode: mode)
            directory = NinePFid(node: node, openFile: file)
            fids[number] = directory
            return .lcreate(try node.status().qid, ioUnit: 0)
        case .symlink(let number, let name, let target, _):
            let directory = try directoryNode(number)
            let entry = try NinePEntryName(name)
            try directory.makeSymlink(entry, target: target)
            return .symlink(try directory.child(entry).status().qid)
        case .mkdir(let number, let name, let mode, _):
            let directory = try directoryNode(number)
            let entry = try NinePEntryName(name)
            try directory.makeDirectory(entry, mode: mode)
            return .mkdir(try directory.child(entry).status().qid)
        case .mknod:
            throw NinePErrno(EPERM)  // device nodes and FIFOs are not shared
        case .rename:
            throw .notSupported  // v9fs uses Trenameat when the server has it
        case .renameat(let oldNumber, let oldName, let newNumber, let newName):
            let source = try directoryNode(oldNumber)
            let target = try directoryNode(newNumber)
            try source.rename(try NinePEntryName(oldName), into: target, as: try NinePEntryName(newName))
            return .renameat
        case .unlinkat(let number, let name, let flags):
            let directory = try directoryNode(number)
            try directory.remove(try NinePEntryName(name), isDirectory: flags & UInt32(AT_REMOVEDIR) != 0)
            return .unlinkat
        case .link(let directoryNumber, let number, let name):
            let directory = try directoryNode(directoryNumber)
            try directory.makeHardLink(try NinePEntryName(name), to: try fid(number).node)
            return .link
        case .readlink(let number):
            let node = try fid(number).node
            guard try node.status().isSymlink else { throw .invalid }
            return .readlink(try node.readLink())
        case .getattr(let number, _):
            return .getattr(try fid(number).node.status().attributes)
        case .setattr(let number, let change):
            try fid(number).node.apply(change)
            return .setattr
        case .xattrwalk, .xattrcreate:
            throw .notSupported
        case .read(let number, let offset, let count):
            guard let file = try fid(number).openFile else { throw .badFid }
            let room = max(replyLimit - NinePSizes.readReplyHeader, 0)
            return .read(try file.read(min(Int(count), room), at: offset))
        case .write(let number, let offset, let data):
            guard let file = try fid(number).openFile else { throw .badFid }
            return .write(count: UInt32(try file.write(data, at: offset)))
        case .readdir(let number, let offset, let count):
            guard let directory = try fid(number).directory else { throw .badFid }
            let room = min(Int(count), max(replyLimit - NinePSizes.readReplyHeader, 0))
            return .readdir(try list(directory, from: offset, room: room))
        case .fsync(let number, let dataOnly):
            let fid = try fid(number)
            try fid.openFile?.sync(dataOnly: dataOnly != 0)
            return .fsync
        case .lock(let number, _, _, _, _, _, _):
            _ = try fid(number)
            return .lock(status: 0)  // granted: locks are the guest's own business
        case .getlock(let number, _, let start, let length, let processID, let clientID):
            _ = try fid(number)
            return .getlock(type: UInt8(F_UNLCK), start: start, length: length, processID: processID,
                            clientID: clientID)
        }
    }

    /// Twalk: each name from the node reached so far. The first failure is
    /// an error; a later one ends the walk with the qids so far and binds
    /// nothing, as the protocol says.
    private func walk(from number: UInt32, to newNumber: UInt32, _ names: [String]) throws(NinePErrno) -> NinePReply {
        let start = try fid(number)
        try checkUnused(newNumber, replacing: number)
        var node = start.node
        var qids: [NinePQid] = []
        for name in names {
            do throws(NinePErrno) {
                node = try step(from: node, name)
                qids.append(try node.status().qid)
            } catch {
                if qids.isEmpty { throw error }
                return .walk(qids)
            }
        }
        fids[newNumber] = NinePFid(node: node)
        return .walk(qids)
    }

    /// One walk step: ".." goes up but never above the root; any other name
    /// must be a single entry, opened without following a link.
    private func step(from node: NinePHostNode, _ name: String) throws(NinePErrno) -> NinePHostNode {
        if name == ".." {
            guard try node.status().isDirectory else { throw NinePErrno(ENOTDIR) }
            return node.isSameFile(as: root) ? root : try node.parent()
        }
        guard try node.status().isDirectory else { throw NinePErrno(ENOTDIR) }
        return try node.child(try NinePEntryName(name))
    }

    private func open(_ number: UInt32, flags: UInt32) throws(NinePErrno) -> NinePReply {
        var fid = try fid(number)
        guard !fid.isOpen else { throw .badFid }
        let status = try fid.node.status()
        if status.isDirectory {
            fid.directory = try fid.node.openDirectory()
        } else if status.isRegularFile {
            fid.openFile = try fid.node.openFile(protocolFlags: flags)
        } else if status.isSymlink {
            throw NinePErrno(ELOOP)  // the guest resolves links itself
        } else {
            throw NinePErrno(EACCES)  // no host devices, FIFOs or sockets
        }
        fids[number] = fid
        return .lopen(status.qid, ioUnit: 0)
    }

    /// Packs the entries from `offset` that fit in `room` bytes.
    private func list(_ directory: NinePDirectoryStream, from offset: UInt64, room: Int) throws(NinePErrno) -> [UInt8] {
        directory.seek(to: offset)
        var packed = NinePWriter()
        while let hostEntry = try directory.next() {
            let entry = NinePDirectoryEntry(qid: hostEntry.qid, offset: hostEntry.nextOffset, type: hostEntry.type,
                                            name: hostEntry.name)
            // The next Treaddir seeks to the last entry sent, so one that
            // does not fit is simply read again then.
            guard packed.bytes.count + entry.encodedSize <= room else { break }
            entry.encode(into: &packed)
        }
        return packed.bytes
    }
}
