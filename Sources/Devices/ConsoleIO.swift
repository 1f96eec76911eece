/// Where a console device sends what the guest writes (stdout, a log file, a
/// test recorder). Called from vCPU threads, possibly while the device holds
/// its lock: an implementation must never call back into the device.
public protocol ConsoleOutput: Sendable {
    func write(_ bytes: [UInt8])
}

/// A bounded first-in first-out byte queue for console input: host input
/// waits here until the guest reads it, and never grows past `capacity`.
public struct ByteQueue: Sendable {
    public let capacity: Int
    private var storage: [UInt8]
    private var head = 0
    public private(set) var count = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a queue needs room for at least one byte")
        self.capacity = capacity
        storage = [UInt8](repeating: 0, count: capacity)
    }

    public var isEmpty: Bool { count == 0 }
    public var room: Int { capacity - count }

    /// Appends as many bytes as fit and returns how many did.
    public mutating func append(contentsOf bytes: [UInt8]) -> Int {
        let accepted = min(bytes.count, room)
        for byte in bytes.prefix(accepted) {
            storage[(head + count) % capacity] = byte
            count += 1
        }
        return accepted
    }

    public mutating func popFirst() -> UInt8? {
        guard count > 0 else { return nil }
        let byte = storage[head]
        head = (head + 1) % capacity
        count -= 1
        return byte
    }

    public mutating func removeAll() {
        head = 0
        count = 0
    }
}
