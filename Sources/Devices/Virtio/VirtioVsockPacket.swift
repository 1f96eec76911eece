/// virtio-vsock packet operations (virtio 1.2 section 5.10.6).
public enum VsockOp: UInt16, Sendable {
    case request = 1
    case response = 2
    case rst = 3
    case shutdown = 4
    case rw = 5
    case creditUpdate = 6
    case creditRequest = 7
}

/// Socket types; only streams are offered (VIRTIO_VSOCK_F_SEQPACKET is not).
public enum VsockType {
    public static let stream: UInt16 = 1
    public static let seqpacket: UInt16 = 2
}

/// SHUTDOWN flags: the sender will receive (RCV) or send (SEND) no more.
public enum VsockShutdown {
    public static let receive: UInt32 = 1
    public static let send: UInt32 = 2
    public static let both: UInt32 = 3
}

/// Well-known context IDs (5.10.4): 2 is the host; 0xFFFFFFFF is reserved.
public enum VsockCID {
    public static let host: UInt64 = 2
    public static let firstGuest: UInt64 = 3
    public static let reserved: UInt64 = 0xFFFF_FFFF
}

/// struct virtio_vsock_hdr: 44 little-endian bytes before every payload.
public struct VsockHeader: Equatable, Sendable {
    public static let size = 44

    public var sourceCID: UInt64
    public var destinationCID: UInt64
    public var sourcePort: UInt32
    public var destinationPort: UInt32
    /// Payload bytes after the header (RW only).
    public var length: UInt32
    public var type: UInt16
    /// Kept raw: an unknown op from the guest must still be decodable to answer it.
    public var op: UInt16
    public var flags: UInt32
    public var bufferAllocation: UInt32
    public var forwardCount: UInt32

    public init(sourceCID: UInt64, destinationCID: UInt64, sourcePort: UInt32, destinationPort: UInt32,
                length: UInt32 = 0, type: UInt16 = VsockType.stream, op: UInt16, flags: UInt32 = 0,
                bufferAllocation: UInt32 = 0, forwardCount: UInt32 = 0) {
        self.sourceCID = sourceCID
        self.destinationCID = destinationCID
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.length = length
        self.type = type
        self.op = op
        self.flags = flags
        self.bufferAllocation = bufferAllocation
        self.forwardCount = forwardCount
    }

    public var knownOp: VsockOp? { VsockOp(rawValue: op) }

    /// Decodes the first 44 bytes; nil when there are fewer.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reversed().reduce(T.zero) { $0 << 8 | T(bytes[offset + $1]) }
        }
        self.init(sourceCID: field(0, UInt64.self), destinationCID: field(8, UInt64.self),
                  sourcePort: field(16, UInt32.self), destinationPort: field(20, UInt32.self),
                  length: field(24, UInt32.self), type: field(28, UInt16.self), op: field(30, UInt16.self),
                  flags: field(32, UInt32.self), bufferAllocation: field(36, UInt32.self),
                  forwardCount: field(40, UInt32.self))
    }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.size)
        func append<T: FixedWidthInteger>(_ value: T) {
            for index in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
        }
        append(sourceCID); append(destinationCID); append(sourcePort); append(destinationPort)
        append(length); append(type); append(op); append(flags); append(bufferAllocation); append(forwardCount)
        return bytes
    }

    /// The RST that answers this packet: addresses swapped, no credit.
    public var resetReply: VsockHeader {
        VsockHeader(sourceCID: destinationCID, destinationCID: sourceCID, sourcePort: destinationPort,
                    destinationPort: sourcePort, op: VsockOp.rst.rawValue)
    }
}
