import LKVMCore
@testable import LKVMDevices
import XCTest

/// The split virtqueue on its own: a fake driver ring in heap guest RAM.
final class VirtioQueueTests: XCTestCase {
    private let allRingFeatures = Feature.indirect | Feature.eventIndex | Feature.version1
    private var memory: GuestMemory!
    private var ring: FakeGuestRing!

    override func setUp() {
        memory = makeGuestMemory()
        ring = FakeGuestRing(memory: memory, size: 8)
    }

    private func makeQueue(features: UInt64? = nil) throws -> VirtQueue {
        try VirtQueue(size: ring.size, deviceMaxSize: 256, addresses: ring.addresses,
                      features: features ?? allRingFeatures, memory: memory)
    }

    private func nextChainError(_ queue: inout VirtQueue) -> VirtQueueError? {
        do {
            _ = try queue.nextChain()
            return nil
        } catch {
            return error
        }
    }

    func testChainOfReadableThenWritableBuffers() throws {
        var queue = try makeQueue()
        XCTAssertNil(try queue.nextChain(), "empty ring")
        try memory.write(Array("hello".utf8), at: GuestAddress(0x10000))
        ring.setDescriptor(3, address: 0x10000, length: 5, flags: Desc.next, next: 5)
        ring.setDescriptor(5, address: 0x11000, length: 4, flags: Desc.next | Desc.write, next: 1)
        ring.setDescriptor(1, address: 0x12000, length: 16, flags: Desc.write)
        ring.makeAvailable(3)

        let chain = try XCTUnwrap(try queue.nextChain())
        XCTAssertEqual(chain.head, 3)
        XCTAssertEqual(chain.segments, [
            DescriptorSegment(address: GuestAddress(0x10000), length: 5, isWritable: false),
            DescriptorSegment(address: GuestAddress(0x11000), length: 4, isWritable: true),
            DescriptorSegment(address: GuestAddress(0x12000), length: 16, isWritable: true),
        ])
        XCTAssertEqual(chain.readableLength, 5)
        XCTAssertEqual(chain.writableLength, 20)
        XCTAssertEqual(try chain.readReadableBytes(limit: 100), Array("hello".utf8))
        XCTAssertEqual(try chain.readReadableBytes(limit: 2), Array("he".utf8))

        // Writing at offset 2 spans both writable buffers; what does not fit is dropped.
        let written = try chain.writeWritable(Array(1...30), at: 2)
        XCTAssertEqual(written, 18)
        XCTAssertEqual(try memory.read(4, at: GuestAddress(0x11000)), [0, 0, 1, 2])
        XCTAssertEqual(try memory.read(16, at: GuestAddress(0x12000)), Array(3...18))
        XCTAssertEqual(try chain.writeWritable([9], at: 20), 0, "nothing fits past the end")

        try queue.addUsed(head: chain.head, writtenLength: 18)
        XCTAssertEqual(ring.usedIndex, 1)
        XCTAssertEqual(ring.usedEntry(0).head, 3)
        XCTAssertEqual(ring.usedEntry(0).length, 18)
        XCTAssertNil(try queue.nextChain())
    }

    func testIndirectTableAfterDirectDescriptors() throws {
        var queue = try makeQueue()
        let table: UInt64 = 0x20000
        ring.setDescriptor(0, address: 0x10000, length: 8, flags: Desc.next, next: 1)
        ring.setDescriptor(1, address: table, length: 48, flags: Desc.indirect | Desc.write)  // WRITE ignored here
        ring.setDescriptor(0, address: 0x10100, length: 4, flags: Desc.next, next: 2, table: table)
        ring.setDescriptor(2, address: 0x11000, length: 64, flags: Desc.write, table: table)
        ring.makeAvailable(0)

        let chain = try XCTUnwrap(try queue.nextChain())
        XCTAssertEqual(chain.segments.map(\.length), [8, 4, 64])
        XCTAssertEqual(chain.segments.map(\.isWritable), [false, false, true])
    }

    func testZeroLengthDescriptorsAreKeptOutOfTheSegments() throws {
        var queue = try makeQueue()
        // A zero-length buffer's address is never touched, so it is not checked.
        ring.setDescriptor(0, address: 0xFFFF_FFFF_0000_0000, length: 0, flags: Desc.next, next: 1)
        ring.setDescriptor(1, address: 0x10000, length: 4, flags: Desc.write)
        ring.makeAvailable(0)
        let chain = try XCTUnwrap(try queue.nextChain())
        XCTAssertEqual(chain.segments, [DescriptorSegment(address: GuestAddress(0x10000), length: 4, isWritable: true)])
    }

    func testLoopsEndAtTheQueueSize() throws {
        for (name, layout) in [
            ("self", { (ring: FakeGuestRing) in ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.next, next: 0) }),
            ("pair", { ring in
                ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.next, next: 1)
                ring.setDescriptor(1, address: 0x10000, length: 1, flags: Desc.next, next: 0)
            }),
        ] {
            setUp()
            var queue = try makeQueue()
            layout(ring)
            ring.makeAvailable(0)
            XCTAssertEqual(nextChainError(&queue), .chainTooLong(limit: 8, indirect: false), name)
        }
    }

    func testALongestLegalChainIsAccepted() throws {
        var queue = try makeQueue()
        for index in UInt16(0)..<8 {
            ring.setDescriptor(index, address: 0x10000, length: 1, flags: index < 7 ? Desc.next : 0, next: index + 1)
        }
        ring.makeAvailable(0)
        XCTAssertEqual(try queue.nextChain()?.segments.count, 8)
    }

    func testBuffersOutsideGuestRAM() throws {
        for (address, length) in [(UInt64(0x10_0000), UInt32(1)), (0xF_FFFF, 2), (0x10000, UInt32.max),
                                  (UInt64.max - 7, 16)] {
            setUp()
            var queue = try makeQueue()
            ring.setDescriptor(0, address: address, length: length, flags: Desc.write)
            ring.makeAvailable(0)
            XCTAssertEqual(nextChainError(&queue), .bufferOutOfRange(GuestAddress(address), length: length))
        }
    }

    func testChainOverFourGiBInTotalIsRefused() throws {
        // 2 GiB of reserved-only RAM: three descriptors over it make 6 GiB.
        let big: GuestMemory
        do {
            big = try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 1 << 31)!])
        } catch {
            throw XCTSkip("cannot reserve 2 GiB of address space: \(error)")
        }
        let ring = FakeGuestRing(memory: big, size: 4)
        var queue = try VirtQueue(size: 4, deviceMaxSize: 4, addresses: ring.addresses, features: 0, memory: big)
        for index in UInt16(0)..<3 {
            ring.setDescriptor(index, address: 0, length: 0x8000_0000, flags: index < 2 ? Desc.next : 0, next: index + 1)
        }
        var driver = ring
        driver.makeAvailable(0)
        XCTAssertThrowsError(try queue.nextChain()) { XCTAssertEqual($0 as? VirtQueueError, .chainTooLarge) }
    }

    func testReadableAfterWritableIsRefused() throws {
        var queue = try makeQueue()
        ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
        ring.setDescriptor(1, address: 0x11000, length: 4, flags: 0)
        ring.makeAvailable(0)
        XCTAssertEqual(nextChainError(&queue), .readableAfterWritable(index: 1))
    }

    func testNextAndHeadBeyondTheTable() throws {
        var queue = try makeQueue()
        ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.next, next: 8)
        ring.makeAvailable(0)
        XCTAssertEqual(nextChainError(&queue), .descriptorIndexOutOfRange(8, tableSize: 8, indirect: false))

        setUp()
        queue = try makeQueue()
        ring.makeAvailable(200)
        XCTAssertEqual(nextChainError(&queue), .headOutOfRange(200, size: 8))
    }

    func testIndirectRuleBreaking() throws {
        let table: UInt64 = 0x20000
        let cases: [(String, VirtQueueError, (FakeGuestRing) -> Void)] = [
            ("indirect inside indirect", .nestedIndirect, { ring in
                ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect)
                ring.setDescriptor(0, address: 0x30000, length: 16, flags: Desc.indirect, table: table)
            }),
            ("indirect with next", .indirectWithNext, { ring in
                ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect | Desc.next, next: 1)
            }),
            ("length not a multiple of 16", .badIndirectLength(24), { ring in
                ring.setDescriptor(0, address: table, length: 24, flags: Desc.indirect)
            }),
            ("empty table", .badIndirectLength(0), { ring in
                ring.setDescriptor(0, address: table, length: 0, flags: Desc.indirect)
            }),
            ("more entries than next can reach", .badIndirectLength(16 << 16 + 16), { ring in
                ring.setDescriptor(0, address: table, length: 16 << 16 + 16, flags: Desc.indirect)
            }),
            ("table outside RAM", .indirectTableOutOfRange(GuestAddress(0xFFFF0), length: 32), { ring in
                ring.setDescriptor(0, address: 0xFFFF0, length: 32, flags: Desc.indirect)
            }),
            ("loop inside the table", .chainTooLong(limit: 2, indirect: true), { ring in
                ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect)
                ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.next, next: 1, table: table)
                ring.setDescriptor(1, address: 0x10000, length: 1, flags: Desc.next, next: 0, table: table)
            }),
            ("next beyond the table", .descriptorIndexOutOfRange(2, tableSize: 2, indirect: true), { ring in
                ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect)
                ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.next, next: 2, table: table)
            }),
        ]
        for (name, expected, layout) in cases {
            setUp()
            var queue = try makeQueue()
            layout(ring)
            ring.makeAvailable(0)
            XCTAssertEqual(nextChainError(&queue), expected, name)
        }

        setUp()
        var withoutFeature = try makeQueue(features: Feature.version1)
        ring.setDescriptor(0, address: table, length: 32, flags: Desc.indirect)
        ring.makeAvailable(0)
        XCTAssertEqual(nextChainError(&withoutFeature), .indirectNotNegotiated)
    }

    func testAvailableIndexJumpingPastTheQueueSize() throws {
        var queue = try makeQueue()
        ring.publishAvailableIndex(9)
        XCTAssertEqual(nextChainError(&queue), .availableIndexJumped(from: 0, to: 9, size: 8))
        ring.publishAvailableIndex(0xFFFF)  // "minus one": also a jump, not a rewind
        XCTAssertEqual(nextChainError(&queue), .availableIndexJumped(from: 0, to: 0xFFFF, size: 8))
    }

    func testBadSizesAndRingPlacements() throws {
        for size: UInt16 in [0, 3, 6, 512, 0x8001, 0xFFFF] {
            XCTAssertThrowsError(try VirtQueue(size: size, deviceMaxSize: 256, addresses: ring.addresses,
                                               features: 0, memory: memory), "size \(size)")
        }
        let good = ring.addresses
        var misaligned = good
        misaligned.descriptorTable = GuestAddress(good.descriptorTable.raw + 8)
        var outside = good
        outside.usedRing = GuestAddress(0x10_0000 - 8)
        var wrapping = good
        wrapping.availableRing = GuestAddress(UInt64.max - 1)
        for (addresses, expected) in [
            (misaligned, VirtQueueError.areaMisaligned(.descriptorTable, misaligned.descriptorTable, alignment: 16)),
            (outside, .areaOutOfRange(.usedRing, outside.usedRing, length: 6 + 8 * 8)),
            (wrapping, .areaOutOfRange(.availableRing, wrapping.availableRing, length: 6 + 2 * 8)),
        ] {
            XCTAssertThrowsError(try VirtQueue(size: 8, deviceMaxSize: 8, addresses: addresses, features: 0,
                                               memory: memory)) { XCTAssertEqual($0 as? VirtQueueError, expected) }
        }
    }

    func testIndicesWrapAroundSixteenBits() throws {
        var queue = try makeQueue()
        ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.write)
        for round in 0..<70_000 {
            ring.makeAvailable(0)
            guard let chain = try queue.nextChain() else { return XCTFail("no chain in round \(round)") }
            try queue.addUsed(head: chain.head, writtenLength: 1)
        }
        XCTAssertEqual(ring.usedIndex, UInt16(truncatingIfNeeded: 70_000))
        XCTAssertNil(try queue.nextChain())
    }

    func testNoInterruptFlagWithoutEventIndex() throws {
        var queue = try makeQueue(features: Feature.version1)
        ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.write)
        XCTAssertFalse(try queue.needsNotification(), "nothing used yet")
        ring.makeAvailable(0)
        try queue.addUsed(head: try XCTUnwrap(try queue.nextChain()).head, writtenLength: 1)
        XCTAssertTrue(try queue.needsNotification())
        XCTAssertFalse(try queue.needsNotification(), "nothing new since")

        ring.setAvailableFlags(1)  // VIRTQ_AVAIL_F_NO_INTERRUPT
        ring.makeAvailable(0)
        try queue.addUsed(head: try XCTUnwrap(try queue.nextChain()).head, writtenLength: 1)
        XCTAssertFalse(try queue.needsNotification())
    }

    func testEventIndexBothWays() throws {
        var queue = try makeQueue()
        ring.setDescriptor(0, address: 0x10000, length: 1, flags: Desc.write)
        ring.setAvailableFlags(1)  // ignored once EVENT_IDX is negotiated

        // Finding the ring empty asks for a notification at the next index.
        XCTAssertNil(try queue.nextChain())
        XCTAssertEqual(ring.availableEvent, 0)

        // The driver wants an interrupt only once used index 3 is passed.
        ring.setUsedEvent(2)
        var notified: [Bool] = []
        for _ in 0..<4 {
            ring.makeAvailable(0)
            try queue.addUsed(head: try XCTUnwrap(try queue.nextChain()).head, writtenLength: 1)
            notified.append(try queue.needsNotification())
        }
        XCTAssertEqual(notified, [false, false, true, false])
        XCTAssertNil(try queue.nextChain())
        XCTAssertEqual(ring.availableEvent, 4)

        // A batch that crosses used_event notifies once.
        ring.setUsedEvent(5)
        for _ in 0..<3 {
            ring.makeAvailable(0)
            try queue.addUsed(head: try XCTUnwrap(try queue.nextChain()).head, writtenLength: 1)
        }
        XCTAssertTrue(try queue.needsNotification())
    }
}
