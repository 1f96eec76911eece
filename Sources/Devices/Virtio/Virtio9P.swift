import Glibc
import LKVMCore
import Logging
import Synchronization

/// virtio-9p (virtio 1.2 section 5.x, the 9P transport, device type 9): one
/// request queue; each chain carries a 9P2000.L request in its readable part
/// and gets the reply in its writable part. The configuration space is the
/// mount tag: its length (le16) then its bytes, offered with
/// VIRTIO_9P_MOUNT_TAG. The guest mounts it with
/// `mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt`.
public final class Virtio9P: VirtioDevice {
    public static let queueSize: UInt16 = 256
    /// VIRTIO_9P_MOUNT_TAG: the configuration space holds the tag.
    public static let mountTagFeature: UInt64 = 1 << 0
    public static let defaultTag = "lkvm"
    /// Longest tag accepted (the configuration space must stay small).
    public static let maxTagLength = 64
    /// Linux's UIO_MAXIOV: the most buffers one preadv or pwritev takes. A
    /// message the guest cut into more pieces is a short read or write,
    /// which 9P allows (the client asks again for the rest).
    static let maxIOVectors = 1024

    private struct State {
        var queue: VirtQueue?
        var interrupt: (any VirtioInterrupt)?
        var warnedAboutUnanswerable = false
    }

    public let sharedDirectory: String
    public let tag: String
    public let readOnly: Bool
    private let config: [UInt8]
    private let server: Mutex<NinePServer>
    private let state = Mutex(State())
    private let logger = Logger(label: "lkvm.virtio.9p")

    /// Opens `directory` now, so a missing one fails before the guest starts.
    public init(sharing directory: String, tag: String = Virtio9P.defaultTag,
                readOnly: Bool = false) throws(NinePErrno) {
        sharedDirectory = directory
        self.tag = tag
        self.readOnly = readOnly
        let tagBytes = Array(tag.utf8)
        config = [UInt8(tagBytes.count & 0xFF), UInt8(tagBytes.count >> 8)] + tagBytes
        server = Mutex(try NinePServer(sharing: directory, readOnly: readOnly))
    }

    public var deviceType: VirtioDeviceType { .ninePTransport }
    public var deviceFeatures: UInt64 { Self.mountTagFeature }
    public var queueMaxSizes: [UInt16] { [Self.queueSize] }
    public var configSize: Int { config.count }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        configSpaceValue(config, offset: offset, size: size)
    }

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        state.withLock { state in
            state.queue = queues.first ?? nil
            state.interrupt = interrupt
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        guard index == 0 else { return }
        try processQueue()
    }

    /// Answers every available request, then interrupts if the driver wants.
    public func processQueue() throws(VirtQueueError) {
        try state.withLock { state throws(VirtQueueError) in
            guard var queue = state.queue else { return }
            defer { state.queue = queue }
            let wantsInterrupt = try queue.serveAvailable { chain throws(VirtQueueError) in
                UInt32(try serve(chain, &state))
            }
            if wantsInterrupt { state.interrupt?.signalUsedBuffer(queue: 0) }
        }
    }

    private func serve(_ chain: DescriptorChain, _ state: inout State) throws(VirtQueueError) -> Int {
        let capacity = Int(min(chain.writableLength, UInt64(NinePServer.maxMessageSize)))
        guard capacity > 0 else {
            if !state.warnedAboutUnanswerable {
                state.warnedAboutUnanswerable = true
                logger.warning("virtio-9p: a request with no writable buffer cannot be answered (used length 0)")
            }
            return 0
        }
        let answer = try answer(chain, replyCapacity: capacity)
        let reply: [UInt8], placed: Int
        switch answer {
        case .reply(let bytes):
            (reply, placed) = (bytes, 0)
        case .transfer(let pending):
            // The data goes straight between the file and the guest's
            // buffers: Rread's after the reply header, Twrite's after the
            // request header.
            let move = { (vectors: UnsafeBufferPointer<iovec>) in
                Result { () throws(NinePErrno) in try pending.transfer(vectors) }
            }
            let result = switch pending.direction {
            case .read: try chain.withWritableVectors(from: pending.dataOffset, count: pending.count,
                                                      maxVectors: Self.maxIOVectors, move)
            case .write: try chain.withReadableVectors(from: pending.dataOffset, count: pending.count,
                                                       maxVectors: Self.maxIOVectors, move)
            }
            reply = pending.reply(to: result)
            // Read data sits in the reply's buffers, after the header.
            placed = pending.direction == .read ? (try? result.get()) ?? 0 : 0
        }
        // Room for less than an Rlerror (11 bytes): a cut reply would be a
        // message whose size field lies, so the guest gets none at all.
        guard reply.count <= capacity else {
            if !state.warnedAboutUnanswerable {
                state.warnedAboutUnanswerable = true
                logger.warning("virtio-9p: a reply of \(reply.count) bytes does not fit the \(capacity) the guest gave (used length 0)")
            }
            return 0
        }
        return try chain.writeWritable(reply, at: 0) + placed
    }

    /// The server's answer to the chain's request. A Twrite's data is not
    /// gathered into the request: only its header is read here; any other
    /// message is read whole, its first bytes once.
    private func answer(_ chain: DescriptorChain, replyCapacity: Int) throws(VirtQueueError) -> NinePAnswer {
        let length = chain.readableLength
        let limit = Int(NinePServer.maxMessageSize)
        var request: [UInt8] = []
        if length > UInt64(NinePPendingIO.writeHeaderSize), length <= UInt64(limit) {
            request = try chain.readReadableBytes(limit: NinePPendingIO.writeHeaderSize)
            if let answer = server.withLock({ $0.answerWrite(header: request, messageBytes: Int(length)) }) {
                return answer
            }
        }
        // Not a Twrite: the rest of the message, after the bytes already read.
        request += try chain.readReadableBytes(from: UInt64(request.count), limit: limit - request.count)
        return server.withLock { $0.answer(request, replyCapacity: replyCapacity) }
    }

    public func reset() {
        state.withLock { state in
            state.queue = nil
            state.interrupt = nil
        }
        // A reset driver starts over with Tversion, which drops every fid.
    }
}

/// What `--9p DIR[,TAG[,ro]]` asks for: the text is split at commas, so a
/// directory path cannot contain one. `ro` makes the share read-only (every
/// change the guest asks for is refused with EROFS).
public struct Virtio9POptions: Equatable, Sendable {
    public var directory: String
    public var tag: String
    public var readOnly: Bool

    public init(parsing argument: String?) throws(VirtioCatalogError) {
        let text = argument ?? ""
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let directory = parts.first, !directory.isEmpty, parts.count <= 3 else {
            throw .badArgument(device: "9p", argument: text, reason: "needs a directory: DIR[,TAG[,ro]]")
        }
        if parts.count == 3, parts[2] != "ro" {
            throw .badArgument(device: "9p", argument: text, reason: "unknown option '\(parts[2])' (only ro)")
        }
        let tag = parts.count >= 2 ? parts[1] : Virtio9P.defaultTag
        guard !tag.isEmpty, tag.utf8.count <= Virtio9P.maxTagLength,
              tag.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw .badArgument(device: "9p", argument: text,
                               reason: "the tag must be 1 to \(Virtio9P.maxTagLength) printable ASCII characters")
        }
        self.directory = directory
        self.tag = tag
        readOnly = parts.count == 3
    }
}

extension Virtio9P {
    /// The catalog's "9p": the directory is opened here, so a missing one
    /// fails before the guest starts.
    public static let catalogEntry = VirtioCatalogEntry(
        name: "9p", type: .ninePTransport, summary: "a host directory shared over 9P2000.L: DIR[,TAG[,ro]] (tag \"lkvm\")",
        make: { argument throws(VirtioCatalogError) in
            let options = try Virtio9POptions(parsing: argument)
            // The root is opened O_PATH, which needs no read permission: a
            // directory lkvm cannot list would answer the guest EACCES for
            // everything, so refuse it here.
            // (Through "/." so that a file fails as ENOTDIR below, not here.)
            if access(options.directory + "/.", R_OK | X_OK) != 0, errno == EACCES {
                throw .badArgument(device: "9p", argument: argument ?? "",
                                   reason: "cannot share \(options.directory): lkvm may not read it (Permission denied)")
            }
            do throws(NinePErrno) {
                return try Virtio9P(sharing: options.directory, tag: options.tag, readOnly: options.readOnly)
            } catch {
                throw .badArgument(device: "9p", argument: argument ?? "",
                                   reason: "cannot share \(options.directory): \(error.description)")
            }
        })
}
