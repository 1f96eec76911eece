import LKVMDevices
import XCTest

final class ByteQueueTests: XCTestCase {
    func testFirstInFirstOutAcrossTheWrap() {
        var queue = ByteQueue(capacity: 4)
        XCTAssertEqual(queue.append(contentsOf: [1, 2, 3]), 3)
        XCTAssertEqual(queue.popFirst(), 1)
        XCTAssertEqual(queue.popFirst(), 2)
        XCTAssertEqual(queue.append(contentsOf: [4, 5, 6, 7]), 3, "only the room left fits")
        XCTAssertEqual(queue.room, 0)
        var drained: [UInt8] = []
        while let byte = queue.popFirst() { drained.append(byte) }
        XCTAssertEqual(drained, [3, 4, 5, 6])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.popFirst())
    }

    func testRemoveAllEmptiesAndRestoresRoom() {
        var queue = ByteQueue(capacity: 2)
        _ = queue.append(contentsOf: [9, 9])
        queue.removeAll()
        XCTAssertEqual(queue.count, 0)
        XCTAssertEqual(queue.room, 2)
        XCTAssertEqual(queue.append(contentsOf: []), 0)
    }
}
