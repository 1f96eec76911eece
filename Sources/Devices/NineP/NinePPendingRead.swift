import Glibc

/// What `NinePServer.answer` gives the transport.
enum NinePAnswer: Sendable {
    /// The whole reply.
    case reply([UInt8])
    /// A Tread on an open file, for the transport to finish.
    case read(NinePPendingRead)
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
