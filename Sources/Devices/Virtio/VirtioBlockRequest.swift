/// The device-readable header that starts every virtio-blk request.
struct VirtioBlockRequestHeader: Equatable {
    let type: UInt32
    let sector: UInt64

    /// Decodes the first 16 bytes; nil when the driver gave fewer.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= VirtioBlockSizes.header else { return nil }
        type = Self.littleEndian(bytes[0..<4])
        sector = Self.littleEndian(bytes[8..<16])
    }

    private static func littleEndian<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>) -> T {
        bytes.reversed().reduce(T.zero) { $0 << 8 | T($1) }
    }
}

/// Ways a driver can get a request wrong. Each is answered (IOERR or UNSUPP,
/// or used length 0 when there is nowhere to put a status) and logged the
/// first time only, so a broken driver cannot flood the host's log.
enum VirtioBlockRequestProblem {
    case noStatusByte
    case headerTooShort(readableBytes: UInt64)
    /// IN with data in the readable part, or OUT with data in the writable part.
    case dataInWrongDirection(VirtioBlockRequestType)
    case lengthNotSectorMultiple(UInt64)
    case beyondCapacity(sector: UInt64, sectors: UInt64, capacity: UInt64)
    case writeToReadOnly
    case unsupportedType(UInt32)
    case hostIO(BlockImageError)

    /// One kind per case: the first of each is logged, whatever its values.
    var kind: String {
        switch self {
        case .noStatusByte: "noStatusByte"
        case .headerTooShort: "headerTooShort"
        case .dataInWrongDirection: "dataInWrongDirection"
        case .lengthNotSectorMultiple: "lengthNotSectorMultiple"
        case .beyondCapacity: "beyondCapacity"
        case .writeToReadOnly: "writeToReadOnly"
        case .unsupportedType: "unsupportedType"
        case .hostIO: "hostIO"
        }
    }

    var description: String {
        switch self {
        case .noStatusByte:
            "request with no device-writable byte for its status: answered with used length 0"
        case .headerTooShort(let readable):
            "request header is \(readable) bytes, not \(VirtioBlockSizes.header): IOERR"
        case .dataInWrongDirection(let type):
            type == .read ? "IN request with data in its device-readable part: IOERR"
                : "OUT request with more than the status byte device-writable: IOERR"
        case .lengthNotSectorMultiple(let length):
            "data length \(length) is not a multiple of \(VirtioBlockSizes.sector): IOERR"
        case .beyondCapacity(let sector, let sectors, let capacity):
            "\(sectors) sectors at sector \(sector) go beyond the capacity of \(capacity): IOERR"
        case .writeToReadOnly:
            "write to a read-only disk: IOERR, the image is untouched"
        case .unsupportedType(let type):
            "request type \(type) is not supported: UNSUPP"
        case .hostIO(let error):
            "\(error): IOERR"
        }
    }
}
