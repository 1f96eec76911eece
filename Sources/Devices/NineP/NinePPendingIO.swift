import Glibc

/// What `NinePServer.answer` and `answerWrite` give the transport.
enum NinePAnswer: Sendable {
    /// The whole reply.
    case reply([UInt8])
    /// A Tread or Twrite on an open file, for the transport to finish.
    case transfer(NinePPendingIO)
}

/// A Tread or Twrite the transport finishes itself, with one preadv or
/// pwritev between the file and its own buffers: for a read, the reply's
/// buffers `dataOffset` bytes in (the data follows Rread's header); for a
/// write, the request's buffers `dataOffset` bytes in (past Twrite's
/// header). Then `reply(to:)` answers it. The open file is held, so a
/// Tclunk in between cannot close the descriptor under the transfer.
struct NinePPendingIO: Sendable {
    enum Direction: Sendable { case read, write }

    /// size[4] type[1] tag[2] fid[4] offset[8] count[4]: what precedes Twrite's data.
    static let writeHeaderSize = 23

    let direction: Direction
    let file: NinePOpenFile
    let offset: UInt64
    /// For a read, the most bytes the reply can carry (the client's count,
    /// cut to fit); for a write, the bytes the request carries.
    let count: Int
    let tag: UInt16

    /// Where the data starts in the transport's buffers.
    var dataOffset: UInt64 {
        UInt64(direction == .read ? NinePSizes.readReplyHeader : Self.writeHeaderSize)
    }

    func transfer(_ vectors: UnsafeBufferPointer<iovec>) throws(NinePErrno) -> Int {
        try file.transfer(direction, vectors, at: offset)
    }

    /// Rread's header counting the bytes placed after it, Rwrite with the
    /// count written, or Rlerror.
    func reply(to result: Result<Int, NinePErrno>) -> [UInt8] {
        switch (result, direction) {
        case (.success(let count), .read): NinePMessage<NinePReply>.readReplyHeader(tag: tag, dataCount: count)
        case (.success(let count), .write): NinePMessage(tag: tag, NinePReply.write(count: UInt32(count))).encoded()
        case (.failure(let error), _): NinePMessage(tag: tag, NinePReply.error(errno: UInt32(bitPattern: error.code))).encoded()
        }
    }
}
