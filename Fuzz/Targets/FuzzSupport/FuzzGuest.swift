import CFuzzMain
import Glibc
import LKVMCore
import LKVMDevices
import Logging

/// Reads a fuzz input front to back: header fields first, the rest is guest RAM.
public struct FuzzInput {
    public let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func u16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    public mutating func u64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, index in value | UInt64(byte()) << (8 * UInt64(index)) }
    }

    public var rest: ArraySlice<UInt8> { bytes[min(position, bytes.count)...] }
}

/// Guest RAM for the device targets: 32 KiB at 0 (the input's bytes), a hole,
/// and 32 KiB at 64 KiB, so that buffers can straddle the end of RAM and the hole.
public enum FuzzGuest {
    public static let lowSize: UInt64 = 0x8000
    public static let high = GuestRange(start: GuestAddress(0x1_0000), size: 0x8000)!

    public static func memory() -> GuestMemory {
        try! GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: lowSize)!, high])
    }

    /// Queue `index` of `size` (at most 16) entries in its own 512-byte slot:
    /// the descriptor table, then the available ring, then the used ring.
    public static func addresses(queue index: Int, size: UInt16) -> VirtQueueAddresses {
        let base = UInt64(index) * 512
        let available = base + 16 * UInt64(size)
        let used = (available + 6 + 2 * UInt64(size) + 3) & ~3
        return VirtQueueAddresses(descriptorTable: GuestAddress(base), availableRing: GuestAddress(available),
                                  usedRing: GuestAddress(used))
    }
}

/// An interrupt that only counts.
public final class FuzzInterrupt: VirtioInterrupt, @unchecked Sendable {
    public var count = 0
    public init() {}
    public func signalUsedBuffer(queue: Int) { count += 1 }
    public func signalConfigChange() { count += 1 }
    public func signalDeviceNeedsReset(_ error: VirtQueueError) { count += 1 }
}

public final class FuzzConsoleOutput: ConsoleOutput, @unchecked Sendable {
    public var bytes = 0
    public init() {}
    public func write(_ newBytes: [UInt8]) { bytes += newBytes.count }
}

/// Drives one virtio device the way a transport does after DRIVER_OK, with
/// every queue, the features and guest RAM taken from the input:
///
///     byte 0      queue size: 1 << (b % 5), 1 to 16
///     bytes 1-8   the driver's features (masked by what is offered)
///     byte 9      rounds of notifications (1 to 4); bit 7: reset and activate again halfway
///     byte 10     extra bytes for `hostInput` (0 to 255)
///     then        those extra bytes, and then guest RAM from address 0
///
/// `hostInput` is called after each round with the extra bytes (net receive,
/// console input). Errors thrown to the transport are expected; crashes are not.
public func fuzzDevice(_ device: any VirtioDevice, _ data: UnsafePointer<UInt8>, _ size: Int,
                       hostInput: (([UInt8]) -> Void)? = nil) {
    var input = FuzzInput(data, size)
    let queueSize = UInt16(1) << (input.byte() % 5)
    let offered = device.deviceFeatures | VirtioFeature.transportOffered
    let features = input.u64() & offered
    let control = input.byte()
    let rounds = Int(control & 3) + 1
    let extraCount = Int(input.byte())
    var extra: [UInt8] = []
    for _ in 0..<extraCount { extra.append(input.byte()) }
    let memory = FuzzGuest.memory()
    let ram = Array(input.rest.prefix(Int(FuzzGuest.lowSize)))
    try! memory.write(ram, at: GuestAddress(0))

    func activate() {
        var queues: [VirtQueue?] = []
        for (index, maximum) in device.queueMaxSizes.enumerated() {
            queues.append(try? VirtQueue(size: min(queueSize, maximum), deviceMaxSize: maximum,
                                         addresses: FuzzGuest.addresses(queue: index, size: min(queueSize, maximum)),
                                         features: features, memory: memory))
        }
        device.activate(memory: memory, queues: queues, features: features, interrupt: FuzzInterrupt())
    }

    activate()
    for round in 0..<rounds {
        if control & 0x80 != 0, round == rounds / 2 {
            device.reset()
            activate()
        }
        for index in device.queueMaxSizes.indices {
            do { try device.queueNotified(index) } catch {}
        }
        hostInput?(extra)
        // The readers of config space take any offset the transport allows.
        if device.configSize > 0 {
            _ = device.readConfig(offset: Int(extraCount) % device.configSize, size: 1)
        }
    }
    device.reset()
}

/// A directory under $TMPDIR (Fuzz/run points it into .build-fuzz/tmp and
/// removes it afterwards) or /tmp that lives as long as the process.
public func fuzzTemporaryDirectory(_ name: String) -> String {
    let parent = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(parent)/lkvm-fuzz-\(name)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer in
        String(cString: mkdtemp(buffer.baseAddress!)!)
    }
    return path
}

/// Drops log messages: a target that makes a fresh device per run would
/// otherwise print the device's warn-once lines on every run.
public func fuzzSilenceLogs() {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
}

/// Runs libFuzzer's driver over the target's LLVMFuzzerTestOneInput.
public func fuzzDriver(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    lkvm_fuzz_main(argc, argv)
}
