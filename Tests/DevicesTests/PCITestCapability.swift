@testable import LKVMDevices
import Synchronization

/// A capability whose body is plain bytes, recording every access it gets.
final class PCITestCapability: PCICapability {
    let id: UInt8
    let length: Int
    private let body: Mutex<[UInt8]>
    let accesses = Mutex<[(write: Bool, offset: Int, size: Int)]>([])

    init(id: UInt8, length: Int) {
        self.id = id
        self.length = length
        body = Mutex((0..<length).map { UInt8(truncatingIfNeeded: 0xA0 + $0) })
    }

    func read(offset: Int, size: Int) -> UInt32 {
        accesses.withLock { $0.append((false, offset, size)) }
        return body.withLock { bytes in
            (0..<size).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32($1 * 8) }
        }
    }

    func write(offset: Int, size: Int, value: UInt32) {
        accesses.withLock { $0.append((true, offset, size)) }
        body.withLock { bytes in
            for byte in 0..<size { bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> UInt32(byte * 8)) }
        }
    }
}
