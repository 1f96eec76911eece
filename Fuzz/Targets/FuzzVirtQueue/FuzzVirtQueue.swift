import FuzzSupport
import LKVMCore
import LKVMDevices

/// The split virtqueue and its chain walker (VirtQueue, DescriptorChainWalker)
/// over guest RAM from the input: a queue placed by the input, then chains
/// taken, read, written and returned as a device would.
///
///     bytes 0-1   queue size (any value: bad ones must be refused)
///     bytes 2-7   descriptor table, available ring, used ring: 16-bit offsets
///     bytes 8-15  features
///     byte 16     chains to take at most (0 to 255)
///     then        guest RAM from address 0
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtQueue(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let queueSize = input.u16()
    let addresses = VirtQueueAddresses(descriptorTable: GuestAddress(UInt64(input.u16())),
                                       availableRing: GuestAddress(UInt64(input.u16())),
                                       usedRing: GuestAddress(UInt64(input.u16())))
    let features = input.u64()
    let limit = Int(input.byte())
    let memory = FuzzGuest.memory()
    try! memory.write(Array(input.rest.prefix(Int(FuzzGuest.lowSize))), at: GuestAddress(0))
    guard var queue = try? VirtQueue(size: queueSize, deviceMaxSize: 256, addresses: addresses,
                                     features: features, memory: memory) else { return 0 }
    do {
        for _ in 0..<limit {
            guard let chain = try queue.nextChain() else { break }
            let read = try chain.readReadableBytes(limit: 4096)
            let written = try chain.writeWritable(read, at: UInt64(read.count % 7))
            precondition(UInt64(written) <= chain.writableLength)
            try queue.addUsed(head: chain.head, writtenLength: UInt32(written))
        }
        _ = try queue.needsNotification()
    } catch {}
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzVirtQueue_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
