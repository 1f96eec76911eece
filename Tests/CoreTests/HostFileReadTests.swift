import Foundation
@testable import LKVMCore
import XCTest

final class HostFileReadTests: XCTestCase {
    func testAFileIsReadWhole() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lkvm-read-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try HostFile.read(path, limit: 1 << 20), bytes)
        XCTAssertThrowsError(try HostFile.read(path, limit: 199_999)) { XCTAssertEqual($0 as? HostFileError, .tooLarge(limit: 199_999)) }
        XCTAssertEqual(try HostFile.read(path, limit: 200_000).count, 200_000, "exactly the limit is fine")
    }

    /// /proc files say size 0 in fstat and still have bytes: the read must
    /// go on past the size it was told, and stop at the limit.
    func testFilesLongerThanTheirStatSizeAreReadOnToTheirEndOrTheLimit() throws {
        let status = try HostFile.read("/proc/self/status", limit: 1 << 20)
        XCTAssertTrue(String(decoding: status, as: UTF8.self).contains("VmRSS:"))
        XCTAssertThrowsError(try HostFile.read("/proc/self/status", limit: 64)) {
            XCTAssertEqual($0 as? HostFileError, .tooLarge(limit: 64))
        }
    }
}
