import Glibc

/// What `NinePServer.answer` gives the transport.
enum NinePAnswer: Sendable {
    /// The whole reply.
    case reply([UInt8])
    /// A Tread on an open file, for the transport to finish.
    case read(NinePPendingRead)
    /// A Twrite on an open file, for the transport to finish.
    case write(NinePPendingWrite)
}

/// A Tread the transport finishes itself: it reads the data straight into
/// its buffers, `NinePSizes.readReplyHeader` bytes in, then puts `reply(to:)`
/// in front of it. The open file is held, so a Tclunk in between cannot
/// close the descriptor under the read.
struct NinePPendingRead: Sendable {
    let file: NinePOpenFile
    let offset: UInt64
    /// The most bytes the reply can carry (the client's count, cut to fit).
    let count: Int
    let tag: UInt16

    func read(into vectors: UnsafeBufferPointer<iovec>) throws(NinePErrno) -> Int {
        try file.read(into: vectors, at: offset)
    }

    /// Rread's header counting `count` placed bytes, or Rlerror.
    func reply(to result: Result<Int, NinePErrno>) -> [UInt8] {
        switch result {
        case .success(let count): NinePMessage<NinePReply>.readReplyHeader(tag: tag, dataCount: count)
        case .failure(let error): NinePMessage(tag: tag, NinePReply.error(errno: UInt32(bitPattern: error.code))).encoded()
        }
    }
}

/// A Twrite the transport finishes itself: the data goes from its buffers,
/// `NinePPendingWrite.headerSize` bytes into the request, straight to the
/// file (one pwritev), then `reply(to:)` answers it.
struct NinePPendingWrite: Sendable {
    /// size[4] type[1] tag[2] fid[4] offset[8] count[4]: what precedes the data.
    static let headerSize = 23

    let file: NinePOpenFile
    let offset: UInt64
    let count: Int
    let tag: UInt16

    func write(from vectors: UnsafeBufferPointer<iovec>) throws(NinePErrno) -> Int {
        try file.write(from: vectors, at: offset)
    }

    /// Rwrite with the count written, or Rlerror.
    func reply(to result: Result<Int, NinePErrno>) -> [UInt8] {
        switch result {
        case .success(let count): NinePMessage(tag: tag, NinePReply.write(count: UInt32(count))).encoded()
        case .failure(let error): NinePMessage(tag: tag, NinePReply.error(errno: UInt32(bitPattern: error.code))).encoded()
        }
    }
}
